"""The team's hooks (chalicelib.hooks): its module found and loaded, before_sign_up on every way
of signing up, access_token_claims in minted tokens, each within its budget and following its
on_error, as functions of HOOKS_MODULE and as endpoints; through Chalice's test client on moto.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from standardwebhooks import Webhook

from chalicelib import hooks, runtime
from chalicelib.config import ConfigError, Settings
from chalicelib.errors import SignUpDenied
from chalicelib.hooks import RESERVED_CLAIMS, UNAVAILABLE, Hooks, events, plain_message
from tests import hooks_example, hooks_strict
from tests.conftest import table_items
from tests.helpers import PASSWORD, assert_error, call, cookie_named, sign_up
from tests.test_cold_start import run_in_a_fresh_process

BLOCKED = "eve@blocked.example"
FAST = timedelta(milliseconds=200)  # the tests' HOOK_TIMEOUT; a slow hook sleeps longer
SLOW = 0.6


@pytest.fixture(autouse=True)
def _fresh_example() -> Iterator[None]:
    hooks_example.reset()
    hooks_strict.behaviour["sleep"] = 0.0
    yield
    hooks_example.reset()


@pytest.fixture
def team(stage: Any) -> runtime.Services:
    """The stage with the team's module (tests/hooks_example.py) and a short budget."""
    return stage(hooks_module="tests.hooks_example", hook_timeout=FAST)


def account_items(dynamodb: Any, settings: Settings) -> list[str]:
    """What of an account the table holds: users, email claims, identities, codes."""
    prefixes = ("USER#", "EMAIL#", "IDENTITY#", "SECRET#")
    pks = [item["pk"]["S"] for item in table_items(dynamodb, settings.table_name)]
    return [pk for pk in pks if pk.startswith(prefixes)]


def claims_of(client: Any, token: str) -> dict[str, Any]:
    response = call(client, "POST", "/auth/token", token=token)
    assert response.status_code == 200, response.body
    return jwt.decode(response.json_body["access_token"], options={"verify_signature": False})


def denied_with(response: Any, message: str) -> None:
    assert_error(response, 403, SignUpDenied.code)
    assert response.json_body["error"]["message"] == message


def hook_failures(audit: Any) -> list[dict[str, Any]]:
    return [line for line in audit.lines if line["event"] == "hook_failed"]


# -- the module -------------------------------------------------------------------------------


def test_the_modules_marked_functions_are_its_hooks_in_its_order(settings):
    loaded = Hooks(replace(settings, hooks_module="tests.hooks_example"))
    assert [r.name for r in loaded.reactions("user.created")] == [
        "tests.hooks_example:welcome",
        "tests.hooks_example:count",
    ]
    assert [r.handler for r in loaded.reactions("user.email_verified")] == [hooks_example.welcome]
    assert loaded.reactions("session.revoked") == []
    with pytest.raises(ValueError, match="not an event type"):
        loaded.reactions("user.exploded")
    decisions = loaded.registry.decisions
    assert (decisions["before_sign_up"].source, decisions["before_sign_up"].on_error) == (
        "tests.hooks_example:no_blocked_domain",
        "deny",
    )
    assert (decisions["access_token_claims"].on_error, decisions["access_token_claims"].url) == (
        "allow",
        None,
    )


def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> str:
    """A module of the team's anywhere on the Python path (as `make dev` keeps PYTHONPATH)."""
    (tmp_path / f"{name}.py").write_text("from chalicelib.hooks import events\n" + text)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('@events.on("user.exploded")\ndef f(event): pass\n', "'user.exploded' is not an event"),
        ("@events.before_sign_up(on_error='ignore')\ndef f(e, m): pass\n", "'deny' or 'allow'"),
        (
            "@events.before_sign_up\ndef f(e, m): pass\n"
            "@events.before_sign_up\ndef g(e, m): pass\n",
            "two before_sign_up hooks",
        ),
        ("import not_a_module_anywhere\n", "could not be imported"),
    ],
    ids=["unknown-event", "unknown-on-error", "two-decisions", "import-error"],
)
def test_a_module_that_cannot_be_loaded_is_a_config_error_naming_the_problem(
    settings, tmp_path, monkeypatch, text, problem
):
    name = write_module(tmp_path, monkeypatch, "team_hooks_bad", text)
    with pytest.raises(ConfigError, match=problem):
        Hooks(replace(settings, hooks_module=name)).registry  # noqa: B018


