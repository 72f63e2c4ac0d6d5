"""Proof of an account's mailbox (flows.mailbox), through the routes on moto: the pre-account
takeover that a first proof must undo, on every path that can first prove an address, and
the one place every route that marks an address verified goes through."""

from __future__ import annotations

import ast
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from chalicelib import onetime, totp
from chalicelib.errors import TwoFactorAlreadyOn
from chalicelib.onetime import Purpose
from chalicelib.store.identities import IdentityRecord, identity_id
from chalicelib.store.passkeys import PasskeyRecord
from chalicelib.store.secrets import StoredSecret
from tests import helpers
from tests.conftest import table_items
from tests.helpers import ANN, NEW_PASSWORD, PASSWORD, assert_error, call, log_in, sign_up
from tests.softkey import SoftKey

CHALICELIB = Path(__file__).resolve().parent.parent / "chalicelib"
SQUATTER_ISSUER = "https://untrusted.example"


def items(dynamodb, settings, prefix=""):
    return [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"].startswith(prefix)
    ]


def user_id_of(client, token):
    return call(client, "GET", "/auth/session", token=token).json_body["user"]["id"]


def plant(services, clock, user_id):
    """Every way in a squatter could have set up on Ann's unverified account, written by the
    store's own writes: an authenticator app with recovery codes, a passkey, a provider
    identity (one made at sign-up by an untrusted provider, say, or before unverified
    accounts were refused them), and an email-change code to their own address."""
    store = services.store
    secret = totp.new_secret()
    sealed = services.keys.keyring.encrypt(secret, f"totp:{user_id}")
    until = clock.now() + 600
    store.table.commit(store.twofactor.begin(user_id, sealed, until, TwoFactorAlreadyOn))
    (state,) = store.table.read(store.accounts.user(user_id))
    codes = ["AAAA-BBBB-CCCC"]
    digests = [onetime.digest(onetime.RECOVERY_CODE, user_id, "AAAABBBBCCCC")]
    step = totp.step_of(clock.now())
    store.table.commit(
        store.twofactor.enable(state, step, digests),
        store.accounts.update_claim(user_id, ANN, two_factor=True),
    )
    store.table.commit(store.passkeys.first_handle(user_id, "squatters-handle"))
    (account,) = store.table.read(store.accounts.user(user_id))
    key = SoftKey()
    passkey = PasskeyRecord(
        key.id, user_id, b"public key", 0, [], "single_device", False, "", "Theirs", 1, 1
    )
    store.table.commit(*store.passkeys.add(account, passkey, "squatters-handle"))
    identity = IdentityRecord(
        identity_id(SQUATTER_ISSUER, "squatter"),
        user_id,
        "untrusted",
        SQUATTER_ISSUER,
        "squatter",
        ANN,
        1,
        1,
    )
    store.table.commit(*store.identities.link(identity))
    change = onetime.digest(Purpose.CHANGE_EMAIL, user_id, "SQUATTER")
    store.table.commit(
        store.secrets.put(
            Purpose.CHANGE_EMAIL,
            user_id,
            StoredSecret(change, until, new_email="squatter@evil.example"),
        )
    )
    return secret, codes


def assert_nothing_of_the_squatter_is_left(client, dynamodb, settings, squatter, audit):
    (account,) = items(dynamodb, settings, "USER#")
    gone = {"totp_secret", "recovery_codes", "passkeys", "identities", "totp_last_step"}
    assert not gone & set(account)
    assert (account["email_verified"], account["two_factor"]) == ({"BOOL": True}, {"BOOL": False})
    (claim,) = items(dynamodb, settings, "EMAIL#")
    assert (claim["email_verified"], claim["two_factor"]) == ({"BOOL": True}, {"BOOL": False})
    assert items(dynamodb, settings, "PASSKEY#") == []
    assert items(dynamodb, settings, "IDENTITY#") == []
    assert items(dynamodb, settings, "SECRET#change_email#") == []
    assert len(items(dynamodb, settings, "SESSION#")) == 1  # the prover's own, nobody else's
    assert_error(call(client, "GET", "/auth/session", token=squatter), 401, "unauthenticated")
    assert_error(log_in(client), 401, "invalid_credentials")  # the squatter's password
    removed = next(line for line in audit.lines if line["event"] == "unproven_credentials_removed")
    assert {k: removed[k] for k in ("password", "totp", "passkeys", "identities")} == {
        "password": 1,
        "totp": 1,
        "passkeys": 1,
        "identities": 1,
    }


@pytest.fixture
def squatter(client, services, clock):
    """Someone signed up with Ann's address and a password of theirs, set up every other way
    in, and stayed signed in."""
    token = sign_up(client, verified=False)
    plant(services, clock, user_id_of(client, token))
    helpers.SesMailbox().messages()  # the squatter's verification code went to Ann; she ignored it
    return token


