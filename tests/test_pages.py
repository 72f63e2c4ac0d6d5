"""The server-rendered pages, through Chalice's test client."""

from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

from chalicelib.pages import base_path
from chalicelib.trainings import TRAININGS
from tests.conftest import table_items
from tests.helpers import PASSWORD, cookie_named, parse_set_cookie, set_cookies, sign_up

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def submit(client, path, token=None, headers=None, **fields):
    all_headers = {**FORM, **(headers or {})}
    if token:
        all_headers["Cookie"] = f"auth_session={token}"
    return client.http.post(path, headers=all_headers, body=urlencode(fields))


def page(client, path, token=None, raw_cookie=None):
    headers = {}
    if token:
        headers["Cookie"] = f"auth_session={token}"
    if raw_cookie:
        headers["Cookie"] = raw_cookie
    return client.http.get(path, headers=headers)


def html(response) -> str:
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    return response.body.decode()


def cookie_value(response) -> str:
    return cookie_named(response, "auth_session")[0]


def signed_up(client, email="ann@example.com") -> str:
    response = submit(client, "/signup", email=email, password=PASSWORD)
    assert response.status_code == 303
    return cookie_value(response)


def test_landing_page_links_to_sign_up_and_log_in(client):
    response = page(client, "/")
    assert response.status_code == 200
    body = html(response)
    assert 'href="/signup"' in body
    assert 'href="/login"' in body
    assert 'href="/static/style.css"' in body


def test_stylesheet_is_served_as_css(client):
    response = page(client, "/static/style.css")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/css; charset=utf-8"
    assert b"font-family" in response.body


@pytest.mark.parametrize(
    ("path", "autocomplete", "action", "email_autocomplete"),
    [
        ("/signup", "new-password", "/signup", "email"),
        # On login the browser may offer passkeys in the email field's autofill.
        ("/login", "current-password", "/login", "username webauthn"),
    ],
)
def test_forms_are_accessible_and_match_the_api_fields(
    client, path, autocomplete, action, email_autocomplete
):
    body = html(page(client, path))
    assert f'<form method="post" action="{action}">' in body
    assert '<label for="email">Email</label>' in body
    assert '<label for="password">Password</label>' in body
    assert f'id="email" name="email" type="email" autocomplete="{email_autocomplete}"' in body
    assert f'id="password" name="password" type="password" autocomplete="{autocomplete}"' in body