def test_a_decision_is_a_function_or_an_endpoint_never_both(settings):
    both = replace(
        settings,
        hooks_module="tests.hooks_example",
        hook_before_sign_up_url="https://hooks.example/sign-up",
    )
    with pytest.raises(ConfigError, match="HOOK_BEFORE_SIGN_UP_URL: keep one"):
        Hooks(both).registry  # noqa: B018


def test_bare_decorators_take_the_default_on_error(settings, tmp_path, monkeypatch):
    text = (
        "@events.before_sign_up\ndef f(e, m): pass\n"
        "@events.access_token_claims\ndef g(u, s): pass\n"
    )
    name = write_module(tmp_path, monkeypatch, "team_hooks_bare", text)
    decisions = Hooks(replace(settings, hooks_module=name)).registry.decisions
    assert decisions["before_sign_up"].on_error == "deny"
    assert decisions["access_token_claims"].on_error == "allow"


def test_a_stage_without_hooks_imports_nothing_and_asks_nobody(settings):
    quiet = Hooks(settings)
    quiet.before_sign_up(BLOCKED, "password", lambda *_: pytest.fail("nothing to fail"))
    assert "registry" not in vars(quiet)  # nothing was loaded


@pytest.mark.parametrize(
    ("env", "setting", "value"),
    [
        ({}, "hook_timeout", timedelta(seconds=2)),
        ({"HOOK_TIMEOUT": "300ms"}, "hook_timeout", timedelta(milliseconds=300)),
        ({"HOOK_TIMEOUT": "10s"}, "hook_timeout", timedelta(seconds=10)),
        ({"HOOKS_MODULE": " myteam.hooks "}, "hooks_module", "myteam.hooks"),
        (
            {"HOOK_ACCESS_TOKEN_CLAIMS_ON_ERROR": "Deny"},
            "hook_access_token_claims_on_error",
            "deny",
        ),
        (
            {"COOKIE_SECURE": "false", "HOOK_BEFORE_SIGN_UP_URL": "http://127.0.0.1:9000/h"},
            "hook_before_sign_up_url",
            "http://127.0.0.1:9000/h",
        ),
    ],
)
def test_hook_settings(env, setting, value):
    assert getattr(Settings.from_env(env), setting) == value


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"HOOK_TIMEOUT": "11s"}, "HOOK_TIMEOUT"),
        ({"HOOK_TIMEOUT": "0ms"}, "HOOK_TIMEOUT"),
        ({"HOOK_TIMEOUT": "soon"}, "HOOK_TIMEOUT"),
        ({"HOOKS_MODULE": "hooks.py"}, "HOOKS_MODULE"),
        ({"HOOK_BEFORE_SIGN_UP_URL": "http://hooks.example/h"}, "HOOK_BEFORE_SIGN_UP_URL"),
        ({"HOOK_BEFORE_SIGN_UP_URL": "http://127.0.0.1:9000/h"}, "HOOK_BEFORE_SIGN_UP_URL"),
        (
            {
                "COOKIE_SECURE": "false",
                "HOOK_ACCESS_TOKEN_CLAIMS_URL": "http://localhost.evil.example/",
            },
            "HOOK_ACCESS_TOKEN_CLAIMS_URL",
        ),
        ({"HOOK_BEFORE_SIGN_UP_URL": "https://h.example/?key=1"}, "HOOK_BEFORE_SIGN_UP_URL"),
        ({"HOOK_BEFORE_SIGN_UP_ON_ERROR": "maybe"}, "HOOK_BEFORE_SIGN_UP_ON_ERROR"),
    ],
)
def test_a_malformed_hook_setting_names_its_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)


def test_a_message_is_plain_text_on_one_line_and_short():
    assert plain_message("  Closed.\x07\r\nAsk\u202eyour admin. ") == "Closed. Ask your admin."
    assert plain_message("x" * 500) == "x" * 200
    assert plain_message(None) == plain_message(42) == ""


# -- before_sign_up ---------------------------------------------------------------------------


