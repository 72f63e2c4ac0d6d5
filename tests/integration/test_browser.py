"""The pages in a real browser: Debian's Chromium driven by Playwright, against the live server.

Playwright's own browser download cannot work on these machines and is never attempted: the
tests launch /usr/bin/chromium, which `make test` installs when missing
(devtools/ensure-chromium). Without it they fail rather than skip.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.integration.browser import (
    PASSWORD,
    VirtualAuthenticator,
    add_passkey,
    confirm_it_is_you,
    fill_and_submit,
    session_cookies,
    sign_in_at_the_provider,
    sign_up_in_browser,
)

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test


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
    assert session_cookies(context) == []

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
    assert session_cookies(context) == []

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


# -- the account's life: verification, a forgotten password, settings -------------------------


def test_verify_the_email_with_the_code_from_the_outbox(page: Page, live_server):
    sign_up_in_browser(page)
    page.get_by_role("link", name="Settings").click()
    expect(page.locator("#email-state")).to_have_text("not verified")
    page.get_by_role("link", name="Verify it").click()
    expect(page).to_have_url(f"{live_server.url}/verify-email")
    expect(page.locator("#user-email")).to_have_text("ann@example.com")

    page.get_by_label("Code").fill("WRONG123")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#code-error")).to_have_text(
        "This code is not right. Check it and try again."
    )
    expect(page.get_by_label("Code")).to_have_attribute("aria-invalid", "true")

    page.get_by_role("button", name="Send a new code").click()
    expect(page.get_by_role("status")).to_have_text("We sent you a new code.")
    code = live_server.outbox.code("ann@example.com")
    page.get_by_label("Code").fill(code.lower())  # what a person might type
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{live_server.url}/training")
    page.goto("/settings")
    expect(page.locator("#email-state")).to_have_text("verified")


def test_forgotten_password_reset_through_the_emailed_link(
    page: Page, context: BrowserContext, live_server
):
    sign_up_in_browser(page)
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page).to_have_url(f"{live_server.url}/forgot-password")
    page.get_by_label("Email").fill("ann@example.com")
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator("#reset-sent")).to_contain_text("ann@example.com")

    link = live_server.outbox.link("ann@example.com")
    response = page.goto(link)
    assert response is not None
    assert response.headers["referrer-policy"] == "no-referrer"
    page.get_by_label("New password").fill("password1")  # too common: refused, link kept
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator("#new_password-error")).to_contain_text("most common")
    page.get_by_label("New password").fill("a brand new passphrase")
    page.get_by_role("button", name="Set the new password").click()
    expect(page).to_have_url(f"{live_server.url}/training")
    mail = live_server.outbox.last("ann@example.com")
    assert mail.subject == "Your password was changed"

    page.goto(link)  # used once: the second time it is refused
    page.get_by_label("New password").fill("yet another passphrase")
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator("#form-error")).to_contain_text("invalid, expired or already used")


def test_settings_change_email_password_sessions_and_delete(
    page: Page, chromium: Browser, live_server
):
    sign_up_in_browser(page)
    other = chromium.new_context(base_url=live_server.url)
    try:
        laptop = other.new_page()
        laptop.goto("/login")
        fill_and_submit(laptop, "ann@example.com", PASSWORD, "Log in")
        expect(laptop).to_have_url(f"{live_server.url}/training")

        page.goto("/settings")
        sessions = page.locator(".sessions li")
        expect(sessions).to_have_count(2)
        # Each device as people know it (Chromium on this machine), never the raw header.
        expect(sessions.locator("strong")).to_have_text(["Chrome on Linux", "Chrome on Linux"])
        assert "Mozilla/5.0" not in page.content()
        # Sign the laptop out from here: its next page load lands on the login form.
        page.locator(".sessions li", has_not=page.get_by_text("this device")).get_by_role(
            "button", name=re.compile("Sign out")
        ).click()
        expect(page.locator("#notice")).to_have_text("That session was signed out.")
        expect(sessions).to_have_count(1)
        laptop.reload()
        expect(laptop).to_have_url(f"{live_server.url}/login")
    finally:
        other.close()

    # One confirmation, asked once: a wrong password is refused by its field, the right one
    # opens every form below for 5 minutes, none of which asks for a password.
    expect(page.locator("label", has_text="Current password")).to_have_count(1)
    page.locator("#confirm-password").fill("wrong password")
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.locator("#confirm-password-error")).to_have_text(
        "The email or password is incorrect."
    )
    page.locator("#confirm-password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.locator("#notice")).to_contain_text("Confirmed.")
    expect(page.locator("input[type=password]")).to_have_count(1)  # the new password's own
    page.get_by_label("New email").fill("ann@new.example")
    page.get_by_role("button", name="Send a code to the new address").click()
    expect(page.locator("#pending-email")).to_have_text("ann@new.example")
    notice = live_server.outbox.last("ann@example.com")
    assert notice.subject == "Someone asked to change your email address"
    page.locator("#confirm-code").fill(live_server.outbox.code("ann@new.example"))
    page.get_by_role("button", name="Confirm the new address").click()
    expect(page.locator("#notice")).to_have_text("Your email address was changed.")
    expect(page.locator("#account-email")).to_have_text("ann@new.example")
    expect(page.locator("#email-state")).to_have_text("verified")
    assert live_server.outbox.last("ann@example.com").subject == "Your email address was changed"

    page.locator("#new_password").fill("a brand new passphrase")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#notice")).to_contain_text("Your password was changed.")

    page.get_by_role("button", name="Delete my account").click()
    expect(page).to_have_url(f"{live_server.url}/")
    page.goto("/login")
    fill_and_submit(page, "ann@new.example", "a brand new passphrase", "Log in")
    expect(page.get_by_role("alert")).to_have_text("The email or password is incorrect.")


def test_the_provider_buttons_are_buttons_not_a_bulleted_list(page: Page, live_server):
    for path in ("/login", "/signup"):
        page.goto(path)
        buttons = page.locator(".providers li")
        expect(buttons).to_have_count(3)
        styles = buttons.evaluate_all("items => items.map(i => getComputedStyle(i).listStyleType)")
        assert styles == ["none", "none", "none"], path


# -- two-factor sign-in ---------------------------------------------------------------------------


def test_two_factor_enrol_sign_in_replay_recovery_and_reset(
    page: Page, context: BrowserContext, live_server
):
    import pyotp

    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_up_in_browser(page, verify_from=live_server.outbox)
    confirm_it_is_you(page)
    expect(page.locator("#two-factor-state")).to_have_text("off")
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    totp = pyotp.TOTP(secret)
    page.locator("#enable-2fa-code").fill(totp.now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    codes = page.locator("#recovery-codes").inner_text().split()
    assert len(codes) == 10
    page.get_by_role("button", name="Copy the codes").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()").split() == codes
    expect(page.locator("#two-factor-state")).to_have_text("on")
    assert live_server.outbox.last("ann@example.com").subject == "Two-factor sign-in is on"

    # Log out, log in: the password alone leads to the second step.
    page.get_by_role("button", name="Log out").click()
    fill_and_submit(page, "ann@example.com", PASSWORD, "Log in")
    expect(page).to_have_url(f"{live_server.url}/2fa")
    page.goto("/training")
    expect(page).to_have_url(f"{live_server.url}/2fa")
    # The step that enabled it is spent; the next step's code is accepted (clocks drift).
    code = totp.at(time.time() + 30)
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{live_server.url}/training")

    # The same code again, in another sign-in, is refused.
    page.get_by_role("button", name="Log out").click()
    fill_and_submit(page, "ann@example.com", PASSWORD, "Log in")
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#code-error")).to_have_text(
        "This code is not right. Check it and try again."
    )
    # A recovery code gets in, once.
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{live_server.url}/training")
    page.goto("/settings")
    expect(page.locator("#recovery-left")).to_have_text("9")

    # A forgotten password: the link and the second factor together.
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("ann@example.com")
    page.get_by_role("button", name="Send the link").click()
    page.goto(live_server.outbox.link("ann@example.com"))
    page.get_by_label("New password").fill("a brand new passphrase")
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator("#code-error")).to_contain_text("Confirm with your second factor")
    page.get_by_label("New password").fill("a brand new passphrase")
    page.get_by_label("Code").fill(codes[1])
    page.get_by_role("button", name="Set the new password").click()
    expect(page).to_have_url(f"{live_server.url}/training")
    assert not [p for p in problems if "Content Security Policy" in p], problems


# -- passkeys, with Chromium's virtual authenticator ---------------------------------------------


def test_passkeys_register_sign_in_second_factor_and_delete(
    page: Page, context: BrowserContext, live_server
):
    assert live_server.url.startswith("http://localhost:")  # WebAuthn refuses IP addresses
    authenticator = VirtualAuthenticator(context, page)
    sign_up_in_browser(page, verify_from=live_server.outbox)
    add_passkey(page)
    expect(page.locator(".passkey-name")).to_have_text("This laptop")
    (credential,) = authenticator.credentials()
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == "localhost"
    assert (
        live_server.outbox.last("ann@example.com").subject == "A passkey was added to your account"
    )

    # Sign in with the passkey and no password: two factors at once.
    page.get_by_role("button", name="Log out").click()
    authenticator.present(False)  # keep the login page's autofill request waiting
    page.goto("/login")
    page.get_by_role("button", name="Sign in with a passkey").click()  # replaces that request
    authenticator.present(True)  # the user touches the sensor
    expect(page).to_have_url(f"{live_server.url}/training", timeout=15_000)
    session = page.request.get(f"{live_server.url}/auth/session").json()
    assert session["session"]["two_factor_verified"] is True
    assert session["user"]["two_factor_enabled"] is True

    # A password login, then the passkey as its second factor.
    page.get_by_role("button", name="Log out").click()
    authenticator.present(False)
    page.goto("/login")
    fill_and_submit(page, "ann@example.com", PASSWORD, "Log in")
    expect(page).to_have_url(f"{live_server.url}/2fa")
    authenticator.present(True)
    page.get_by_role("button", name="Use a passkey").click()
    expect(page).to_have_url(f"{live_server.url}/training", timeout=15_000)

    # The browser's autofill: with presence on, the login page's conditional request
    # resolves by itself under a virtual authenticator, and signs in.
    page.get_by_role("button", name="Log out").click()
    page.goto("/login")
    expect(page).to_have_url(f"{live_server.url}/training", timeout=15_000)

    # Five minutes later (the sessions' last re-authentication moved back that far), settings
    # ask to confirm it is you: with the passkey itself. Then delete it: two-factor is off.
    for session in live_server.items("SESSION#"):
        live_server.client.update_item(
            TableName=live_server.table,
            Key={"pk": session["pk"]},
            UpdateExpression="SET reauthenticated_at = :long_ago",
            ExpressionAttributeValues={":long_ago": {"N": "0"}},
        )
    page.goto("/settings")
    expect(page.locator("#confirm-first")).to_be_visible()
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.locator("#reauthenticated")).to_be_visible(timeout=15_000)
    page.get_by_text("Rename or delete").click()
    page.get_by_role("button", name="Delete this passkey").click()
    expect(page.locator("#notice")).to_have_text("Your passkey was deleted.")
    expect(page.locator(".passkey-name")).to_have_count(0)
    session = page.request.get(f"{live_server.url}/auth/session").json()
    assert session["user"]["two_factor_enabled"] is False


def test_an_authenticator_without_user_verification_is_refused(
    page: Page, context: BrowserContext, live_server
):
    authenticator = VirtualAuthenticator(context, page, user_verified=False)
    sign_up_in_browser(page, verify_from=live_server.outbox)
    confirm_it_is_you(page)
    page.locator("#passkey-name").fill("No screen lock")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("#passkey-add-error")).to_contain_text(
        "The passkey was not added", timeout=15_000
    )
    assert authenticator.credentials() == []
    assert live_server.items("PASSKEY#") == []


# -- sign-in by emailed code, an account without a password -------------------------------------


def test_sign_up_and_in_with_codes_set_a_password_and_add_a_passkey_after_a_code(
    page: Page, context: BrowserContext, live_server
):
    outbox = live_server.outbox
    page.goto("/signup")
    page.get_by_role("link", name="Sign up with a code we email you").click()
    expect(page).to_have_url(f"{live_server.url}/login/code")
    page.get_by_label("Email").fill("cody@example.com")
    page.get_by_role("button", name="Email me a code").click()
    expect(page.locator("#code-sent")).to_contain_text("cody@example.com")
    assert outbox.last("cody@example.com").subject == "Your sign-in code"
    page.get_by_label("Code").fill(outbox.code("cody@example.com").lower())
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/training")
    session = page.request.get(f"{live_server.url}/auth/session").json()
    assert session["user"]["has_password"] is False
    assert session["user"]["email_verified"] is True

    # Sign out; sign in again from the login page, by code.
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("link", name="Email me a sign-in code").click()
    page.get_by_label("Email").fill("cody@example.com")
    page.get_by_role("button", name="Email me a code").click()
    page.get_by_label("Code").fill(outbox.code("cody@example.com"))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/training")

    # The mailed link: opening it fills the code in and signs nobody in, until the button.
    page.get_by_role("button", name="Log out").click()
    page.goto("/login/code")
    page.get_by_label("Email").fill("cody@example.com")
    page.get_by_role("button", name="Email me a code").click()
    link = outbox.link("cody@example.com")
    page.goto(link)
    expect(page.get_by_label("Code")).to_have_value(outbox.code("cody@example.com"))
    assert session_cookies(context) == []
    page.reload()  # opened again, as a scanner and then the person would
    assert session_cookies(context) == []
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/training")

    # Settings: no password fields; a code confirms it is the user; then set a password.
    authenticator = VirtualAuthenticator(context, page)
    page.goto("/settings")
    expect(page.get_by_label("Current password")).to_have_count(0)
    page.get_by_label("New password").fill("a brand new passphrase")
    page.get_by_role("button", name="Set a password").click()
    expect(page.locator("#password-error")).to_contain_text("Confirm it is you first")
    page.get_by_role("button", name="Email me a code").click()
    expect(page.locator("#reauthentication-sent")).to_be_visible()
    assert outbox.last("cody@example.com").subject == "Your confirmation code"
    page.locator("#reauthenticate-code").fill(outbox.code("cody@example.com"))
    page.get_by_role("button", name="Confirm with the code").click()
    expect(page.locator("#reauthenticated")).to_be_visible()

    # Within those 5 minutes: a passkey, with no password asked.
    page.locator("#passkey-name").fill("Phone")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("#notice")).to_have_text("Your passkey was added.", timeout=15_000)
    assert len(authenticator.credentials()) == 1

    # And the first password.
    page.get_by_label("New password").fill("a brand new passphrase")
    page.get_by_role("button", name="Set a password").click()
    expect(page.locator("#notice")).to_contain_text("Your password was set.")
    assert outbox.last("cody@example.com").subject == "A password was added to your account"
    page.get_by_role("button", name="Log out").click()
    authenticator.present(False)  # keep the login page's autofill request waiting
    page.goto("/login")
    fill_and_submit(page, "cody@example.com", "a brand new passphrase", "Log in")
    expect(page).to_have_url(f"{live_server.url}/2fa")  # the passkey is a second factor now


def test_a_quiet_sign_up_finishes_in_the_browser_that_chose_the_password(
    page: Page, context: BrowserContext, chromium: Browser, configure, live_server
):
    """SIGNUP_REVEALS_ACCOUNTS=false: the sign-up page asks for the mailed code, and the code
    entered in this browser makes the account with the password chosen here; opened in
    another browser, it makes the account without one (that password was never theirs)."""
    configure(SIGNUP_REVEALS_ACCOUNTS="false")
    outbox = live_server.outbox
    page.goto("/signup")
    fill_and_submit(page, "quinn@example.com", PASSWORD, "Sign up")
    expect(page.get_by_role("heading", name="Finish signing up")).to_be_visible()
    expect(page.locator("#code-sent")).to_contain_text("quinn@example.com")
    assert session_cookies(context) == []
    (binding,) = [c for c in context.cookies() if c["name"] == "signup_attempt"]
    assert (binding["httpOnly"], binding["sameSite"], binding["path"]) == (True, "Lax", "/")
    page.get_by_label("Code").fill(outbox.code("quinn@example.com"))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/training")
    session = page.request.get(f"{live_server.url}/auth/session").json()
    assert session["user"]["has_password"] is True
    assert [c for c in context.cookies() if c["name"] == "signup_attempt"] == []

    # Someone else signs up with Rae's address; Rae opens the mailed link in her own browser.
    page.get_by_role("button", name="Log out").click()
    page.goto("/signup")
    fill_and_submit(page, "rae@example.com", "not raes passphrase", "Sign up")
    expect(page.get_by_role("heading", name="Finish signing up")).to_be_visible()
    rae = chromium.new_context(base_url=live_server.url).new_page()
    rae.goto(outbox.link("rae@example.com"))
    rae.get_by_role("button", name="Sign in").click()
    expect(rae).to_have_url(f"{live_server.url}/training")
    session = rae.request.get(f"{live_server.url}/auth/session").json()
    assert session["user"]["has_password"] is False
    rae.context.close()


# -- social sign-in, with the local OpenID Provider ------------------------------------------------


def test_social_sign_up_sign_in_connect_and_the_last_way_in_kept(
    page: Page, chromium: Browser, live_server
):
    page.goto("/signup")
    page.get_by_role("link", name="Continue with Local test provider").click()
    sign_in_at_the_provider(page, "sol+unverified@example.com")
    expect(page).to_have_url(f"{live_server.url}/training")
    session = page.request.get(f"{live_server.url}/auth/session").json()
    assert session["user"]["has_password"] is False

    # Sign out; in again from the login page (the provider remembers its own session).
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("link", name="Continue with Local test provider").click()
    if "/interaction/" in page.url:
        sign_in_at_the_provider(page, "sol+unverified@example.com")
    expect(page).to_have_url(f"{live_server.url}/training")

    # Its only way in (no password, no passkey, an unverified address): disconnecting it is
    # refused, after the code that confirms it is the user.
    page.goto("/settings")
    expect(page.locator(".identity-name")).to_have_text("Local test provider")
    page.get_by_role("button", name="Email me a code").click()
    page.locator("#reauthenticate-code").fill(live_server.outbox.code("sol+unverified@example.com"))
    page.get_by_role("button", name="Confirm with the code").click()
    page.get_by_role("button", name="Disconnect Local test provider").click()
    expect(page.locator("#identities-error")).to_contain_text("last way to sign in")
    expect(page.locator(".identity-name")).to_have_count(1)

    # A password account connects it in its settings (the password confirms).
    other = chromium.new_context(base_url=live_server.url)
    try:
        ann = other.new_page()
        sign_up_in_browser(ann, "ann@example.com", verify_from=live_server.outbox)
        ann.goto("/settings")
        expect(ann.locator("#connect-after-confirming")).to_be_visible()
        confirm_it_is_you(ann)
        ann.get_by_role("link", name="Connect Local test provider").click()
        sign_in_at_the_provider(ann, "ann.elsewhere@example.com")
        expect(ann).to_have_url(f"{live_server.url}/settings?notice=identity-linked")
        expect(ann.locator(".identity-name")).to_have_text("Local test provider")
        assert live_server.outbox.last("ann@example.com").subject == (
            "Local test provider sign-in was connected"
        )
    finally:
        other.close()


def test_download_your_data_from_settings(page: Page, live_server):
    """The settings page's link saves the user's data as a file: theirs, and no secret."""
    import json
    from pathlib import Path

    sign_up_in_browser(page)
    page.goto("/settings")
    with page.expect_download() as started:
        page.get_by_role("link", name="Download your data").click()
    download = started.value
    assert download.suggested_filename == "my-account-data.json"
    document = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert document["user"]["email"] == "ann@example.com"
    assert [s["current"] for s in document["sessions"]] == [True]
    assert PASSWORD not in json.dumps(document)
