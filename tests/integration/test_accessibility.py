"""Every page, in each state a person meets it in (empty, with an error, after success), has no
WCAG 2.1 A or AA violation that axe-core finds, in Chromium.

A new page or a new state of one belongs here: the walk below visits them in a user's order.
"""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.integration.axe import assert_accessible
from tests.integration.browser import (
    PASSWORD,
    confirm_it_is_you,
    fill_and_submit,
    sign_in_at_the_provider,
    sign_up_in_browser,
    verify_in_browser,
)

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test


def test_the_signed_out_pages_and_their_errors(page: Page, live_server):
    for path in ("/", "/signup", "/login", "/forgot-password"):
        page.goto(path)
        assert_accessible(page, path)

    page.goto("/login")
    fill_and_submit(page, "nobody@example.com", "wrong password", "Log in")
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page, "the login form with its error")

    page.goto("/signup")
    fill_and_submit(page, "ann@example.com", "password1", "Sign up")  # too common
    expect(page.locator("#password-error")).to_be_visible()
    assert_accessible(page, "the sign-up form with its error")

    page.goto("/forgot-password")
    page.get_by_label("Email").fill("nobody@example.com")
    page.get_by_role("button", name="Send the link").click()
    expect(page.locator("#reset-sent")).to_be_visible()
    assert_accessible(page, "the reset request's confirmation")

    page.goto("/reset-password?token=not-a-token")
    page.get_by_label("New password").fill("a brand new passphrase")
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator("#form-error")).to_be_visible()
    assert_accessible(page, "the reset form with a bad link")


def test_the_signed_in_pages_through_two_factor(page: Page, live_server):
    sign_up_in_browser(page)
    assert_accessible(page, "the training page")

    page.goto("/verify-email")
    page.get_by_label("Code").fill("WRONG123")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#code-error")).to_be_visible()
    assert_accessible(page, "the verification form with its error")

    page.goto("/settings")
    expect(page.locator("#verify-first")).to_be_visible()
    assert_accessible(page, "settings of an unverified account")
    verify_in_browser(page, live_server.outbox)
    page.goto("/settings")
    assert_accessible(page, "settings")
    page.locator("#confirm-password").fill("wrong password")
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.locator("#confirm-password-error")).to_be_visible()
    assert_accessible(page, "settings with an error")

    confirm_it_is_you(page)
    assert_accessible(page, "settings, confirmed")
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.locator(".qr svg")).to_be_visible()
    assert_accessible(page, "settings with the QR code")
    totp = pyotp.TOTP(page.locator("#totp-secret").inner_text())
    page.locator("#enable-2fa-code").fill(totp.now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.locator("#recovery-codes")).to_be_visible()
    assert_accessible(page, "settings with the recovery codes")

    page.get_by_role("button", name="Log out").click()
    fill_and_submit(page, "ann@example.com", PASSWORD, "Log in")
    expect(page).to_have_url(re.compile(r"/2fa$"))
    assert_accessible(page, "the second step")
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#code-error")).to_be_visible()
    assert_accessible(page, "the second step with its error")


def test_the_code_sign_in_pages_and_settings_without_a_password(page: Page, live_server):
    outbox = live_server.outbox
    page.goto("/login/code")
    assert_accessible(page, "sign in with a code")
    page.get_by_label("Email").fill("cody@example.com")
    page.get_by_role("button", name="Email me a code").click()
    expect(page.locator("#code-sent")).to_be_visible()
    assert_accessible(page, "the code was sent")
    page.get_by_label("Code").fill("ZZZZZZZZ")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#code-error")).to_be_visible()
    assert_accessible(page, "a wrong code")
    page.goto(outbox.link("cody@example.com"))
    assert_accessible(page, "the mailed link's page")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/training$"))

    page.goto("/settings")
    assert_accessible(page, "settings without a password")
    page.get_by_role("button", name="Email me a code").click()
    expect(page.locator("#reauthentication-sent")).to_be_visible()
    assert_accessible(page, "settings asking for the confirmation code")
    page.locator("#reauthenticate-code").fill("ZZZZZZZZ")
    page.get_by_role("button", name="Confirm with the code").click()
    expect(page.locator("#reauthenticate-code-error")).to_be_visible()
    assert_accessible(page, "settings with a wrong confirmation code")
    page.locator("#reauthenticate-code").fill(outbox.code("cody@example.com"))
    page.get_by_role("button", name="Confirm with the code").click()
    expect(page.locator("#reauthenticated")).to_be_visible()
    assert_accessible(page, "settings, confirmed")