# -- every path that can first prove an address ------------------------------------------------


def test_a_code_sign_in_first_proving_the_address_removes_everything_set_up_before(
    client, mailbox, dynamodb, settings, squatter, audit
):
    assert call(client, "POST", "/auth/login/code", {"email": ANN}).status_code == 202
    body = {"email": ANN, "code": mailbox.code(ANN)}
    response = call(client, "POST", "/auth/login/code/verify", body)
    assert response.status_code == 200, response.body
    assert response.json_body["two_factor_required"] is False  # the app was not Ann's
    user = response.json_body["user"]
    assert (user["email_verified"], user["two_factor_enabled"]) == (True, False)
    assert user["has_password"] is False
    assert_nothing_of_the_squatter_is_left(client, dynamodb, settings, squatter, audit)
    (claim,) = items(dynamodb, settings, "EMAIL#")
    assert "password_hash" not in claim
    token = helpers.session_token(response)
    assert call(client, "GET", "/trainings", token=token).status_code == 200


def test_a_reset_first_proving_the_address_removes_everything_and_asks_no_second_factor(
    client, mailbox, dynamodb, settings, squatter, audit
):
    """The owner, locked out by `409 email_taken`, does what anyone does: "Forgot your
    password?". The squatter's authenticator app does not stand in her way."""
    assert call(client, "POST", "/auth/password-reset", {"email": ANN}).status_code == 202
    token = parse_qs(urlsplit(mailbox.link(ANN)).query)["token"][0]
    body = {"token": token, "new_password": NEW_PASSWORD}
    response = call(client, "POST", "/auth/password-reset/confirm", body)
    assert response.status_code == 200, response.body
    user = response.json_body["user"]
    assert (user["email_verified"], user["two_factor_enabled"], user["has_password"]) == (
        True,
        False,
        True,
    )
    assert_nothing_of_the_squatter_is_left(client, dynamodb, settings, squatter, audit)
    signed_in = log_in(client, password=NEW_PASSWORD)
    assert signed_in.status_code == 200
    assert signed_in.json_body["two_factor_required"] is False


def test_a_reset_of_a_verified_account_still_needs_its_second_factor(client, mailbox, clock):
    token = sign_up(client)
    setup = call(client, "POST", "/auth/2fa/totp/setup", {"password": PASSWORD}, token)
    secret = setup.json_body["secret"]
    code = {"code": pyotp.TOTP(secret).at(clock.now())}
    assert call(client, "POST", "/auth/2fa/totp/enable", code, token).status_code == 200
    assert call(client, "POST", "/auth/password-reset", {"email": ANN}).status_code == 202
    link = parse_qs(urlsplit(mailbox.link(ANN)).query)["token"][0]
    body = {"token": link, "new_password": NEW_PASSWORD}
    refused = call(client, "POST", "/auth/password-reset/confirm", body)
    assert_error(refused, 400, "second_factor_missing")


# -- a race with the proof -----------------------------------------------------------------------


def test_a_way_in_added_between_the_proofs_read_and_its_write_fails_the_proof(
    client, mailbox, services, dynamodb, settings
):
    """Deterministically, the interleaving a concurrency test can only hope for: an identity
    linked right after the proof read the account. The proof fails (503, nothing written);
    tried again, it removes that identity too."""
    squatter = sign_up(client, verified=False)
    user_id = user_id_of(client, squatter)
    store = services.store
    assert call(client, "POST", "/auth/login/code", {"email": ANN}).status_code == 202
    body = {"email": ANN, "code": helpers.SesMailbox().code(ANN)}
    real_read = store.table.read
    identity = IdentityRecord(
        identity_id(SQUATTER_ISSUER, "late"), user_id, "untrusted", SQUATTER_ISSUER, "late",
        ANN, 1, 1,
    )  # fmt: skip

    def read_then_link(*reads):
        records = real_read(*reads)
        if any(read.pk.startswith("USER#") for read in reads):
            store.table.read = real_read
            store.table.commit(*store.identities.link(identity))  # the squatter, meanwhile
        return records

    store.table.read = read_then_link
    raced = call(client, "POST", "/auth/login/code/verify", body)
    assert_error(raced, 503, "service_unavailable")
    (claim,) = items(dynamodb, settings, "EMAIL#")
    assert claim["email_verified"] == {"BOOL": False}  # nothing written
    retried = call(client, "POST", "/auth/login/code/verify", body)
    assert retried.status_code == 200, retried.body
    assert items(dynamodb, settings, "IDENTITY#") == []
    (account,) = items(dynamodb, settings, "USER#")
    assert "identities" not in account


