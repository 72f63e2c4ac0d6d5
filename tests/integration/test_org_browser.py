"""Organizations in Chromium, on DynamoDB Local: an owner signs up and creates an organization,
invites a colleague by mail; the colleague opens the link, signs up, verifies and accepts; the
owner makes them admin; they switch to the organization, and the access token their page then
gets names it with their role there."""

from __future__ import annotations

import base64
import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.integration.browser import PASSWORD, fill_and_submit, sign_up_in_browser

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test

OWNER = "ann@example.com"
COLLEAGUE = "bob@example.com"


def create_organization(page: Page, name: str, slug: str) -> str:
    """From the settings' link to its form; the new organization's id (on its page now)."""
    page.goto("/settings")
    page.get_by_role("link", name="Create an organization").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Slug", exact=True).fill(slug)
    page.get_by_role("button", name="Create the organization").click()
    expect(page.locator("#notice")).to_have_text(
        "Your organization was created. You are its owner."
    )
    return re.search(r"/orgs/([0-9a-f-]{36})/page", page.url)[1]


def invite_by_the_form(page: Page, email: str, role: str = "member") -> None:
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Role", exact=True).select_option(role)
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.locator("#notice")).to_have_text("The invitation was sent.")


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_an_owner_invites_a_colleague_who_joins_is_made_admin_and_switches(
    page: Page, chromium, live_server
):
    outbox = live_server.outbox
    sign_up_in_browser(page, OWNER, verify_from=outbox)
    org_id = create_organization(page, "Acme Labs", "acme-labs")
    invite_by_the_form(page, COLLEAGUE)
    expect(page.locator(".invitations")).to_contain_text(f"{COLLEAGUE} as member")
    link = outbox.link(COLLEAGUE)
    assert link.startswith(f"{live_server.url}/orgs/invitation?token=")

    colleagues = chromium.new_context(base_url=live_server.url)
    colleagues.set_default_timeout(15_000)
    try:
        bob = colleagues.new_page()
        bob.goto(link)
        expect(bob.locator("#invitation-org")).to_have_text("Acme Labs")
        expect(bob.locator("#invitation-inviter")).to_have_text(OWNER)
        expect(bob.locator("#invitation-email")).to_have_text(COLLEAGUE)
        expect(bob.get_by_role("button", name=re.compile("Accept"))).to_have_count(0)

        # A new account, by the link's "Create an account": back to the invitation after.
        bob.get_by_role("link", name="Create an account").click()
        fill_and_submit(bob, COLLEAGUE, PASSWORD, "Sign up")
        expect(bob).to_have_url(link)
        expect(bob.locator("#accept-error")).to_have_text("Verify your email address to continue.")
        bob.get_by_role("link", name="Verify your email address").click()
        bob.get_by_label("Code").fill(outbox.code(COLLEAGUE))
        bob.get_by_role("button", name="Verify").click()
        expect(bob).to_have_url(link)
        expect(bob.locator("#accept-error")).to_have_count(0)
        bob.get_by_role("button", name="Accept and join Acme Labs").click()
        expect(bob.locator("#notice")).to_have_text(
            "Welcome: you are a member of this organization."
        )
        expect(bob.locator("#your-role")).to_have_text("member")
        expect(bob.locator("#invite")).to_have_count(0)  # a member invites nobody

        # The owner makes them admin.
        page.goto(f"/orgs/{org_id}/page")
        row = page.locator("tr", has_text=COLLEAGUE)
        row.get_by_label(f"Role of {COLLEAGUE}", exact=True).select_option("admin")
        row.get_by_role("button", name=f"Change the role of {COLLEAGUE}").click()
        expect(page.locator("#notice")).to_have_text("The member's role was changed.")
        expect(page.locator("tr", has_text=COLLEAGUE).locator(".member-role")).to_have_text("admin")

        # They switch to it on the settings page; the token their page gets names it.
        before = claims_of(
            bob.evaluate(
                "async () => (await (await fetch('/auth/token', {method: 'POST'})).json())"
                ".access_token"
            )
        )
        assert "org_id" not in before
        bob.goto("/settings")
        bob.get_by_label("Acme Labs (admin)").check()
        bob.get_by_role("button", name="Switch").click()
        expect(bob.locator("#notice")).to_have_text("You now work in the organization you chose.")
        expect(bob.get_by_label("Acme Labs (admin)")).to_be_checked()
        answer = bob.evaluate(
            "async () => { const r = await fetch('/auth/token', {method: 'POST'});"
            " return {status: r.status, body: await r.json()}; }"
        )
        assert answer["status"] == 200, answer
        claims = claims_of(answer["body"]["access_token"])
        assert claims["org_id"] == org_id
        assert claims["org_role"] == "admin"
        assert "members:invite" in claims["org_permissions"]
        assert "org:delete" not in claims["org_permissions"]
        session = bob.evaluate("async () => (await fetch('/auth/session')).json()")
        assert session["organization"]["id"] == org_id
        assert session["organization"]["role"] == "admin"
    finally:
        colleagues.close()
