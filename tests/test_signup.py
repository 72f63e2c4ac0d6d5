"""Sign-up's limits, the quiet sign-up that tells nobody which addresses have accounts, and
addresses mail cannot reach, through the routes on moto."""

from __future__ import annotations

import pytest

from tests import helpers
from tests.conftest import table_items
from tests.helpers import ANN, PASSWORD, assert_error, call, log_in, sign_up


def post_signup(client, email=ANN, password=PASSWORD):
    return call(client, "POST", "/auth/signup", {"email": email, "password": password})


# -- limits ----------------------------------------------------------------------------------


def test_three_sign_ups_per_address_in_ten_minutes_409s_counted(client, clock):
    sign_up(client, verified=False)
    for _ in range(2):
        assert_error(post_signup(client), 409, "email_taken")
    limited = post_signup(client)  # a 409 tells whether the address has an account: counted
    assert_error(limited, 429, "too_many_attempts")
    assert 0 < int(limited.headers["Retry-After"]) <= 600
    clock.advance(minutes=10)
    assert_error(post_signup(client), 409, "email_taken")


def test_sign_ups_per_client_address_are_limited_by_the_stage(client, stage, dynamodb, settings):
    stage(signup_ip_max=4)
    for n in range(4):
        assert post_signup(client, f"user{n}@example.com").status_code == 201
    limited = post_signup(client, "one.more@example.com")
    assert_error(limited, 429, "too_many_attempts")
    assert "Retry-After" in limited.headers
    emails = [
        i for i in table_items(dynamodb, settings.table_name) if i["pk"]["S"].startswith("EMAIL#")
    ]
    assert len(emails) == 4  # the refused one wrote no account


def test_a_taken_address_counts_against_the_client_address_too(client, stage):
    stage(signup_ip_max=3)
    sign_up(client, verified=False)  # one
    assert_error(post_signup(client), 409, "email_taken")  # two
    assert post_signup(client, "bob@example.com").status_code == 201  # three
    assert_error(post_signup(client, "cy@example.com"), 429, "too_many_attempts")


def test_a_bad_request_costs_no_sign_up(client, stage):
    stage(signup_ip_max=1)
    for body in (
        {"email": "not an address", "password": PASSWORD},
        {"email": ANN, "password": "x"},
    ):
        assert call(client, "POST", "/auth/signup", body).status_code == 400
    assert post_signup(client).status_code == 201


# -- SIGNUP_REVEALS_ACCOUNTS=false -------------------------------------------------------------


def test_a_quiet_sign_up_answers_the_same_for_any_address(
    client, stage, mailbox, pauses, dynamodb, settings
):
    sign_up(client)  # Ann has an account
    stage(signup_reveals_accounts=False)
    before = len(mailbox.messages())
    taken = post_signup(client, ANN, "another passphrase")
    new = post_signup(client, "bob@example.com", "bobs passphrase here")
    for response in (taken, new):
        assert response.status_code == 202
        assert response.json_body == {"status": "accepted"}
        # Nobody is signed in; each client gets a binding for the password it chose, alike.
        assert [cookie.split("=")[0] for cookie in helpers.set_cookies(response.headers)] == [
            "signup_attempt"
        ]
    assert attributes_of(taken) == attributes_of(new)
    assert len(pauses) == 2  # each answered no sooner than the same minimum time
    assert all(pause <= 0.75 for pause in pauses)
    notice, code_mail = mailbox.messages()[before:]
    assert (notice.to, notice.subject) == (ANN, "Someone tried to sign up with your address")
    assert "forgot-password" in notice.text
    assert (code_mail.to, code_mail.subject) == ("bob@example.com", "Your sign-in code")
    # Nothing of Bob's exists until his code comes back; Ann's account is as it was.
    pks = {i["pk"]["S"] for i in table_items(dynamodb, settings.table_name)}
    assert "EMAIL#bob@example.com" not in pks
    assert log_in(client).status_code == 200


def attributes_of(response) -> dict[str, str]:
    _, attributes = helpers.cookie_named(response, "signup_attempt")
    return attributes


def signup_attempt(response) -> dict[str, str]:
    value, attributes = helpers.cookie_named(response, "signup_attempt")
    assert (attributes["max-age"], attributes["path"]) == ("600", "/")  # the code's lifetime
    assert "httponly" in attributes
    return {"Cookie": f"signup_attempt={value}"}


