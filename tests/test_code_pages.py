"""The pages of sign-in by emailed code and of an account without a password, through Chalice's
test client on moto."""

import re
from dataclasses import replace
from urllib.parse import urlencode

from chalicelib import runtime
from tests.conftest import table_items
from tests.helpers import parse_set_cookie, set_cookies, sign_up_with_code

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
NEW = "new@example.com"


def submit(client, path, token=None, **fields):
    headers = dict(FORM)
    if token:
        headers["Cookie"] = f"auth_session={token}"
    return client.http.post(path, headers=headers, body=urlencode(fields))


def page(client, path, token=None):
    headers = {"Cookie": f"auth_session={token}"} if token else {}
    return client.http.get(path, headers=headers)


def html(response) -> str:
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    return response.body.decode()


def test_login_and_signup_offer_the_code_and_its_page_asks_for_the_address(client):
    assert 'href="/login/code">Email me a sign-in code</a>' in html(page(client, "/login"))
    assert 'href="/login/code">Sign up with a code we email you</a>' in html(
        page(client, "/signup")
    )
    response = page(client, "/login/code")
    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "no-referrer"
    body = html(response)
    assert '<form method="post" action="/login/code">' in body
    assert 'id="email" name="email" type="email" autocomplete="email"' in body


def test_the_form_mails_a_code_then_takes_it(client, mailbox, dynamodb, settings):
    sent = submit(client, "/login/code", email=NEW)
    assert sent.status_code == 200
    body = html(sent)
    assert re.search(r'id="code-sent">We sent a code to <strong>new@example.com</strong>', body)
    assert '<input type="hidden" name="email" value="new@example.com">' in body
    assert 'autocomplete="one-time-code"' in body
    wrong = submit(client, "/login/code/verify", email=NEW, code="ZZZZZZZZ")
    assert wrong.status_code == 400
    assert 'id="code-error" role="alert">This code is not right.' in html(wrong)
    signed_in = submit(client, "/login/code/verify", email=NEW, code=mailbox.code(NEW))
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == "/training"
    (cookie,) = set_cookies(signed_in.headers)
    assert parse_set_cookie(cookie)[0] == "auth_session"


def test_the_mailed_link_fills_the_code_in_and_opening_it_changes_nothing(
    client, mailbox, dynamodb, settings
):
    submit(client, "/login/code", email=NEW)
    link = mailbox.link(NEW)
    code = mailbox.code(NEW)
    path = link.removeprefix("http://localhost:8000")
    before = table_items(dynamodb, settings.table_name)
    for _ in range(3):  # a mail scanner, a preview, the person
        opened = page(client, path)
        assert opened.status_code == 200
        assert opened.headers["Referrer-Policy"] == "no-referrer"
        assert set_cookies(opened.headers) == []
    assert table_items(dynamodb, settings.table_name) == before
    body = html(opened)
    assert f'value="{code}"' in body
    assert '<form method="post" action="/login/code/verify">' in body
    assert re.findall(r"<button[^>]*>([^<]*)</button>", body).count("Sign in") == 1
    assert submit(client, "/login/code/verify", email=NEW, code=code).status_code == 303


def test_with_code_sign_in_off_the_pages_offer_none(client, services):
    runtime.use(replace(services, settings=replace(services.settings, email_code_login=False)))
    assert "/login/code" not in html(page(client, "/login"))
    assert "/login/code" not in html(page(client, "/signup"))
    assert page(client, "/login/code").status_code == 404
    for path, fields in (("/login/code", {"email": NEW}), ("/login/code/verify", {"code": "A"})):
        off = submit(client, path, **fields)
        assert off.status_code == 404
        assert off.json_body["error"]["code"] == "not_found"


def test_settings_of_an_account_without_a_password_ask_for_a_code_instead(client, mailbox, clock):
    token = sign_up_with_code(client, NEW)
    body = html(page(client, "/settings", token))
    assert "Current password" not in body
    assert ">Set a password</button>" in body
    assert ">Email me a code</button>" in body
    refused = submit(client, "/settings/2fa/setup", token)
    assert refused.status_code == 401
    assert "Confirm it is you first" in html(refused)
    asked = submit(client, "/settings/reauthenticate/code", token)
    assert asked.status_code == 200
    assert 'id="reauthentication-sent"' in html(asked)
    assert mailbox.last(NEW).subject == "Your confirmation code"
    confirmed = submit(client, "/settings/reauthenticate", token, code=mailbox.code(NEW))
    assert confirmed.status_code == 303
    assert confirmed.headers["Location"] == "/settings?notice=reauthenticated"
    body = html(page(client, "/settings?notice=reauthenticated", token))
    assert 'id="reauthenticated"' in body
    set_password = submit(
        client, "/settings/password", token, new_password="a brand new passphrase"
    )
    assert set_password.status_code == 303
    assert set_password.headers["Location"] == "/settings?notice=password-set"
    token = parse_set_cookie(set_cookies(set_password.headers)[0])[1]
    body = html(page(client, "/settings", token))
    assert ">Change password</button>" in body  # a password account now
    assert 'id="reauthenticated"' in body  # still confirmed: the proof went to the new session
    clock.advance(minutes=6)
    body = html(page(client, "/settings", token))
    assert ">Current password</label>" in body  # now it may confirm with the password too
    assert ">Email me a code</button>" in body
