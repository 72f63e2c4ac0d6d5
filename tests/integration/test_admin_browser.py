"""The admin pages in Chromium, on DynamoDB Local: an admin with an authenticator app finds a
user, bans them (their open browser is signed out at its next navigation), lifts the ban,
impersonates them with a reason, sees the banner on every page, and stops. axe-core finds no
WCAG 2.1 A or AA violation on any of these pages, in each state met on the way."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import Page, expect

from chalicelib import runtime
from devtools.admin import change_roles
from tests.integration.axe import assert_accessible
from tests.integration.browser import confirm_it_is_you, sign_up_in_browser

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test

BOB = "bob@example.com"


def turn_on_an_authenticator_app(page: Page) -> None:
    confirm_it_is_you(page)
    page.get_by_role("button", name="Set up an authenticator app").click()
    totp = pyotp.TOTP(page.locator("#totp-secret").inner_text())
    page.locator("#enable-2fa-code").fill(totp.now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.locator("#recovery-codes")).to_be_visible()


def test_an_admin_bans_impersonates_and_stops_in_the_browser(page: Page, chromium, live_server):
    bobs = chromium.new_context(base_url=live_server.url)
    bob = bobs.new_page()
    sign_up_in_browser(bob, BOB)  # Bob's browser stays open on /training

    sign_up_in_browser(page, verify_from=live_server.outbox)
    services = runtime.get()
    change_roles(
        services.store, services.settings, "ann@example.com", add=("admin",), remove_all=False
    )
    page.goto("/admin")
    expect(page.locator("#admin-error")).to_be_visible()  # no second factor in this sign-in
    assert_accessible(page, "the admin page, refused for want of a second factor")
    turn_on_an_authenticator_app(page)  # this sign-in has now given one

    page.goto("/admin")
    assert_accessible(page, "the admin search")
    page.get_by_label("Email (its beginning) or user id").fill("BOB")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#results")).to_contain_text(BOB)
    assert_accessible(page, "the admin search's results")
    page.get_by_role("link", name=BOB).click()
    expect(page.locator("#user-email")).to_have_text(BOB)
    assert_accessible(page, "a user's admin page")

    page.get_by_role("button", name="Ban").click()  # the browser asks for the reason first
    page.locator("#ban-reason").fill("spam")
    page.get_by_role("button", name="Ban").click()  # and for the box
    expect(page.locator("#ban-confirm")).to_be_visible()
    page.locator("#ban-confirm").check()
    page.get_by_role("button", name="Ban").click()
    expect(page.locator("#notice")).to_have_text(re.compile("The user is banned"))
    expect(page.locator("#user-status")).to_contain_text("spam")
    assert_accessible(page, "a banned user's admin page")

    bob.reload()
    expect(bob).to_have_url(re.compile(r"/login$"))  # signed out at its next navigation
    bob.get_by_label("Email").fill(BOB)
    bob.get_by_label("Password").fill("correct horse battery")
    bob.get_by_role("button", name="Log in").click()
    expect(bob.get_by_role("alert")).to_contain_text("This account is disabled")
    bobs.close()

    page.locator("#unban-confirm").check()
    page.get_by_role("button", name="Unban").click()
    expect(page.locator("#notice")).to_have_text("The ban was lifted.")

    page.locator("#impersonate-reason").fill("ticket 42")
    page.locator("#impersonate-confirm").check()
    page.get_by_role("button", name="Impersonate").click()
    expect(page).to_have_url(re.compile(r"/training$"))
    banner = page.get_by_role("complementary", name="Impersonation")
    expect(banner).to_contain_text(f"You are signed in as {BOB} by ann@example.com")
    assert_accessible(page, "the training page while impersonating")
    page.goto("/settings")
    expect(banner).to_be_visible()
    assert_accessible(page, "settings while impersonating")
    page.get_by_role("button", name="Stop impersonating").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("complementary", name="Impersonation")).to_have_count(0)
