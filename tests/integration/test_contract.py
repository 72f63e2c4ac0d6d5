"""schemathesis against the running service (chalice local on DynamoDB Local): generated
requests for every documented operation, each response checked against openapi.json.

A protected operation (documented with `security`) gets real sessions too, so its success
responses are checked as well, by either scheme (the session cookie, or the same session's
token in `Authorization: Bearer`, in turn): a quarter of its examples carry the session of a
fresh account and keep their generated body; another quarter carry the session of an account
in one of the two-factor states below, with the right password, a right code from its app, and its
passkey's id and answers (a software passkey, tests.softkey) filled in. A quarter of the
passkey sign-ins answer a real challenge with a registered passkey in the same way, and a
quarter of the code sign-ins (and of the re-authentications) carry a code read from the
outbox. A quarter of the organizations' examples carry the session of an organization's owner
(or, to leave or to accept, of its invited member), with the organization's, the member's and
the invitation's real ids and the invitation's token filled in.
"""

from __future__ import annotations

import json
import time
import uuid
from itertools import count
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chalicelib import runtime
from chalicelib.openapi import DOCUMENT
from chalicelib.totp import PERIOD
from devtools.admin import change_roles
from devtools.oidc_local import sign_in
from tests.helpers import PASSWORD, Browser, sign_up_over_http
from tests.softkey import SoftKey

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test

EXAMPLES_PER_OPERATION = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
RAW = json.loads(DOCUMENT.read_text())
OPERATIONS = [(path, method) for path, item in RAW["paths"].items() for method in item]

PASSKEY_NAME = "Contract passkey"

# What a signed-in example's account has been through: signed up; began adding an
# authenticator app; turned it on (this session gave the second factor); turned it on, then
# signed in again (this session still owes the second factor); added a passkey, then signed
# in with it (for 5 minutes this session may change passkeys without the password); added a
# passkey, then signed in again with the password (this session owes the second factor).
PLAIN, PENDING, ON, OWED = "plain", "pending", "on", "owed"
PASSKEY, PASSKEY_OWED = "passkey", "passkey-owed"
CONNECTED = "connected"  # a verified account with the local provider's sign-in linked
STATES = (PLAIN, PENDING, ON, OWED, PASSKEY, PASSKEY_OWED, CONNECTED)
# For the admin's operations: an admin (the role granted as devtools.admin does) whose session
# turned on its authenticator app a moment ago (a second factor given, re-authenticated).
ADMIN = "admin"


class Account(NamedTuple):
    browser: Browser  # with the account's session cookie
    totp_secret: str | None  # pending or on
    key: SoftKey | None  # the account's passkey
    email: str
    identity: str | None = None  # the linked identity's id

    @property
    def cookie(self) -> str:
        return self.browser.cookies["auth_session"]


