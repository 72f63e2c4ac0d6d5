"""examples/nextjs in Chromium: the Lucia tutorial's training app, its `createAuthSession` and
`verifyAuth` over our API, built with `next build` and run with `next start` beside the live
server. Its server holds the session token (the token transport) in an HttpOnly cookie of its
own; the browser never sees a token, and a session ended on our side is refused at the next
navigation."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from devtools.dynamodb_local import ROOT, die_with_parent, free_port, stop_process
from tests.integration.axe import assert_accessible
from tests.integration.browser import PASSWORD
from tests.integration.test_admin_http import an_admin

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Node, Chromium: make test

APP = ROOT / "examples" / "nextjs"
NEXT = APP / "node_modules" / "next" / "dist" / "bin" / "next"
COOKIE = "app_session"
ANN = "ann@example.com"


def _next(*args: str) -> list[str]:
    node = shutil.which("node")
    assert node, "examples/nextjs needs Node.js (`node`) on the PATH"
    assert NEXT.exists(), f"{NEXT} is missing: `make test` installs it (npm ci in {APP})"
    return [node, str(NEXT), *args]


def _environment(api_url: str, port: int) -> dict[str, str]:
    return {
        **{name: value for name, value in os.environ.items() if not name.startswith("AWS_")},
        "NEXT_TELEMETRY_DISABLED": "1",
        # 127.0.0.1, not localhost: Node may resolve localhost to ::1, where the API is not.
        "AUTH_API_URL": api_url.replace("localhost", "127.0.0.1"),
        "APP_URL": f"http://localhost:{port}",
        # Read by the API only where its own CLIENT_IP_HEADER names it (one test sets that).
        "AUTH_API_CLIENT_IP_HEADER": "X-Client-IP",
    }


@contextmanager
def next_start(api_url: str) -> Iterator[str]:
    """`next start` of the built app, its server talking to the API at `api_url`."""
    port = free_port()
    env = _environment(api_url, port)
    process = subprocess.Popen(
        _next("start", "--hostname", "127.0.0.1", "--port", str(port)),
        cwd=APP,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=die_with_parent(),
    )
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "next start exited"
            try:
                requests.get(f"{url}/login", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "next start did not serve within 60 s"
                time.sleep(0.2)
        yield url
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def built() -> None:
    """`next build`, once for the module, as the README builds it for production."""
    env = _environment("http://localhost:8000", 3000)  # read at run time, not built in
    done = subprocess.run(
        _next("build"), cwd=APP, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def nextjs(built: None, server_url: str) -> Iterator[str]:
    """The built app served by `next start` beside the live server."""
    with next_start(server_url) as url:
        yield url


def app_cookie(page: Page) -> dict | None:
    found = [c for c in page.context.cookies() if c["name"] == COOKIE]
    return found[0] if found else None


def console_errors(page: Page) -> list[str]:
    """What the page's scripts report as errors from now on (React's hydration mismatches
    among them)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    return errors