# -- what an unverified account cannot add --------------------------------------------------------


def test_an_unverified_account_cannot_turn_on_an_app_or_add_a_passkey(client):
    token = sign_up(client, verified=False)
    body = {"password": PASSWORD}
    for path in ("/auth/2fa/totp/setup", "/auth/passkeys/register/options"):
        assert_error(call(client, "POST", path, body, token), 403, "email_unverified")
    # What comes after the options is refused as well, whatever the client sends.
    answer = {"credential": {"id": "x", "rawId": "x", "response": {}}, "name": "Mine"}
    refused = call(client, "POST", "/auth/passkeys/register", answer, token)
    assert_error(refused, 403, "email_unverified")
    refused = call(client, "POST", "/auth/2fa/totp/enable", {"code": "123456"}, token)
    assert_error(refused, 403, "email_unverified")


def test_the_settings_page_says_to_verify_before_adding_a_way_in(client):
    token = sign_up(client, verified=False)
    page = client.http.get("/settings", headers={"Cookie": f"auth_session={token}"})
    body = page.body.decode()
    assert 'id="verify-first"' in body
    assert 'action="/settings/2fa/setup"' not in body


# -- one place marks an address verified ----------------------------------------------------------

# Every route whose handler can reach a write that marks an address verified: flows.mailbox's
# `prove` (both kinds of proof), a new account made verified (a code sign-up, a trusted
# provider's verified email), and an email change to a proven address.
VERIFYING = {"prove", "register_proven", "register_with_identity", "move_claim"}
ROUTES_THAT_VERIFY = {
    ("POST", "/auth/email/verify"),
    ("POST", "/verify-email"),
    ("POST", "/auth/login/code/verify"),
    ("POST", "/login/code/verify"),
    ("POST", "/auth/password-reset/confirm"),
    ("POST", "/reset-password"),
    ("POST", "/auth/email/confirm"),
    ("POST", "/settings/email/confirm"),
    ("GET", "/auth/oauth/{provider}/callback"),
}


def _functions() -> dict[str, list[ast.FunctionDef]]:
    """Every function and method of chalicelib by name (nested ones count as their parent);
    a private name (`_take`) is its own module's alone, so it is keyed `module:name`."""
    found: dict[str, list[ast.FunctionDef]] = {}
    for path in CHALICELIB.rglob("*.py"):
        module = path.relative_to(CHALICELIB).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            members = node.body if isinstance(node, ast.ClassDef) else [node]
            for member in members:
                if isinstance(member, ast.FunctionDef):
                    member.module = module  # type: ignore[attr-defined]
                    found.setdefault(_key(module, member.name), []).append(member)
    return found


def _key(module: str, name: str) -> str:
    return f"{module}:{name}" if name.startswith("_") else name


def _called(function: ast.FunctionDef) -> set[str]:
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                names.add(node.func.attr)
            elif isinstance(node.func, ast.Name):
                names.add(node.func.id)
    module = function.module  # type: ignore[attr-defined]
    return {_key(module, name) for name in names}


def _route(function: ast.FunctionDef) -> set[tuple[str, str]]:
    routes = set()
    for decorator in function.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and isinstance(decorator.func, ast.Attribute)
            and decorator.func.attr == "route"
        ):
            path = ast.literal_eval(decorator.args[0])
            methods = next(k.value for k in decorator.keywords if k.arg == "methods")
            routes |= {(method, path) for method in ast.literal_eval(methods)}
    return routes


def test_every_route_that_can_mark_an_address_verified_is_listed():
    """Reachability by name over chalicelib's call graph: a route added later that proves an
    address without going through flows.mailbox (or makes a verified account) shows up here,
    and must be added on purpose."""
    functions = _functions()
    reaching = set(VERIFYING)
    while True:
        more = {
            name
            for name, defs in functions.items()
            if name not in reaching and any(_called(d) & reaching for d in defs)
        }
        if not more:
            break
        reaching |= more
    routes = {
        route
        for name in reaching
        for function in functions.get(name, [])
        for route in _route(function)
    }
    assert routes == ROUTES_THAT_VERIFY


def test_only_the_mailbox_and_account_creation_write_the_verified_flag():
    """The store's writes that set email_verified are called from flows.mailbox (`verified`,
    `first_proof`), users.Users (a new account) and the email change (`move_claim`)."""
    writers = {"verified": "flows/mailbox.py", "first_proof": "flows/mailbox.py"}
    for name, home in writers.items():
        callers = {
            path.relative_to(CHALICELIB).as_posix()
            for path in CHALICELIB.rglob("*.py")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == name
        }
        assert callers == {home}, name
