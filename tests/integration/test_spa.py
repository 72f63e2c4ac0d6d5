"""examples/spa in Chromium: a single-page app on http://localhost:<A> calling the API on
http://localhost:<B>. Two origins, one site, like app.example.com and api.example.com: the
session cookie (SameSite=Lax) travels with fetch(..., {credentials: "include"}) because the
API lists the app's origin in CORS_ORIGINS, and only then."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, Page, expect

from devtools.dynamodb_local import ROOT
from tests.integration.axe import assert_accessible
from tests.integration.browser import PASSWORD

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test

SPA = ROOT / "examples" / "spa"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def spa_origin() -> Iterator[str]:
    """examples/spa served as its README says (a static file server), on a port of its own."""
    handler = functools.partial(_Quiet, directory=str(SPA))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def spa_page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context()
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def open_app(page: Page, spa_origin: str, api: str) -> None:
    page.goto(f"{spa_origin}/?api={api}")


def test_the_app_walks_the_whole_flow_on_another_origin(
    spa_page: Page, spa_origin, live_server, allow_cors
):
    allow_cors(spa_origin)
    page = spa_page
    open_app(page, spa_origin, live_server.url)
    # The API's 401, read from its body: CORS lets the app see its errors.
    expect(page.get_by_role("status")).to_have_text("Not signed in (unauthenticated).")
    assert_accessible(page, "the example app, signed out")

    page.get_by_label("Email").fill("ann@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Signed in as ann@example.com")).to_be_visible()
    expect(page.locator("#trainings li")).to_have_count(5)
    expect(page.locator("#trainings li").first).to_have_text("Password hygiene (15 min)")
    expect(page.locator("#sessions li")).to_have_count(1)
    expect(page.locator("#sessions li")).to_contain_text("(this one)")
    assert_accessible(page, "the example app, signed in")
    # The session is the API's HttpOnly cookie, which the app's script cannot read.
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "auth_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_have_text("Not signed in (unauthenticated).")
    assert live_server.items("SESSION#") == []

    # A wrong password: the API's message, shown by the app.
    page.get_by_label("Email").fill("ann@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("(invalid_credentials)")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Signed in as ann@example.com")).to_be_visible()
    page.reload()  # the session survives a reload: it is the cookie, not the page's memory
    expect(page.get_by_role("heading", name="Signed in as ann@example.com")).to_be_visible()

    # The README's snippet, run in this app's page as written (but for the API's port).
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use it from a single-page app", 1)[1].split("\n## ", 1)[0]
    (snippet,) = re.findall(r"```js\n(.*?)```", section, re.DOTALL)
    snippet = snippet.replace("http://localhost:8000", live_server.url)
    ran = page.evaluate(f"async () => {{ {snippet}; return [user.email, trainings.length]; }}")
    assert ran == ["ann@example.com", 5]


def test_the_browser_blocks_an_origin_the_api_does_not_list(
    spa_page: Page, spa_origin, live_server, allow_cors
):
    allow_cors("http://localhost:1")  # some other app's origin, not this one's
    page = spa_page
    refused = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "CORS policy" in message.text else None,
    )
    open_app(page, spa_origin, live_server.url)
    expect(page.get_by_role("alert")).to_contain_text(f"Cannot reach the API at {live_server.url}")
    page.get_by_label("Email").fill("eve@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("alert")).to_contain_text("(network error)")
    assert refused, "Chromium reported no CORS refusal"
    # The preflight was refused, so the sign-up itself never reached the service.
    assert live_server.items("USER#") == []
    assert live_server.items("EMAIL#") == []