def test_a_denied_domain_cannot_sign_up_and_nothing_is_written(
    client, team, dynamodb, settings, mailbox, audit
):
    response = call(client, "POST", "/auth/signup", {"email": BLOCKED, "password": PASSWORD})
    denied_with(response, hooks_example.MESSAGE)
    assert account_items(dynamodb, settings) == []
    assert mailbox.messages() == []
    assert hooks_example.calls == [("before_sign_up", BLOCKED, "password")]
    (line,) = [line for line in audit.lines if line["event"] == "signup_denied"]
    assert (line["method"], line["user_id"]) == ("password", None)
    assert "blocked.example" not in json.dumps(audit.lines)
    # Anyone else signs up as before.
    body = {"email": "ann@example.com", "password": PASSWORD}
    assert call(client, "POST", "/auth/signup", body).status_code == 201
    assert hooks_example.calls[-1] == ("before_sign_up", "ann@example.com", "password")


def test_the_sign_up_page_shows_the_denial_by_the_form(client, team, dynamodb, settings):
    body = urlencode({"email": BLOCKED, "password": PASSWORD})
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = client.http.post("/signup", headers=form, body=body)
    assert response.status_code == 403
    page = response.body.decode()
    assert f'<p class="error" id="form-error" role="alert">{hooks_example.MESSAGE}</p>' in page
    assert f'value="{BLOCKED}"' in page
    assert account_items(dynamodb, settings) == []


def test_a_message_with_markup_is_shown_as_text(client, team):
    hooks_example.behaviour["message"] = "<b>No</b>\x00 thanks"
    body = urlencode({"email": BLOCKED, "password": PASSWORD})
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    page = client.http.post("/signup", headers=form, body=body).body.decode()
    assert "&lt;b&gt;No&lt;/b&gt; thanks" in page
    response = call(client, "POST", "/auth/signup", {"email": BLOCKED, "password": PASSWORD})
    denied_with(response, "<b>No</b> thanks")


def test_a_quiet_sign_up_is_denied_before_its_code_is_stored(
    client, stage, dynamodb, settings, mailbox
):
    stage(hooks_module="tests.hooks_example", hook_timeout=FAST, signup_reveals_accounts=False)
    response = call(client, "POST", "/auth/signup", {"email": BLOCKED, "password": PASSWORD})
    denied_with(response, hooks_example.MESSAGE)
    assert account_items(dynamodb, settings) == []
    assert mailbox.messages() == []


def test_a_quiet_sign_ups_code_asks_again_as_the_account_is_made(
    client, stage, dynamodb, settings, mailbox
):
    stage(signup_reveals_accounts=False)  # no hook yet when the sign-up begins
    begun = call(client, "POST", "/auth/signup", {"email": BLOCKED, "password": PASSWORD})
    assert begun.status_code == 202
    # The hook is turned on between the code's sending and its use.
    stage(hooks_module="tests.hooks_example", hook_timeout=FAST, signup_reveals_accounts=False)
    binding = cookie_named(begun, "signup_attempt")[0]
    body = {"email": BLOCKED, "code": mailbox.code(BLOCKED)}
    headers = {"Cookie": f"signup_attempt={binding}"}
    response = call(client, "POST", "/auth/login/code/verify", body, headers=headers)
    denied_with(response, hooks_example.MESSAGE)
    assert hooks_example.calls == [("before_sign_up", BLOCKED, "password")]
    assert [pk for pk in account_items(dynamodb, settings) if not pk.startswith("SECRET#")] == []


def test_an_emailed_code_cannot_make_an_account_the_hook_denies(
    client, team, dynamodb, settings, mailbox
):
    assert call(client, "POST", "/auth/login/code", {"email": BLOCKED}).status_code == 202
    body = {"email": BLOCKED, "code": mailbox.code(BLOCKED)}
    response = call(client, "POST", "/auth/login/code/verify", body)
    denied_with(response, hooks_example.MESSAGE)
    assert hooks_example.calls == [("before_sign_up", BLOCKED, "email_code")]
    assert [pk for pk in account_items(dynamodb, settings) if not pk.startswith("SECRET#")] == []
    # A wrong code never reaches the hook: it cannot be used to probe addresses.
    wrong = call(client, "POST", "/auth/login/code/verify", {**body, "code": "AAAAAAAA"})
    assert_error(wrong, 400, "invalid_code")
    assert len(hooks_example.calls) == 1


def test_an_existing_accounts_code_sign_in_is_no_sign_up(client, team, mailbox):
    sign_up(client)
    hooks_example.calls.clear()
    assert call(client, "POST", "/auth/login/code", {"email": "ann@example.com"}).status_code == 202
    body = {"email": "ann@example.com", "code": mailbox.code("ann@example.com")}
    assert call(client, "POST", "/auth/login/code/verify", body).status_code == 200
    assert hooks_example.calls == []


