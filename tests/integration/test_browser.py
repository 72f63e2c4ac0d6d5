"""The pages in a real browser: Debian's Chromium driven by Playwright, against the live server.

Playwright's own browser download cannot work on these machines and is never attempted: the
tests launch /usr/bin/chromium, which `make test` installs when missing
(devtools/ensure-chromium). Without it they fail rather than skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Debian's chromium is missing: `make test` installs it (apt-get)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(chromium: Browser, live_server) -> Iterator[BrowserContext]:
    context = chromium.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def fill_and_submit(page: Page, email: str, password: str, button: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name=button).click()


def test_sign_up_browse_reload_log_out_and_back(page: Page, context: BrowserContext, live_server):
    page.goto("/")
    page.get_by_role("link", name="Sign up").click()
    expect(page).to_have_url(f"{live_server.url}/signup")
    fill_and_submit(page, "Ann@Example.com", PASSWORD, "Sign up")

    expect(page).to_have_url(f"{live_server.url}/training")
    expect(page.locator("#user-email")).to_have_text("ann@example.com")
    expect(page.get_by_role("heading", name="Your training")).to_be_visible()

    (cookie,) = context.cookies()
    assert cookie["name"] == "auth_session"
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/"
    assert page.evaluate("document.cookie") == ""  # invisible to scripts

    page.reload()
    expect(page.locator("#user-email")).to_have_text("ann@example.com")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live_server.url}/login")
    assert context.cookies() == []

    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/login")
    expect(page.locator("#user-email")).to_have_count(0)

    page.goto("/training")
    expect(page).to_have_url(f"{live_server.url}/login")


def test_log_in_with_a_wrong_then_the_right_password(
    page: Page, context: BrowserContext, live_server
):
    page.goto("/signup")
    fill_and_submit(page, "ann@example.com", PASSWORD, "Sign up")
    page.get_by_role("button", name="Log out").click()

    fill_and_submit(page, "ann@example.com", "wrong password", "Log in")
    expect(page.get_by_role("alert")).to_have_text("The email or password is incorrect.")
    expect(page.get_by_label("Email")).to_have_value("ann@example.com")
    assert context.cookies() == []

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/training")


def test_a_duplicate_email_is_explained_next_to_the_field(
    page: Page, chromium: Browser, live_server
):
    other = chromium.new_context(base_url=live_server.url)
    try:
        first = other.new_page()
        first.goto("/signup")
        fill_and_submit(first, "ann@example.com", PASSWORD, "Sign up")
        expect(first).to_have_url(f"{live_server.url}/training")
    finally:
        other.close()

    page.goto("/signup")
    fill_and_submit(page, "ANN@example.com", "another passphrase", "Sign up")
    email = page.get_by_label("Email")
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#email-error")).to_have_text("An account with this email already exists.")
    expect(email).to_have_value("ANN@example.com")