def open_account(live_server: Any, state: str) -> Account:
    """A fresh account in `state` (some operations end the session or the account)."""
    url = live_server.url
    email = f"contract-{uuid.uuid4().hex[:12]}@example.com"
    credentials = {"email": email, "password": PASSWORD}
    # Every other state adds a way in, which takes a verified address.
    browser = sign_up_over_http(live_server, email, verified=state != PLAIN)
    if state == PLAIN:
        return Account(browser, None, None, email)
    if state == CONNECTED:
        social = Browser()  # the provider's sign-in, linked to the account by its email
        assert social.get(provider_callback(live_server, social, email)).status_code == 200
        (identity,) = browser.get(f"{url}/auth/identities").json()["identities"]
        return Account(browser, None, None, email, identity["id"])
    if state in (PASSKEY, PASSKEY_OWED):
        key = SoftKey(origin=url, rp_id="localhost")  # the server's public origin
        registered = browser.post(
            f"{url}/auth/passkeys/register",
            json={"credential": key.create(creation_options(url, browser)), "name": PASSKEY_NAME},
        )
        assert registered.status_code == 201, registered.text
        again = Browser()
        if state == PASSKEY:
            login = again.post(
                f"{url}/auth/passkeys/login",
                json={"credential": key.get(sign_in_options(url, again))},
            )
            assert login.status_code == 200, login.text
        else:
            login = again.post(f"{url}/auth/login", json=credentials)
            assert login.status_code == 200, login.text
            assert login.json()["two_factor_required"]
        return Account(again, None, key, email)
    setup = browser.post(f"{url}/auth/2fa/totp/setup", json={"password": PASSWORD})
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    if state == PENDING:
        return Account(browser, secret, None, email)
    # This step is used up: an example's code is the next step's, which the service accepts.
    code = pyotp.TOTP(secret).now()
    if state == ADMIN:
        services = runtime.get()
        change_roles(services.store, services.settings, email, add=("admin",), remove_all=False)
    enabled = browser.post(f"{url}/auth/2fa/totp/enable", json={"code": code})
    assert enabled.status_code == 200, enabled.text
    if state in (ON, ADMIN):
        return Account(browser, secret, None, email)
    again = Browser()
    login = again.post(f"{url}/auth/login", json=credentials)
    assert login.status_code == 200, login.text
    assert login.json()["two_factor_required"]
    return Account(again, secret, None, email)


def provider_callback(live_server: Any, browser: Browser, email: str) -> str:
    """The local OpenID Provider's redirect back to us after `email` signed in there; the
    browser holds the attempt's cookie."""
    started = browser.get(f"{live_server.url}/auth/oauth/local", allow_redirects=False)
    assert started.status_code == 303, started.text
    return sign_in(browser, started.headers["Location"], email, live_server.url)


def answer_a_real_callback(case: Any, live_server: Any) -> None:
    """The code, state and iss of a real sign-in at the local provider, with its cookie."""
    browser = Browser()
    callback = provider_callback(live_server, browser, f"social-{uuid.uuid4().hex[:8]}@example.com")
    case.path_parameters["provider"] = "local"
    case.query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    case.cookies = {**case.cookies, "oauth_attempt": browser.cookies["oauth_attempt"]}


def creation_options(url: str, browser: Browser) -> dict[str, Any]:
    options = browser.post(f"{url}/auth/passkeys/register/options", json={"password": PASSWORD})
    assert options.status_code == 200, options.text
    return options.json()


def sign_in_options(url: str, browser: Browser) -> dict[str, Any]:
    """Options for a passkey sign-in; the browser keeps the passkey_attempt cookie."""
    options = browser.post(f"{url}/auth/passkeys/login/options")
    assert options.status_code == 200, options.text
    return options.json()


def present(case: Any, account: Account, *, bearer: bool) -> None:
    """The account's session by one scheme or the other (a bearer token wins over any
    generated cookie, as it would for a real client)."""
    if bearer:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {account.cookie}"}
    else:
        case.cookies = {**case.cookies, "auth_session": account.cookie}


