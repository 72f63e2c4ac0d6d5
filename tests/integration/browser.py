"""What the browser tests share: Chromium's launch, the helpers that drive our forms, and
Chromium's virtual authenticator (CDP's WebAuthn domain) for passkeys."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect

from devtools.outbox import Mailbox
from tests.helpers import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def session_cookies(context: BrowserContext) -> list[dict]:
    """The session cookie, if the browser holds one (the login page also sets a short-lived
    cookie that binds a passkey sign-in's challenge to this browser)."""
    return [c for c in context.cookies() if c["name"] == "auth_session"]


def fill_and_submit(page: Page, email: str, password: str, button: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name=button).click()


def sign_up_in_browser(
    page: Page, email: str = "ann@example.com", *, verify_from: Mailbox | None = None
) -> None:
    """Sign up through the page; with `verify_from`, also type in the code mailed there (an
    account adds a second factor, a passkey or a sign-in only once its address is verified)."""
    page.goto("/signup")
    fill_and_submit(page, email, PASSWORD, "Sign up")
    expect(page).to_have_url(re.compile(r"/training$"))
    if verify_from is not None:
        verify_in_browser(page, verify_from, email)


def verify_in_browser(page: Page, mailbox: Mailbox, email: str = "ann@example.com") -> None:
    page.goto("/verify-email")
    page.get_by_label("Code").fill(mailbox.code(email))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/training$"))


class VirtualAuthenticator:
    """A platform authenticator inside this page's Chromium (CDP's WebAuthn domain): resident
    keys, user verification, presence simulated unless switched off."""

    def __init__(self, context: BrowserContext, page: Page, *, user_verified: bool = True) -> None:
        self.cdp = context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable")
        self.id = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": user_verified,
                    "automaticPresenceSimulation": True,
                }
            },
        )["authenticatorId"]

    def present(self, enabled: bool) -> None:
        """With presence off, a pending request (the login page's autofill) waits."""
        self.cdp.send(
            "WebAuthn.setAutomaticPresenceSimulation",
            {"authenticatorId": self.id, "enabled": enabled},
        )

    def credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]


def confirm_it_is_you(page: Page, password: str = PASSWORD) -> None:
    """Settings' one confirmation (the password here): the changes below it need no more."""
    page.goto("/settings")
    page.locator("#confirm-password").fill(password)
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.locator("#reauthenticated")).to_be_visible()


def add_passkey(page: Page, name: str = "This laptop") -> None:
    confirm_it_is_you(page)
    page.locator("#passkey-name").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("#notice")).to_have_text("Your passkey was added.", timeout=15_000)


def sign_in_at_the_provider(page: Page, email: str) -> None:
    """The local OpenID Provider's development forms: any login, then its consent."""
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill("any")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()