class FakeGitHub:
    """GitHub's token endpoint and API, as chalicelib.oauth.Http answers them."""

    def __init__(self, email: str) -> None:
        self.email = email

    def post(self, url: str, form: Any, headers: Any = None) -> tuple[int, Any]:
        return 200, {"access_token": "gho_test", "token_type": "bearer"}

    def get(self, url: str, headers: Any = None) -> tuple[int, Any]:
        if url.endswith("/user"):
            return 200, {"id": 4242, "login": "eve"}
        return 200, [{"email": self.email, "primary": True, "verified": True}]


def social_sign_up(client: Any, services: runtime.Services, email: str, accept: str) -> Any:
    github = Settings.from_env(
        {
            "OAUTH_PROVIDERS": "github",
            "OAUTH_GITHUB_CLIENT_ID": "id",
            "OAUTH_GITHUB_CLIENT_SECRET": "secret",
        }
    ).oauth_providers
    runtime.use(
        replace(
            services,
            settings=replace(services.settings, oauth_providers=github),
            provider_http=FakeGitHub(email),
        )
    )
    started = client.http.get("/auth/oauth/github")
    assert started.status_code == 303, started.body
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    attempt = cookie_named(started, "oauth_attempt")[0]
    return client.http.get(
        f"/auth/oauth/github/callback?{urlencode({'state': state, 'code': 'c'})}",
        headers={"Cookie": f"oauth_attempt={attempt}", "Accept": accept},
    )


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_a_social_sign_up_of_a_denied_domain_makes_no_account(
    client, team, dynamodb, settings, audit, accept
):
    response = social_sign_up(client, team, BLOCKED, accept)
    assert response.status_code == 403
    if accept == "application/json":
        denied_with(response, hooks_example.MESSAGE)
    else:
        assert (
            'id="form-error" role="alert">Sign-ups from blocked.example' in response.body.decode()
        )
    assert account_items(dynamodb, settings) == []
    assert hooks_example.calls == [("before_sign_up", BLOCKED, "oauth:github")]
    assert [line["reason"] for line in audit.lines if line["event"] == "oauth_failed"] == [
        "sign_up_denied"
    ]


def test_a_social_sign_up_the_hook_allows_makes_the_account(client, team):
    response = social_sign_up(client, team, "eve@example.com", "text/html")
    assert response.status_code == 303, response.body
    assert hooks_example.calls == [("before_sign_up", "eve@example.com", "oauth:github")]


def test_a_sign_up_hook_that_times_out_denies_by_default(client, team, dynamodb, settings, audit):
    hooks_example.behaviour["sleep"] = SLOW
    started = time.monotonic()
    response = call(
        client, "POST", "/auth/signup", {"email": "ann@example.com", "password": PASSWORD}
    )
    assert time.monotonic() - started < SLOW
    denied_with(response, UNAVAILABLE)
    assert account_items(dynamodb, settings) == []
    (failure,) = hook_failures(audit)
    assert (failure["hook"], failure["source"], failure["reason"]) == (
        "before_sign_up",
        "tests.hooks_example:no_blocked_domain",
        "timeout",
    )
    assert "ann@example.com" not in json.dumps(audit.lines)


def test_a_sign_up_hook_that_raises_lets_sign_up_go_on_with_on_error_allow(
    client, stage, audit, caplog
):
    stage(hooks_module="tests.hooks_strict", hook_timeout=FAST)
    response = call(
        client, "POST", "/auth/signup", {"email": "ann@example.com", "password": PASSWORD}
    )
    assert response.status_code == 201, response.body
    (failure,) = hook_failures(audit)
    assert failure["reason"] == "raised RuntimeError"
    assert "ann@example.com" not in json.dumps(audit.lines)
    # The team's own traceback, for the team, in the service's log.
    assert "the directory is down" in caplog.text


# -- access_token_claims ----------------------------------------------------------------------