def test_the_quiet_sign_ups_code_makes_the_account_with_the_chosen_password(client, stage, mailbox):
    stage(signup_reveals_accounts=False, email_code_login=False)  # codes otherwise off
    begun = post_signup(client, "bob@example.com", "bobs passphrase here")
    assert begun.status_code == 202
    body = {"email": "bob@example.com", "code": mailbox.code("bob@example.com")}
    response = call(client, "POST", "/auth/login/code/verify", body, headers=signup_attempt(begun))
    assert response.status_code == 201, response.body
    user = response.json_body["user"]
    assert (user["email_verified"], user["has_password"]) == (True, True)
    assert helpers.cookie_named(response, "signup_attempt")[0] == ""  # used up
    token = helpers.session_token(response)
    assert call(client, "GET", "/trainings", token=token).status_code == 200
    assert log_in(client, "bob@example.com", "bobs passphrase here").status_code == 200
    again = call(client, "POST", "/auth/login/code/verify", body)
    assert_error(again, 400, "invalid_code")  # used up
    # Asking for a code is still off on this stage.
    assert call(client, "POST", "/auth/login/code", {"email": "bob@example.com"}).status_code == 404


@pytest.mark.parametrize("replaced", [False, True], ids=["unasked", "replacing-hers"])
def test_a_quiet_sign_ups_password_never_reaches_whoever_else_enters_the_code(
    client, stage, mailbox, replaced
):
    """Mallory signs up quietly with Bob's address and a password of hers (after Bob's own
    quiet sign-up, whose code hers replaces, or out of the blue). Bob enters the newest code
    in his mailbox: the account is his, without her password (nor his, which the code no
    longer carries); he can set one."""
    stage(signup_reveals_accounts=False, email_code_login=False)
    if replaced:
        bobs = post_signup(client, "bob@example.com", "bobs passphrase here")
        assert bobs.status_code == 202
    assert post_signup(client, "bob@example.com", "mallorys passphrase").status_code == 202
    body = {"email": "bob@example.com", "code": mailbox.code("bob@example.com")}
    headers = signup_attempt(bobs) if replaced else {}
    response = call(client, "POST", "/auth/login/code/verify", body, headers=headers)
    assert response.status_code == 201, response.body
    user = response.json_body["user"]
    assert (user["email_verified"], user["has_password"]) == (True, False)
    for password in ("mallorys passphrase", "bobs passphrase here"):
        assert_error(log_in(client, "bob@example.com", password), 401, "invalid_credentials")


def test_a_token_client_carries_its_quiet_sign_up_in_a_header(client, stage, mailbox):
    stage(signup_reveals_accounts=False)
    token_client = {"X-Session-Transport": "token"}
    body = {"email": "bob@example.com", "password": "bobs passphrase here"}
    begun = call(client, "POST", "/auth/signup", body, headers=token_client)
    assert begun.status_code == 202
    attempt = begun.json_body["signup_attempt"]
    assert begun.json_body == {"status": "accepted", "signup_attempt": attempt}
    assert "Set-Cookie" not in begun.headers
    code = {"email": "bob@example.com", "code": mailbox.code("bob@example.com")}
    headers = {**token_client, "X-Signup-Attempt": attempt}
    response = call(client, "POST", "/auth/login/code/verify", code, headers=headers)
    assert response.status_code == 201, response.body
    assert response.json_body["user"]["has_password"] is True
    assert "session_token" in response.json_body


def test_the_quiet_sign_up_page_says_the_same_for_any_address(client, stage):
    sign_up(client)
    stage(signup_reveals_accounts=False)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    pages = [
        client.http.post("/signup", headers=form, body=f"email={email}&password=some+passphrase")
        for email in (ANN, "bob%40example.com")
    ]
    for page in pages:
        assert page.status_code == 200
        assert [c.split("=")[0] for c in helpers.set_cookies(page.headers)] == ["signup_attempt"]
        assert "Finish signing up" in page.body.decode()
    assert attributes_of(pages[0]) == attributes_of(pages[1])
    texts = [
        p.body.decode().replace("ann@example.com", "X").replace("bob@example.com", "X")
        for p in pages
    ]
    assert texts[0] == texts[1]


# -- addresses mail cannot reach -----------------------------------------------------------------


@pytest.mark.parametrize("email", ["änn@example.com", "用户@例子.广告"])
def test_a_local_part_ses_cannot_deliver_to_is_refused(client, email, dynamodb, settings):
    response = post_signup(client, email)
    assert_error(response, 400, "invalid_email")
    assert "before the @" in response.json_body["error"]["message"]
    assert table_items(dynamodb, settings.table_name) == []


def test_a_unicode_domain_signs_up_and_its_mail_goes_as_punycode(client, mailbox):
    response = post_signup(client, "ann@bücher.example")
    assert response.status_code == 201, response.body
    assert response.json_body["user"]["email"] == "ann@bücher.example"
    (mail,) = helpers.SesMailbox().messages()
    assert mail.to == "ann@xn--bcher-kva.example"