def body_fields(definition: dict[str, Any]) -> set[str]:
    """The fields the operation's request body documents."""
    for media in definition.get("requestBody", {}).get("content", {}).values():
        schema = media["schema"]
        if "$ref" in schema:
            schema = RAW["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        return set(schema.get("properties", {}))
    return set()


def fill_in_secrets(case: Any, fields: set[str], account: Account, live_server: Any) -> None:
    """The account's password, a code its app would show, its passkey's id, a valid passkey
    name, and a passkey's answer to this session's challenge, where the request asks for them;
    a re-authentication gets the password or a mailed code, one of the two."""
    url = live_server.url
    if account.key is not None and "passkey_id" in case.path_parameters:
        case.path_parameters["passkey_id"] = account.key.id
    if account.identity is not None and "identity_id" in case.path_parameters:
        case.path_parameters["identity_id"] = account.identity
    body = case.body
    if not isinstance(body, dict):
        return
    if case.path in ("/auth/reauthenticate", "/settings/reauthenticate"):
        body.pop("password", None)
        asked = account.browser.post(f"{url}/auth/reauthenticate/code")
        if asked.status_code == 202:
            body["code"] = live_server.outbox.code(account.email)
        if case.path == "/auth/reauthenticate" and "code" not in body:
            body["password"] = PASSWORD
        return
    for name in fields & {"password", "current_password"}:
        body[name] = PASSWORD
    if "code" in fields and account.totp_secret is not None:
        body["code"] = pyotp.TOTP(account.totp_secret).at(time.time() + PERIOD)
    if "name" in fields:
        body["name"] = PASSKEY_NAME
    if "passkey_id" in fields and account.key is not None:
        body["passkey_id"] = account.key.id
    if "identity_id" in fields and account.identity is not None:
        body["identity_id"] = account.identity
    if "credential" in fields:
        credential = passkey_answer(case.path, account, url)
        if credential is not None:
            body["credential"] = credential


def passkey_answer(path: str, account: Account, url: str) -> dict[str, Any] | None:
    """A passkey's answer to the challenge this session asks `path`'s options for: a new
    passkey, or the account's own for its second step. None where the session gets none."""
    if path == "/auth/passkeys/register":
        options = account.browser.post(
            f"{url}/auth/passkeys/register/options", json={"password": PASSWORD}
        )
        key = SoftKey(origin=url, rp_id="localhost")
        return key.create(options.json()) if options.status_code == 200 else None
    if path == "/auth/2fa/passkey" and account.key is not None:
        options = account.browser.post(f"{url}/auth/2fa/passkey/options")
        return account.key.get(options.json()) if options.status_code == 200 else None
    return None


def act_on_a_user(case: Any, fields: set[str], live_server: Any) -> None:
    """An admin operation on a real user (a fresh account), with what its body needs to
    succeed: a reason, a role that exists, the box ticked, the admin's password."""
    if "user_id" in case.path_parameters:
        target = open_account(live_server, PLAIN)
        session = target.browser.get(f"{live_server.url}/auth/session").json()
        case.path_parameters["user_id"] = session["user"]["id"]
    body = case.body
    if not isinstance(body, dict):
        return
    wanted = {
        "reason": "contract",
        "roles": ["support"],
        "role": "support",
        "confirm": "yes",
        "password": PASSWORD,
    }
    body.update({name: value for name, value in wanted.items() if name in fields})
    body.pop("until", None)


def act_in_an_organization(case: Any, live_server: Any, bearer: bool) -> None:
    """An organization operation's success path: a fresh organization whose owner's session it
    carries, with a member (or an invitation) where the operation needs one, and what its body
    needs to succeed. Leaving and accepting carry the member's session instead."""
    url = live_server.url
    email = f"contract-{uuid.uuid4().hex[:12]}@example.com"
    owner = sign_up_over_http(live_server, email)
    slug = f"contract-{uuid.uuid4().hex[:12]}"
    created = owner.post(f"{url}/orgs", json={"name": "Contract", "slug": slug})
    assert created.status_code == 201, created.text
    org_id = created.json()["organization"]["id"]
    acting = Account(owner, None, None, email)
    path = case.path
    if "org_id" in case.path_parameters:
        case.path_parameters["org_id"] = org_id
    guest = f"contract-guest-{uuid.uuid4().hex[:12]}@example.com"
    if path in (
        "/orgs/{org_id}/members/{user_id}",
        "/orgs/{org_id}/leave",
        "/orgs/{org_id}/invitations/{invitation_id}",
        "/orgs/invitations/accept",
    ):
        sent = owner.post(
            f"{url}/orgs/{org_id}/invitations", json={"email": guest, "role": "member"}
        )
        assert sent.status_code == 201, sent.text
        token = live_server.outbox.link(guest).split("token=", 1)[1]
        if "invitation_id" in case.path_parameters:
            case.path_parameters["invitation_id"] = sent.json()["invitation"]["id"]
        else:
            member = sign_up_over_http(live_server, guest)
            if path == "/orgs/invitations/accept":
                acting = Account(member, None, None, guest)
                if isinstance(case.body, dict):
                    case.body["token"] = token
            else:
                joined = member.post(f"{url}/orgs/invitations/accept", json={"token": token})
                assert joined.status_code == 200, joined.text
                if path == "/orgs/{org_id}/leave":
                    acting = Account(member, None, None, guest)
                else:
                    member_id = member.get(f"{url}/auth/session").json()["user"]["id"]
                    case.path_parameters["user_id"] = member_id
    if path == "/orgs/{org_id}/members":
        case.query = {}  # a generated cursor is one this listing never gave
    if isinstance(case.body, dict):
        wanted = {"name": "Contract renamed", "slug": f"contract-{uuid.uuid4().hex[:12]}"}
        wanted |= {"email": f"contract-new-{uuid.uuid4().hex[:12]}@example.com", "role": "admin"}
        fields = set(case.body) | ({"slug"} if path == "/orgs" else set())
        case.body.update({name: value for name, value in wanted.items() if name in fields})
    present(case, acting, bearer=bearer)


def sign_in_with_a_mailed_code(case: Any, live_server: Any) -> None:
    """A code mailed to a fresh address, read from the outbox, with that address."""
    email = f"contract-code-{uuid.uuid4().hex[:12]}@example.com"
    asked = Browser().post(f"{live_server.url}/auth/login/code", json={"email": email})
    assert asked.status_code == 202, asked.text
    if isinstance(case.body, dict):
        case.body.update(email=email, code=live_server.outbox.code(email))


def sign_in_with_a_passkey(case: Any, live_server: Any) -> None:
    """A registered passkey's answer to a sign-in challenge, with the cookie that binds it."""
    account = open_account(live_server, PASSKEY_OWED)  # the lighter: one challenge asked
    url = live_server.url
    visitor = Browser()
    case.body["credential"] = account.key.get(sign_in_options(url, visitor))
    case.cookies = {**case.cookies, "passkey_attempt": visitor.cookies["passkey_attempt"]}


@pytest.mark.parametrize(
    ("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS]
)
def test_every_operation_keeps_its_contract(path, method, live_server, configure):
    # Thousands of accounts from one address in an hour: a company behind one NAT.
    configure(SIGNUP_IP_MAX="1000000")
    operation = schemathesis.openapi.from_path(str(DOCUMENT))[path][method]
    definition = operation.definition.raw
    protected = "security" in definition
    fields = body_fields(definition)
    examples = count()

    # The same examples on every run (derandomize): CI stays reproducible. No deadline: a
    # sign-up hashes a password with Argon2, tens of milliseconds.
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case):
        # Half the examples of a protected operation keep whatever cookie was generated.
        n = next(examples)
        bearer = n // 4 % 2 == 1  # every other signed-in example: the token transport
        if protected and n % 4 == 0:
            present(case, open_account(live_server, PLAIN), bearer=bearer)
        elif path.startswith("/orgs") and n % 4 == 2:
            act_in_an_organization(case, live_server, bearer)
        elif path.startswith("/admin") and n % 4 == 2:
            present(case, open_account(live_server, ADMIN), bearer=bearer)
            act_on_a_user(case, fields, live_server)
        elif protected and n % 4 == 2:
            account = open_account(live_server, STATES[n // 4 % len(STATES)])
            present(case, account, bearer=bearer)
            fill_in_secrets(case, fields, account, live_server)
        elif path == "/auth/passkeys/login" and n % 4 == 2:
            sign_in_with_a_passkey(case, live_server)
        elif path in ("/auth/login/code/verify", "/login/code/verify") and n % 4 == 2:
            sign_in_with_a_mailed_code(case, live_server)
        elif path == "/auth/oauth/{provider}" and n % 4 == 2:
            case.path_parameters["provider"] = "local"
        elif path == "/auth/oauth/{provider}/callback" and n % 4 == 2:
            answer_a_real_callback(case, live_server)
        case.call_and_validate(base_url=live_server.url, checks=CHECKS)

    check()