def test_a_claims_hook_adds_a_tenant_to_the_token(client, team):
    token = sign_up(client)
    claims = claims_of(client, token)
    assert claims["tenant"] == "acme"
    user = call(client, "GET", "/auth/session", token=token).json_body["user"]
    assert claims["sub"] == user["id"]
    # It was given plain dicts of what is not secret: never the session's token.
    (given,) = [c for c in hooks_example.calls if c[0] == "access_token_claims"]
    _, user_given, session_given = given
    assert user_given == {
        "id": user["id"],
        "email": "ann@example.com",
        "email_verified": True,
        "roles": [],
    }
    assert set(session_given) == {"sid", "amr", "created_at", "auth_time", "impersonator_id"}
    assert session_given["sid"] == claims["sid"]
    assert token not in json.dumps(given)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"tenant": "acme", "sub": "someone-else"}, "reserved_claim"),
        ({"roles": ["admin"]}, "reserved_claim"),
        ({"act": {"sub": "admin"}}, "reserved_claim"),
        ({"tenant": "x" * 3000}, "too_large"),
        (["tenant"], "bad_answer"),
        ({"tenant": float("nan")}, "bad_answer"),
        ({"tenant": object()}, "bad_answer"),
    ],
    ids=["sub", "roles", "act", "too-large", "not-a-dict", "nan", "not-json"],
)
def test_a_claims_hook_cannot_replace_a_registered_claim_nor_overflow(
    client, team, audit, claims, reason
):
    token = sign_up(client)
    hooks_example.behaviour["claims"] = claims
    issued = claims_of(client, token)
    user_id = call(client, "GET", "/auth/session", token=token).json_body["user"]["id"]
    assert issued["sub"] == user_id
    assert issued["roles"] == []
    assert "tenant" not in issued  # the whole answer dropped, not just the bad claim
    assert "act" not in issued
    (failure,) = hook_failures(audit)
    assert (failure["hook"], failure["reason"], failure["user_id"]) == (
        "access_token_claims",
        reason,
        user_id,
    )
    assert "someone-else" not in json.dumps(audit.lines)


def test_the_reserved_claims_cover_every_claim_a_token_carries(client, stage):
    token = sign_up(client)
    assert set(claims_of(client, token)) <= RESERVED_CLAIMS


def test_a_claims_hook_that_times_out_issues_the_token_without_extras(client, team, audit):
    token = sign_up(client)
    assert claims_of(client, token)["tenant"] == "acme"  # and the keyring is made
    hooks_example.behaviour["sleep"] = SLOW
    started = time.monotonic()
    claims = claims_of(client, token)
    assert time.monotonic() - started < SLOW
    assert "tenant" not in claims
    assert [line["reason"] for line in hook_failures(audit)] == ["timeout"]


def test_a_claims_hook_that_denies_on_error_refuses_the_token(client, stage, audit):
    token = sign_up(client)
    stage(hooks_module="tests.hooks_strict", hook_timeout=FAST)
    hooks_strict.behaviour["sleep"] = SLOW
    response = call(client, "POST", "/auth/token", token=token)
    assert_error(response, 503, "service_unavailable")
    assert [line["reason"] for line in hook_failures(audit)] == ["timeout"]
    hooks_strict.behaviour["sleep"] = 0.0
    assert claims_of(client, token)["tenant"] == "acme"


def test_hooks_that_overran_are_not_piled_up(monkeypatch):
    monkeypatch.setattr(hooks, "_overrunning", [])
    release = threading.Event()
    for _ in range(hooks.MAX_OVERRUNNING):
        with pytest.raises(hooks.HookError, match="timeout"):
            hooks.run_within(0.01, release.wait)
    with pytest.raises(hooks.HookError, match="busy"):
        hooks.run_within(0.01, lambda: "never started")
    release.set()
    time.sleep(0.05)
    assert hooks.run_within(1, lambda: "answered") == "answered"


# -- endpoints --------------------------------------------------------------------------------


class TeamEndpoint(BaseHTTPRequestHandler):
    """The team's decisions over HTTP: the answer for each path, and what was asked."""

    answers: ClassVar[dict[str, tuple[int, Any, dict[str, str]]]] = {}
    asked: ClassVar[list[tuple[str, dict[str, str], Any]]] = []
    raw: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        self.raw.append(raw)
        body = json.loads(raw)
        self.asked.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        status, answer, headers = self.answers[self.path]
        raw = json.dumps(answer).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    TeamEndpoint.answers, TeamEndpoint.asked, TeamEndpoint.raw = {}, [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), TeamEndpoint)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_endpoint_denies_a_sign_up_with_its_message(client, stage, endpoint, dynamodb, settings):
    stage(hook_before_sign_up_url=f"{endpoint}/sign-up", hook_timeout=timedelta(seconds=2))
    TeamEndpoint.answers["/sign-up"] = (200, {"allow": False, "message": "Invite only."}, {})
    response = call(client, "POST", "/auth/signup", {"email": BLOCKED, "password": PASSWORD})
    denied_with(response, "Invite only.")
    assert account_items(dynamodb, settings) == []
    ((path, headers, body),) = TeamEndpoint.asked
    assert (path, body) == (
        "/sign-up",
        {"type": "before_sign_up", "email": BLOCKED, "method": "password"},
    )
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"].startswith("hook_")
    # Signed like a webhook: the reference verifier accepts it with the stage's secret.
    (secret,) = json.loads(Path(settings.webhook_secrets_file).read_text())["secrets"]
    Webhook(secret).verify(TeamEndpoint.raw[0], headers)
    TeamEndpoint.answers["/sign-up"] = (200, {"allow": True}, {})
    response = call(client, "POST", "/auth/signup", {"email": BLOCKED, "password": PASSWORD})
    assert response.status_code == 201, response.body