def test_social_sign_in_pages_and_connected_sign_ins_in_settings(page: Page, live_server):
    page.goto("/login")
    assert_accessible(page, "the login page with its providers")
    page.get_by_role("link", name="Continue with Local test provider").click()
    sign_in_at_the_provider(page, "sol@example.com")
    expect(page).to_have_url(re.compile(r"/training$"))
    page.goto("/settings")
    expect(page.locator(".identity-name")).to_have_text("Local test provider")
    assert_accessible(page, "settings with a connected sign-in")
    page.get_by_role("button", name="Email me a code").click()
    page.locator("#reauthenticate-code").fill(live_server.outbox.code("sol@example.com"))
    page.get_by_role("button", name="Confirm with the code").click()
    expect(page.get_by_role("link", name="Connect GitHub")).to_be_visible()
    assert_accessible(page, "settings offering to connect the other providers")
    page.get_by_role("button", name="Disconnect Local test provider").click()
    expect(page.locator("#notice")).to_have_text("The sign-in was disconnected.")
    assert_accessible(page, "settings after a disconnection")

    page.goto("/auth/oauth/local/callback?state=forged&code=x")
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page, "the login page after a failed social sign-in")


def test_the_organization_pages_as_owner_member_and_invited(
    page: Page, chromium: Browser, live_server
):
    outbox = live_server.outbox
    sign_up_in_browser(page, verify_from=outbox)
    page.goto("/settings")
    expect(page.locator("#no-organizations")).to_be_visible()
    assert_accessible(page, "settings without an organization")
    page.get_by_role("link", name="Create an organization").click()
    assert_accessible(page, "the new organization's form")
    page.get_by_label("Name", exact=True).fill("Acme")
    page.get_by_label("Slug", exact=True).fill("Not a slug")
    page.get_by_role("button", name="Create the organization").click()
    expect(page.locator("#slug-error")).to_be_visible()
    assert_accessible(page, "the new organization's form with its error")
    page.get_by_label("Slug", exact=True).fill("acme")
    page.get_by_role("button", name="Create the organization").click()
    expect(page.locator("#notice")).to_be_visible()
    assert_accessible(page, "an organization's page, its owner's")

    page.get_by_label("Email", exact=True).fill("ann@example.com")  # a member already
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.locator("#invite-email-error")).to_be_visible()
    assert_accessible(page, "an organization's page with an error by the invitation form")
    page.get_by_label("Email", exact=True).fill("carol@example.com")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.locator(".invitations")).to_contain_text("carol@example.com")
    assert_accessible(page, "an organization's page with a pending invitation")
    link = outbox.link("carol@example.com")

    others = chromium.new_context(base_url=live_server.url)
    others.set_default_timeout(15_000)
    try:
        other = others.new_page()
        other.goto("/orgs/invitation?token=not-a-token")
        expect(other.locator("#accept-error")).to_be_visible()
        assert_accessible(other, "the invitation page of a broken link")
        other.goto(link)
        expect(other.locator("#signed-out")).to_be_visible()
        assert_accessible(other, "the invitation page, signed out")
        other.get_by_role("link", name="Create an account").click()
        fill_and_submit(other, "dave@example.com", PASSWORD, "Sign up")
        expect(other.locator("#other-address")).to_be_visible()
        assert_accessible(other, "the invitation page, signed in as another address")
        other.get_by_role("button", name="Log out").click()

        other.goto(link)
        other.get_by_role("link", name="Create an account").click()
        fill_and_submit(other, "carol@example.com", PASSWORD, "Sign up")
        expect(other.locator("#verify-link")).to_be_visible()
        assert_accessible(other, "the invitation page, the address not yet verified")
        other.get_by_role("link", name="Verify your email address").click()
        other.get_by_label("Code").fill(outbox.code("carol@example.com"))
        other.get_by_role("button", name="Verify").click()
        expect(other.locator("#accept")).to_be_visible()
        assert_accessible(other, "the invitation page, ready to accept")
        other.locator("#accept").click()
        expect(other.locator("#your-role")).to_have_text("member")
        assert_accessible(other, "an organization's page, a member's")
        other.goto("/settings")
        other.get_by_label("Acme (member)").check()
        other.get_by_role("button", name="Switch").click()
        expect(other.get_by_label("Acme (member)")).to_be_checked()
        assert_accessible(other, "settings with the switcher, an organization active")
    finally:
        others.close()