def test_signing_up_redirects_to_training_with_the_cookie(client, dynamodb, settings):
    response = submit(client, "/signup", email="Ann@Example.com", password=PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/training"
    name, token, attrs = parse_set_cookie(set_cookies(response.headers)[0])
    assert (name, attrs["samesite"], attrs["path"]) == ("auth_session", "Lax", "/")
    assert "httponly" in attrs
    kinds = sorted(i["pk"]["S"].split("#")[0] for i in table_items(dynamodb, settings.table_name))
    # The account, its claim, the session, the verification code, and the counters of its send
    # and of the sign-up (per address and per IP).
    assert kinds == ["EMAIL", "SECRET", "SESSION", "THROTTLE", "THROTTLE", "THROTTLE", "USER"]
    training = page(client, "/training", token)
    assert training.status_code == 200
    assert training.headers["Cache-Control"] == "no-store"
    body = html(training)
    assert '<strong id="user-email">ann@example.com</strong>' in body
    for item in TRAININGS:
        assert str(item["title"]) in body


def test_logging_in_redirects_to_training(client):
    signed_up(client)
    response = submit(client, "/login", email="ann@example.com", password=PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/training"
    assert page(client, "/training", cookie_value(response)).status_code == 200


def test_a_duplicate_email_rerenders_the_form_with_the_message_by_the_field(client):
    signed_up(client)
    response = submit(client, "/signup", email="ANN@example.com", password="another passphrase")
    assert response.status_code == 409
    body = html(response)
    assert 'value="ANN@example.com"' in body
    assert 'aria-invalid="true" aria-describedby="email-error"' in body
    error = "An account with this email already exists."
    assert f'<p class="error" id="email-error" role="alert">{error}</p>' in body
    assert set_cookies(response.headers) == []


def test_a_weak_password_is_shown_by_the_password_field(client):
    response = submit(client, "/signup", email="ann@example.com", password="password1")
    assert response.status_code == 400
    body = html(response)
    assert 'id="password-error"' in body
    assert "most common" in body
    assert 'value="ann@example.com"' in body


def test_a_wrong_password_shows_a_form_level_message(client):
    signed_up(client)
    response = submit(client, "/login", email="ann@example.com", password="wrong password")
    assert response.status_code == 401
    body = html(response)
    assert (
        '<p class="error" id="form-error" role="alert">The email or password is incorrect.</p>'
        in body
    )
    assert 'value="ann@example.com"' in body


def test_throttled_logins_show_429_with_retry_after(client):
    signed_up(client)
    for _ in range(5):
        submit(client, "/login", email="ann@example.com", password="wrong password")
    response = submit(client, "/login", email="ann@example.com", password=PASSWORD)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "60"
    assert "Too many failed sign-in attempts" in html(response)


def test_user_input_is_escaped(client):
    response = submit(client, "/signup", email='"><script>alert(1)</script>', password=PASSWORD)
    assert response.status_code == 400
    body = html(response)
    assert "<script>" not in body
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_missing_fields_rerender_the_form(client):
    response = client.http.post("/signup", headers=FORM, body="")
    assert response.status_code == 400
    assert "Enter a valid email address." in html(response)


def test_training_without_a_session_redirects_to_login_without_a_cookie(client):
    response = page(client, "/training")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert set_cookies(response.headers) == []


def test_training_with_a_bad_cookie_redirects_and_clears_it(client):
    response = page(client, "/training", raw_cookie="auth_session=" + "A" * 43)
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert cookie_value(response) == ""


def test_signed_in_visitors_skip_the_forms(client):
    token = signed_up(client)
    for path in ("/login", "/signup"):
        response = page(client, path, token)
        assert response.status_code == 303
        assert response.headers["Location"] == "/training"


def test_logout_button_ends_the_session(client, dynamodb, settings):
    token = signed_up(client)
    response = submit(client, "/logout", token)
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert cookie_value(response) == ""
    assert not [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"].startswith("SESSION#")
    ]
    assert page(client, "/training", token).status_code == 303


def test_a_cross_site_form_post_is_refused(client):
    token = signed_up(client)
    response = submit(client, "/logout", token, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert page(client, "/training", token).status_code == 200


def test_json_to_a_form_route_is_415_in_the_error_shape(client):
    response = client.http.post("/login", headers={"Content-Type": "application/json"}, body="{}")
    assert response.status_code == 415
    assert response.json_body["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    ("context_path", "route", "params", "expected"),
    [
        ("/login", "/login", None, ""),  # chalice local, or a custom domain without a base path
        ("/api/login", "/login", None, "/api"),  # API Gateway's stage prefix
        ("/api/", "/", None, "/api"),
        ("/", "/", None, ""),
        # A route with parameters: their values stand in for them.
        ("/api/auth/oauth/google", "/auth/oauth/{provider}", {"provider": "google"}, "/api"),
        ("/auth/oauth/google", "/auth/oauth/{provider}", {"provider": "google"}, ""),
    ],
)
def test_links_and_redirects_keep_the_stage_prefix(context_path, route, params, expected):
    request = SimpleNamespace(context={"path": context_path}, path=route, uri_params=params)
    assert base_path(request) == expected


# -- the account's pages ----------------------------------------------------------------------


def test_account_pages_send_a_browser_without_a_session_to_log_in(client):
    for path in ("/settings", "/verify-email"):
        response = page(client, path)
        assert (response.status_code, response.headers["Location"]) == (303, "/login")
    for path in ("/settings/password", "/settings/delete-account", "/verify-email"):
        response = submit(client, path, code="x", password="x")
        assert (response.status_code, response.headers["Location"]) == (303, "/login")


def test_reset_pages_send_no_referrer_and_keep_the_token_in_the_form(client):
    token = "0" * 36 + "." + "A" * 43
    shown = page(client, f"/reset-password?token={token}")
    assert shown.status_code == 200
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    assert f'name="token" value="{token}"' in html(shown)
    form = urlencode({"token": token, "new_password": PASSWORD})
    refused = client.http.post("/reset-password", headers=FORM, body=form)
    assert refused.status_code == 400
    assert refused.headers["Referrer-Policy"] == "no-referrer"
    assert "invalid, expired or already used" in html(refused)
    assert 'href="/forgot-password"' in html(refused)


def test_the_login_page_links_to_the_forgotten_password_form(client):
    assert 'href="/forgot-password"' in html(page(client, "/login"))
    forgot = html(page(client, "/forgot-password"))
    assert 'id="email" name="email" type="email" autocomplete="email"' in forgot


def test_a_reset_request_page_says_the_same_whether_or_not_there_is_an_account(client):
    signed_up(client)
    known = submit(client, "/forgot-password", email="ann@example.com")
    unknown = submit(client, "/forgot-password", email="nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert html(known).replace("ann@example.com", "X") == html(unknown).replace(
        "nobody@example.com", "X"
    )


def test_settings_show_the_account_and_put_errors_by_their_form(client):
    token = signed_up(client)
    body = html(page(client, "/settings", token))
    assert '<strong id="account-email">ann@example.com</strong>' in body
    assert 'id="email-state">not verified' in body
    assert body.count('data-session-id="') == 1
    assert (
        '<a class="button secondary" href="/auth/account/export" download>Download your data</a>'
        in body
    )
    unconfirmed = submit(client, "/settings/delete-account", token)
    assert unconfirmed.status_code == 401
    body = html(unconfirmed)
    assert 'id="delete-error" role="alert">Confirm it is you first' in body
    wrong = submit(client, "/settings/reauthenticate", token, password="wrong password")
    assert wrong.status_code == 401
    body = html(wrong)
    assert 'id="confirm-password-error" role="alert">The email or password is incorrect.' in body
    assert 'id="delete-error"' not in body  # the other forms stay clean
    assert page(client, "/training", token).status_code == 200


def test_settings_ask_for_the_password_once_and_then_for_none(client):
    """Once six "Current password" fields, one per sensitive form; now one confirmation at
    the top, after which every form works for 5 minutes without one."""
    token = signed_up(client)
    body = html(page(client, "/settings", token))
    assert body.count(">Current password</label>") == 1
    assert body.count('type="password"') == 2  # that one, and the new password's
    confirmed = submit(client, "/settings/reauthenticate", token, password=PASSWORD)
    assert (confirmed.status_code, confirmed.headers["Location"]) == (
        303,
        "/settings?notice=reauthenticated",
    )
    body = html(page(client, "/settings", token))
    assert ">Current password</label>" not in body
    assert 'id="reauthenticated"' in body
    changed = submit(client, "/settings/email", token, new_email="bob@example.com")
    assert (changed.status_code, changed.headers["Location"]) == (
        303,
        "/settings?notice=change-code-sent",
    )
    deleted = submit(client, "/settings/delete-account", token)
    assert (deleted.status_code, deleted.headers["Location"]) == (303, "/")


def test_notices_come_only_from_our_own_list(client):
    token = signed_up(client)
    shown = html(page(client, "/settings?notice=password-changed", token))
    assert "Your password was changed." in shown
    crafted = html(page(client, "/settings?notice=Your+account+is+hacked", token))
    assert "hacked" not in crafted
    assert 'role="status"' not in crafted


# -- two-factor pages ------------------------------------------------------------------------


def test_pages_load_only_our_own_script_and_style(client):
    response = page(client, "/login")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    script = page(client, "/static/account.js")
    assert script.status_code == 200
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert page(client, "/static/../app.py").status_code in (403, 404)
    missing = page(client, "/static/secrets.json")
    assert missing.status_code == 404
    assert missing.json_body["error"]["code"] == "not_found"


def enrol_in_settings(client, clock, token):
    import re

    import pyotp

    assert submit(client, "/settings/reauthenticate", token, password=PASSWORD).status_code == 303
    shown = submit(client, "/settings/2fa/setup", token)
    assert shown.status_code == 200
    body = html(shown)
    assert "<svg" in body
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]{32})</code>', body).group(1)
    enabled = submit(client, "/settings/2fa/enable", token, code=pyotp.TOTP(secret).at(clock.now()))
    assert enabled.status_code == 200
    codes = re.findall(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", html(enabled))
    assert len(codes) == 10
    clock.advance(seconds=30)
    return secret, cookie_value(enabled), codes


def test_two_factor_sign_in_through_the_pages(client, clock):
    import pyotp

    token = sign_up(client)  # verified: only then can the app be turned on
    secret, token, codes = enrol_in_settings(client, clock, token)
    settings = html(page(client, "/settings", token))
    assert 'id="two-factor-state">on' in settings
    assert 'id="recovery-left">10<' in settings
    assert not any(code in settings for code in codes)  # shown once, never again

    login = submit(client, "/login", email="ann@example.com", password=PASSWORD)
    assert (login.status_code, login.headers["Location"]) == (303, "/2fa")
    pending = cookie_value(login)
    assert page(client, "/training", pending).headers["Location"] == "/2fa"
    form = html(page(client, "/2fa", pending))
    assert 'autocomplete="one-time-code"' in form
    assert 'inputmode="numeric"' in form
    wrong = submit(client, "/2fa", pending, code="000000")
    assert wrong.status_code == 400
    assert 'id="code-error"' in html(wrong)
    right = submit(client, "/2fa", pending, code=pyotp.TOTP(secret).at(clock.now()))
    assert (right.status_code, right.headers["Location"]) == (303, "/training")
    assert page(client, "/training", cookie_value(right)).status_code == 200
    assert page(client, "/2fa", cookie_value(right)).headers["Location"] == "/training"


def test_a_wrong_first_code_keeps_the_set_up_on_the_page(client, clock):
    import re

    token = sign_up(client)
    submit(client, "/settings/reauthenticate", token, password=PASSWORD)
    shown = html(submit(client, "/settings/2fa/setup", token))
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]{32})</code>', shown).group(1)
    wrong = submit(client, "/settings/2fa/enable", token, code="000000")
    assert wrong.status_code == 400
    body = html(wrong)
    assert 'id="enable-2fa-code-error" role="alert">This code is not right.' in body
    assert f'<code id="totp-secret">{secret}</code>' in body  # the same set-up, still pending
    assert "<svg" in body