def test_an_endpoint_adds_claims_and_cannot_replace_sub(client, stage, endpoint, audit):
    token = sign_up(client)
    stage(hook_access_token_claims_url=f"{endpoint}/claims", hook_timeout=timedelta(seconds=2))
    TeamEndpoint.answers["/claims"] = (200, {"claims": {"tenant": "acme"}}, {})
    claims = claims_of(client, token)
    assert claims["tenant"] == "acme"
    ((_, _, body),) = TeamEndpoint.asked
    assert body["type"] == "access_token_claims"
    assert (body["user"]["email"], body["session"]["sid"]) == ("ann@example.com", claims["sid"])
    assert token not in json.dumps(body)
    TeamEndpoint.answers["/claims"] = (200, {"claims": {"sub": "someone-else"}}, {})
    assert claims_of(client, token)["sub"] == claims["sub"]
    assert [(f["source"], f["reason"]) for f in hook_failures(audit)] == [
        ("endpoint", "reserved_claim")
    ]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ((500, {"error": "down"}, {}), "status 500"),
        ((302, {}, {"Location": "https://elsewhere.example/"}), "status 302"),
        ((200, {"allow": "yes"}, {}), "bad_answer"),
        ((200, ["allow"], {}), "bad_answer"),
    ],
    ids=["error", "redirect-not-followed", "not-a-boolean", "not-an-object"],
)
def test_an_endpoint_that_fails_follows_on_error(client, stage, endpoint, audit, answer, reason):
    stage(hook_before_sign_up_url=f"{endpoint}/sign-up", hook_timeout=timedelta(seconds=2))
    TeamEndpoint.answers["/sign-up"] = answer
    response = call(client, "POST", "/auth/signup", {"email": BLOCKED, "password": PASSWORD})
    denied_with(response, UNAVAILABLE)
    assert [(f["source"], f["reason"]) for f in hook_failures(audit)] == [("endpoint", reason)]
    stage(
        hook_before_sign_up_url=f"{endpoint}/sign-up",
        hook_before_sign_up_on_error="allow",
        hook_timeout=timedelta(seconds=2),
    )
    response = call(client, "POST", "/auth/signup", {"email": BLOCKED, "password": PASSWORD})
    assert response.status_code == 201, response.body


def test_an_endpoint_that_is_not_there_follows_on_error(client, stage, audit):
    stage(hook_before_sign_up_url="http://127.0.0.1:9/nothing-listens", hook_timeout=FAST)
    response = call(client, "POST", "/auth/signup", {"email": BLOCKED, "password": PASSWORD})
    denied_with(response, UNAVAILABLE)
    assert [f["reason"] for f in hook_failures(audit)] in (["unreachable"], ["timeout"])


# -- the cold start ---------------------------------------------------------------------------


def test_a_protected_request_never_imports_the_teams_module(tmp_path):
    script = (
        "import json, os, sys; os.environ['HOOKS_MODULE'] = 'tests.hooks_example'; import app; "
        "from bench.events import api_event; "
        "answer = app.app(api_event('GET', '/auth/session'), None); "
        "print(json.dumps([answer['statusCode'], 'tests.hooks_example' in sys.modules]))"
    )
    assert run_in_a_fresh_process(script, tmp_path) == [401, False]


def test_the_decorators_leave_the_teams_functions_as_they_are():
    """So the team's own tests call them directly."""

    def decide(email: str, method: str) -> None:
        return None

    assert events.before_sign_up(on_error="deny")(decide) is decide
    assert hooks_example.no_blocked_domain(BLOCKED, "password") == events.deny(
        hooks_example.MESSAGE
    )
