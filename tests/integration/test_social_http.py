"""Social sign-in over HTTP on DynamoDB Local: against the real OpenID Provider of `make dev`
(panva's oidc-provider: PKCE enforced, email only in UserInfo, `iss` in its answers), a stub
of GitHub's API, and a stub provider signing the ID tokens each test asks for."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pyotp
import pytest

from devtools.oidc_local import sign_in
from tests.helpers import PASSWORD, Browser, sign_up_over_http
from tests.integration.oauth_stubs import GitHubUser

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test

JSON = {"Accept": "application/json"}


def start(live_server, browser: Browser, provider: str = "local", **query: str):
    """The start's redirect to the provider (its URL), with the attempt cookie kept."""
    path = f"/auth/oauth/{provider}" + (f"?{urlencode(query)}" if query else "")
    response = browser.get(live_server.url + path, allow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["Location"]


def callback_url(live_server, browser: Browser, email: str, provider: str = "local", **query):
    """The provider's redirect back to us, after `email` signed in there."""
    authorization = start(live_server, browser, provider, **query)
    if provider != "local":  # the stubs answer their authorize URL at once
        response = browser.get(authorization, allow_redirects=False)
        return response.headers["Location"]
    return sign_in(browser, authorization, email, live_server.url)


def finish(browser: Browser, url: str, **headers: str):
    return browser.get(url, allow_redirects=False, headers=headers)


def social_sign_in(live_server, email: str, browser: Browser | None = None, **kwargs):
    browser = browser or Browser()
    response = finish(browser, callback_url(live_server, browser, email, **kwargs))
    return browser, response


def session_of(live_server, browser: Browser) -> dict:
    return browser.get(f"{live_server.url}/auth/session").json()


def with_query(url: str, **changes: str) -> str:
    """The callback URL with some of its query parameters changed (forged, say)."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return urlunsplit(parts._replace(query=urlencode({**query, **changes})))


def error_code(response) -> str:
    return response.json()["error"]["code"]


# -- signing up and in ----------------------------------------------------------------------------


def test_a_newcomer_signs_up_with_the_provider_then_signs_in_again(live_server):
    browser, response = social_sign_in(live_server, "zed@example.com")
    assert response.status_code == 303
    assert response.headers["Location"] == "/training"
    cookies = response.headers.get("Set-Cookie", "")
    assert "auth_session=" in cookies
    assert "oauth_attempt=;" in cookies  # the attempt cookie is blanked
    user = session_of(live_server, browser)["user"]
    assert (user["email"], user["email_verified"], user["has_password"]) == (
        "zed@example.com",
        True,
        False,
    )
    (identity,) = live_server.items("IDENTITY#")
    assert identity["user_id"]["S"] == user["id"]
    assert identity["issuer"]["S"] == live_server.settings.oauth_provider("local").issuer
    assert identity["subject"]["S"] == "zed@example.com"  # the provider's `sub`
    # No provider token is kept: the item holds these and nothing else.
    assert set(identity) == {
        "pk", "user_id", "provider", "issuer", "subject", "email", "created_at", "last_used_at",
    }  # fmt: skip
    assert live_server.items("OAUTH#") == []  # the attempt was used up
    again, response = social_sign_in(live_server, "zed@example.com")
    assert response.status_code == 303
    assert session_of(live_server, again)["user"]["id"] == user["id"]
    assert len(live_server.items("USER#")) == 1


def test_a_known_identity_signs_in_in_three_store_round_trips(live_server):
    social_sign_in(live_server, "zed@example.com")
    browser = Browser()
    url = callback_url(live_server, browser, "zed@example.com")
    live_server.calls.clear()
    assert finish(browser, url).status_code == 303
    # The attempt consumed; the identity and the address's claim; the session and the
    # identity's last use, in one write.
    assert live_server.calls.operations == ["DeleteItem", "BatchGetItem", "TransactWriteItems"]


def test_an_unverified_email_makes_an_unverified_account_and_mails_a_code(live_server):
    browser, response = social_sign_in(live_server, "zed+unverified@example.com")
    assert response.status_code == 303
    assert session_of(live_server, browser)["user"]["email_verified"] is False
    assert live_server.outbox.last("zed+unverified@example.com").subject == "Your verification code"


def test_next_is_honoured_only_as_a_path_of_ours(live_server):
    _, response = social_sign_in(live_server, "zed@example.com", next="/settings")
    assert response.headers["Location"] == "/settings"
    for hostile in ("//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:x",
                    "/ok\r\nSet-Cookie: x", "evil", ""):  # fmt: skip
        _, response = social_sign_in(live_server, "zed@example.com", next=hostile)
        assert response.headers["Location"] == "/training", hostile


def test_an_unknown_provider_is_404(live_server):
    response = Browser().get(f"{live_server.url}/auth/oauth/nope", headers=JSON)
    assert response.status_code == 404
    assert error_code(response) == "not_found"


# -- attempts: forged, foreign, replayed ----------------------------------------------------------


def test_a_forged_state_is_refused_in_the_error_shape_or_on_the_login_page(live_server):
    browser = Browser()
    forged = with_query(callback_url(live_server, browser, "zed@example.com"), state="forged")
    as_json = finish(browser, forged, **JSON)
    assert as_json.status_code == 400
    assert error_code(as_json) == "oauth_failed"
    page = finish(browser, forged)
    assert page.status_code == 400
    assert page.headers["Content-Type"].startswith("text/html")
    assert "did not work" in page.text
    assert live_server.items("USER#") == []


def test_another_browsers_state_is_refused_and_stays_its_owners(live_server):
    owner = Browser()
    url = callback_url(live_server, owner, "zed@example.com")
    thief = Browser()
    refused = finish(thief, url, **JSON)
    assert refused.status_code == 400
    assert error_code(refused) == "oauth_failed"
    assert finish(owner, url).status_code == 303  # still the owner's to use


def test_a_callback_replayed_six_times_at_once_makes_one_session(live_server):
    browser = Browser()
    url = callback_url(live_server, browser, "zed@example.com")
    cookie = browser.cookies["oauth_attempt"]

    def replay(_: int) -> int:
        other = Browser()
        other.cookies.set("oauth_attempt", cookie)
        return finish(other, url).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(replay, range(6)))
    assert sorted(statuses) == [303, 400, 400, 400, 400, 400], statuses
    assert len(live_server.items("SESSION#")) == 1
    assert len(live_server.items("USER#")) == 1


def test_a_mismatched_iss_and_a_denial_are_refused(live_server):
    browser = Browser()
    url = callback_url(live_server, browser, "zed@example.com")
    mixed_up = with_query(url, iss="https://evil.test")
    assert error_code(finish(browser, mixed_up, **JSON)) == "oauth_failed"
    browser = Browser()
    state = parse_qs(urlsplit(start(live_server, browser)).query)["state"][0]
    denied = f"{live_server.url}/auth/oauth/local/callback?error=access_denied&state={state}"
    assert error_code(finish(browser, denied, **JSON)) == "oauth_failed"
    assert live_server.items("USER#") == []


# -- ID tokens that must not pass ---------------------------------------------------------------


@pytest.mark.parametrize(
    "shape",
    ["wrong nonce", "wrong audience", "expired", "a stranger's key", "alg none", "HS256",
     "from the future", "another issuer", "several audiences without azp"],
)  # fmt: skip
def test_an_id_token_that_fails_any_check_signs_nobody_in(live_server, oauth_providers, shape):
    stub = oauth_providers.tokens

    def reshape(claims, header):
        key = stub.key
        if shape == "wrong nonce":
            claims["nonce"] = "not the nonce"
        elif shape == "wrong audience":
            claims["aud"] = "someone-else"
        elif shape == "expired":
            claims["exp"] = claims["iat"] = int(time.time()) - 3600
        elif shape == "a stranger's key":
            key = stub.stranger
        elif shape == "alg none":
            header["alg"] = "none"
        elif shape == "HS256":  # the client secret as an HMAC key: never accepted
            header["alg"], key = "HS256", stub.CLIENT_SECRET
        elif shape == "from the future":
            claims["iat"] = int(time.time()) + 3600
        elif shape == "another issuer":
            claims["iss"] = "https://evil.test"
        elif shape == "several audiences without azp":
            claims["aud"] = [stub.CLIENT_ID, "someone-else"]
        return claims, header, key

    stub.shape = reshape
    _, response = social_sign_in(live_server, stub.email, provider="stub")
    assert response.status_code == 400, shape
    assert "did not work" in response.text
    assert live_server.items("USER#") == []
    assert live_server.items("IDENTITY#") == []


def test_a_right_token_from_an_untrusted_provider_makes_an_unverified_account(live_server):
    browser, response = social_sign_in(live_server, "stubby@example.com", provider="stub")
    assert response.status_code == 303
    assert session_of(live_server, browser)["user"]["email_verified"] is False
    assert live_server.outbox.last("stubby@example.com").subject == "Your verification code"


# -- GitHub ------------------------------------------------------------------------------------


def test_github_signs_up_with_its_verified_primary_email(live_server, oauth_providers):
    oauth_providers.github.user = GitHubUser(
        42,
        "octo",
        [
            {"email": "old@example.com", "primary": False, "verified": True},
            {"email": "Octo@Example.com", "primary": True, "verified": True},
        ],
    )
    browser, response = social_sign_in(live_server, "", provider="github")
    assert response.status_code == 303
    user = session_of(live_server, browser)["user"]
    assert (user["email"], user["email_verified"]) == ("octo@example.com", True)
    (identity,) = live_server.items("IDENTITY#")
    assert (identity["issuer"]["S"], identity["subject"]["S"]) == (
        oauth_providers.github.url,
        "42",  # the numeric id, never the login
    )


@pytest.mark.parametrize(
    "emails", [[{"email": "o@example.com", "primary": True, "verified": False}], None]
)
def test_github_without_a_verified_primary_email_cannot_sign_up(
    live_server, oauth_providers, emails
):
    oauth_providers.github.user = GitHubUser(43, "nomail", emails)
    _, response = social_sign_in(live_server, "", provider="github")
    assert response.status_code == 400
    assert "no verified email" in response.text
    assert live_server.items("USER#") == []


def test_githubs_200_with_an_error_is_a_failure(live_server):
    browser = Browser()
    wrong = with_query(callback_url(live_server, browser, "", provider="github"), code="nope")
    response = finish(browser, wrong, **JSON)
    assert response.status_code == 400
    assert error_code(response) == "oauth_failed"


def test_a_provider_that_is_down_is_a_503_with_nothing_changed(live_server, oauth_providers):
    browser = Browser()
    url = callback_url(live_server, browser, "", provider="github")
    oauth_providers.github.stop()  # down between the authorization and the callback
    try:
        response = finish(browser, url)
    finally:
        oauth_providers.github.restart()
    assert response.status_code == 503
    assert "did not answer" in response.text
    assert live_server.items("USER#") == []


# -- accounts that hold the email ------------------------------------------------------------------


def test_a_verified_account_with_the_email_is_linked_and_told(live_server):
    owner = sign_up_over_http(live_server, "ann@example.com")
    user_id = session_of(live_server, owner)["user"]["id"]
    browser, response = social_sign_in(live_server, "ann@example.com")
    assert response.status_code == 303
    assert session_of(live_server, browser)["user"]["id"] == user_id
    notice = live_server.outbox.last("ann@example.com")
    assert notice.subject == "Local test provider sign-in was connected"
    assert len(live_server.items("USER#")) == 1
    listed = owner.get(f"{live_server.url}/auth/identities").json()["identities"]
    assert [(i["provider"], i["name"], i["email"]) for i in listed] == [
        ("local", "Local test provider", "ann@example.com")
    ]


def test_pre_account_takeover_is_refused_and_nothing_changes(live_server):
    """Someone signed up first with Ann's address and a password of theirs (unverified)."""
    squatter = sign_up_over_http(live_server, "ann@example.com", verified=False)

    def stored() -> list[str]:
        # Everything but attempts, which each start writes and each callback uses up.
        return sorted(
            json.dumps(i, sort_keys=True)
            for i in live_server.items()
            if not i["pk"]["S"].startswith("OAUTH#")
        )

    before = stored()
    _, response = social_sign_in(live_server, "ann@example.com")
    assert response.status_code == 409
    assert "An account uses this email" in response.text
    browser = Browser()
    as_json = finish(browser, callback_url(live_server, browser, "ann@example.com"), **JSON)
    assert as_json.status_code == 409
    assert error_code(as_json) == "account_exists"
    assert stored() == before  # no identity, no session, the squatter's password untouched
    assert session_of(live_server, squatter)["user"]["email"] == "ann@example.com"


def test_an_untrusted_providers_verified_email_never_links(live_server, oauth_providers):
    sign_up_over_http(live_server, "stubby@example.com")
    _, response = social_sign_in(live_server, "stubby@example.com", provider="stub")
    assert response.status_code == 409
    assert live_server.items("IDENTITY#") == []


def test_a_two_factor_user_still_owes_the_second_factor(live_server):
    owner = sign_up_over_http(live_server, "ann@example.com")
    setup = owner.post(f"{live_server.url}/auth/2fa/totp/setup", json={"password": PASSWORD})
    totp = pyotp.TOTP(setup.json()["secret"])
    assert (
        owner.post(f"{live_server.url}/auth/2fa/totp/enable", json={"code": totp.now()}).status_code
        == 200
    )
    browser, response = social_sign_in(live_server, "ann@example.com")
    assert response.status_code == 303
    assert response.headers["Location"] == "/2fa"
    assert session_of(live_server, browser)["session"]["two_factor_verified"] is False
    assert browser.get(f"{live_server.url}/trainings").status_code == 403


# -- connecting and disconnecting -----------------------------------------------------------------


def test_connecting_from_settings_needs_a_recent_re_authentication(live_server):
    owner = sign_up_over_http(live_server, "ann@example.com")
    # Signing up does not re-authenticate: the connection is refused until the password comes.
    refused = owner.get(f"{live_server.url}/auth/oauth/local?intent=link", headers=JSON)
    assert refused.status_code == 401
    assert error_code(refused) == "reauthentication_required"
    again = owner.post(f"{live_server.url}/auth/reauthenticate", json={"password": PASSWORD})
    assert again.status_code == 200
    url = callback_url(live_server, owner, "ann.other@example.com", intent="link")
    response = finish(owner, url)
    assert response.status_code == 303
    assert response.headers["Location"] == "/settings?notice=identity-linked"
    listed = owner.get(f"{live_server.url}/auth/identities").json()["identities"]
    assert [i["email"] for i in listed] == ["ann.other@example.com"]
    assert live_server.outbox.last("ann@example.com").subject == (
        "Local test provider sign-in was connected"
    )
    # That identity now signs in to Ann's account.
    browser, _ = social_sign_in(live_server, "ann.other@example.com")
    assert session_of(live_server, browser)["user"]["email"] == "ann@example.com"


def test_an_identity_of_another_account_cannot_be_connected(live_server):
    social_sign_in(live_server, "zed@example.com")  # Zed's account has this identity
    owner = sign_up_over_http(live_server, "ann@example.com")
    owner.post(f"{live_server.url}/auth/reauthenticate", json={"password": PASSWORD})
    url = callback_url(live_server, owner, "zed@example.com", intent="link")
    response = finish(owner, url, **JSON)
    assert response.status_code == 409
    assert error_code(response) == "identity_taken"


def test_disconnecting_the_last_way_in_is_refused(live_server):
    browser, _ = social_sign_in(live_server, "zed+unverified@example.com")
    (identity,) = browser.get(f"{live_server.url}/auth/identities").json()["identities"]
    url = f"{live_server.url}/auth/identities/{identity['id']}"
    unproven = browser.delete(url)
    assert unproven.status_code == 401
    assert error_code(unproven) == "reauthentication_required"
    browser.post(f"{live_server.url}/auth/reauthenticate/code")
    code = live_server.outbox.code("zed+unverified@example.com")
    assert browser.post(f"{live_server.url}/auth/reauthenticate", json={"code": code}).ok
    # No password, no passkey, no other identity, and the address is unverified: no code
    # sign-in either. This identity is the only way in.
    refused = browser.delete(url)
    assert refused.status_code == 409
    assert error_code(refused) == "last_sign_in_method"
    assert len(live_server.items("IDENTITY#")) == 1


def test_disconnecting_with_another_way_in_works_and_is_told(live_server):
    owner = sign_up_over_http(live_server, "ann@example.com")
    social_sign_in(live_server, "ann@example.com")  # linked by email
    (identity,) = owner.get(f"{live_server.url}/auth/identities").json()["identities"]
    url = f"{live_server.url}/auth/identities/{identity['id']}"
    response = owner.delete(url, json={"password": PASSWORD})
    assert response.status_code == 204
    assert live_server.items("IDENTITY#") == []
    assert live_server.outbox.last("ann@example.com").subject == (
        "Local test provider sign-in was disconnected"
    )
    assert owner.delete(url, json={"password": PASSWORD}).status_code == 404