def sign_in(page: Page, app: str, mode: str, email: str = ANN, password: str = PASSWORD) -> None:
    page.goto(f"{app}/{mode}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    button = "Create account" if mode == "signup" else "Log in"
    page.get_by_role("button", name=button).click()


def expect_trainings(page: Page, app: str) -> None:
    expect(page).to_have_url(f"{app}/training")
    expect(page.get_by_role("heading", name="Your trainings")).to_be_visible()
    expect(page.locator("#trainings li")).to_have_count(5)
    expect(page.locator("#trainings li").first).to_have_text("Password hygiene (15 min)")


def test_sign_up_reload_log_out_log_in_and_a_revoked_session(page: Page, nextjs, live_server):
    app = nextjs
    errors = console_errors(page)
    page.goto(f"{app}/training")
    expect(page).to_have_url(f"{app}/login")  # nobody signed in
    assert_accessible(page, "the Next.js example's login page")

    sign_in(page, app, "signup")
    expect_trainings(page, app)
    assert_accessible(page, "the Next.js example's training page")
    cookie = app_cookie(page)
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # APP_URL is http://localhost here; https makes it Secure
    assert cookie["path"] == "/"
    (session,) = live_server.items("SESSION#")
    # The cookie lives as long as the session does on our side (30 days, sliding).
    assert abs(cookie["expires"] - int(session["expires_at"]["N"])) <= 2
    # The token is in no script's reach, and nowhere in the page.
    assert page.evaluate("document.cookie") == ""
    assert cookie["value"] not in page.content()
    # The session is the browser's: our session list names its user agent, not Node's.
    user_agent = page.evaluate("navigator.userAgent")
    assert session["user_agent"]["S"] == user_agent[:256]
    assert session["ip"]["S"] == "127.0.0.1"  # the API trusts no client-address header here

    # Reloading runs verifyAuth again; the page is never served from a cache.
    response = page.reload()
    assert response is not None
    assert "no-store" in response.headers["cache-control"]
    expect_trainings(page, app)

    # Logout ends the session on our side at once.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{app}/login")
    assert app_cookie(page) is None
    assert live_server.items("SESSION#") == []
    page.goto(f"{app}/training")
    expect(page).to_have_url(f"{app}/login")

    # Log in again, then end that session from another device through the API.
    sign_in(page, app, "login")
    expect_trainings(page, app)
    other = requests.post(
        f"{live_server.url}/auth/login",
        json={"email": ANN, "password": PASSWORD},
        headers={"X-Session-Transport": "token"},
        timeout=30,
    )
    bearer = {"Authorization": f"Bearer {other.json()['session_token']}"}
    sessions = requests.get(f"{live_server.url}/auth/sessions", headers=bearer, timeout=30)
    (app_session,) = [s for s in sessions.json()["sessions"] if not s["current"]]
    revoked = requests.delete(
        f"{live_server.url}/auth/sessions/{app_session['id']}", headers=bearer, timeout=30
    )
    assert revoked.status_code == 204, revoked.text
    page.goto(f"{app}/training")
    expect(page).to_have_url(f"{app}/login")
    assert app_cookie(page) is None  # the dead session's cookie is cleared
    assert errors == []  # no script error, no hydration mismatch


def test_the_forms_show_our_messages(page: Page, nextjs, live_server):
    app = nextjs
    errors = console_errors(page)
    sign_in(page, app, "signup", password="password")
    expect(page.locator("#password-error")).to_have_text(
        "This password is among the most common ones. Choose another."
    )
    expect(page.get_by_label("Password")).to_have_attribute("aria-describedby", "password-error")
    expect(page.get_by_label("Email")).to_have_value(ANN)  # kept for the next try
    assert_accessible(page, "the Next.js example's sign-up form with an error")

    sign_in(page, app, "signup")
    expect_trainings(page, app)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{app}/login")
    sign_in(page, app, "signup")
    expect(page.locator("#email-error")).to_have_text("An account with this email already exists.")

    sign_in(page, app, "login", password="not the password")
    expect(page.locator("#form-error")).to_have_text("The email or password is incorrect.")
    expect(page.locator("#form-error")).to_have_attribute("role", "alert")  # read out at once
    assert_accessible(page, "the Next.js example's login form with an error")
    assert app_cookie(page) is None

    # Five failures lock the address (LOGIN_EMAIL_MAX_FAILURES): then our 429, with its wait.
    alerts = []
    for _ in range(6):
        sign_in(page, app, "login", password="not the password")  # a fresh form each time
        alert = page.locator("#form-error")
        expect(alert).to_be_visible()
        alerts.append(alert.inner_text())
        if alerts[-1].startswith("Too many"):
            break
    assert alerts[:4] == ["The email or password is incorrect."] * 4, alerts
    assert re.fullmatch(
        r"Too many failed sign-in attempts\. Wait a little and try again\."
        r" You can try again in \d+ (seconds|minutes)\.",
        alerts[-1],
    ), alerts
    assert live_server.items("SESSION#") == []
    assert errors == []


def test_a_ban_refuses_the_next_navigation_and_every_sign_in(
    page: Page, nextjs, live_server, configure
):
    configure(ADMIN_MFA_REQUIRED="false")
    app = nextjs
    admin = an_admin(live_server, "admin@example.com")
    sign_in(page, app, "signup")
    expect_trainings(page, app)
    (ann,) = {
        item["session_user_id"]["S"]
        for item in live_server.items("SESSION#")
        if item["email"]["S"] == ANN
    }
    banned = admin.post(f"{live_server.url}/admin/users/{ann}/ban", json={"reason": "fraud"})
    assert banned.status_code == 200, banned.text
    page.goto(f"{app}/training")
    expect(page).to_have_url(f"{app}/login")
    assert app_cookie(page) is None
    sign_in(page, app, "login")
    expect(page.locator("#form-error")).to_have_text(
        "This account is disabled. Contact support if you think this is a mistake."
    )


def test_the_visitors_address_reaches_an_api_that_trusts_the_app(
    chromium: Browser, nextjs, live_server, configure
):
    """Behind a load balancer (its X-Forwarded-For), the app sends the visitor's address in the
    header the API's CLIENT_IP_HEADER names: per-IP limits and the audit log see the visitor,
    not the app's server."""
    configure(CLIENT_IP_HEADER="X-Client-IP")
    context = chromium.new_context(extra_http_headers={"X-Forwarded-For": "203.0.113.9"})
    try:
        page = context.new_page()
        sign_in(page, nextjs, "signup")
        expect_trainings(page, nextjs)
    finally:
        context.close()
    (session,) = live_server.items("SESSION#")
    assert session["ip"]["S"] == "203.0.113.9"


def test_a_slid_session_gets_its_later_expiry(page: Page, nextjs, live_server, configure):
    """verifyAuth's `fresh`: when a request slides the session's expiry on our side, the app's
    cookie gets the later one (proxy.js sets it; a page being rendered cannot)."""
    configure(SESSION_LIFETIME="10s")  # slides once less than half of it is left
    app = nextjs
    sign_in(page, app, "signup")
    expect_trainings(page, app)
    first = app_cookie(page)
    assert first is not None
    time.sleep(5.5)
    page.reload()
    expect_trainings(page, app)
    later = app_cookie(page)
    assert later is not None
    assert later["value"] == first["value"]  # the same session, not a new one
    (session,) = live_server.items("SESSION#")
    assert later["expires"] > first["expires"]
    assert abs(later["expires"] - int(session["expires_at"]["N"])) <= 2
    assert datetime.fromtimestamp(later["expires"], UTC) > datetime.now(UTC)


def test_the_readme_shows_the_functions_the_app_runs():
    """The README's "Use it from Next.js" shows lib/auth.js's createAuthSession and verifyAuth
    as they are in the file these tests run."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use it from Next.js", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```js\n(.*?)```", section, re.DOTALL)
    source = (APP / "lib" / "auth.js").read_text(encoding="utf-8")
    shown = "\n".join(blocks)
    for name in ("createAuthSession", "verifyAuth"):
        assert f"export async function {name}" in shown or f"export const {name}" in shown, name
    for block in blocks:
        assert block in source, f"the README's block is not lib/auth.js's code:\n{block}"


def test_an_outage_of_the_api_is_not_a_sign_out(page: Page, built):
    """The API does not answer: the page says so, and the visitor's cookie stays, where reading
    the failure as "no session" would sign everybody out of the app."""
    with next_start(f"http://localhost:{free_port()}") as app:  # nothing listens there
        page.context.add_cookies([{"name": COOKIE, "value": "a-token", "url": app}])
        page.goto(f"{app}/training")
        expect(page).to_have_url(f"{app}/training")
        expect(page.locator("#service-error")).to_have_text(
            "The sign-in service did not answer. Try again in a moment."
        )
        assert_accessible(page, "the Next.js example's error page")
        cookie = app_cookie(page)
        assert cookie is not None
        assert cookie["value"] == "a-token"
