"""Property-based tests (hypothesis) for the parsers and validators that see raw input."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from chalice.app import Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.config import Settings
from chalicelib.cookies import SessionCookies
from chalicelib.errors import AppError, InvalidEmail, InvalidPassword, WeakPassword
from chalicelib.passwords import check_password_policy, common_passwords
from chalicelib.users import normalize_email
from chalicelib.web import MAX_BODY_BYTES, form_fields, json_body

COOKIES = SessionCookies(replace(Settings(), cookie_secure=False))
TOKENS = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    min_size=43,
    max_size=43,
)
# Other cookies on the same domain: any name and value a browser would keep apart with `;`.
OTHER_NAMES = st.text(
    st.characters(blacklist_characters=";=", blacklist_categories=["Cs"]), min_size=1, max_size=20
).filter(lambda name: name.strip() and name.strip() != COOKIES.name)
OTHER_VALUES = st.text(
    st.characters(blacklist_characters=";", blacklist_categories=["Cs"]), max_size=40
)


def outcome(parse: Callable[[], Any]) -> Any:
    """The parsed value, or the AppError the parser raised."""
    try:
        return parse()
    except AppError as error:
        return error


def request(body: bytes, content_type: str) -> Request:
    return Request(
        {
            "multiValueQueryStringParameters": None,
            "headers": {"content-type": content_type},
            "pathParameters": None,
            "requestContext": {"httpMethod": "POST", "resourcePath": "/x"},
            "body": body,
            "stageVariables": None,
        }
    )


# -- the cookie parser ------------------------------------------------------------------------


@given(st.text())
def test_any_cookie_header_parses_without_error(header):
    value = COOKIES.read(header)
    assert value is None or isinstance(value, str)


@given(
    token=TOKENS,
    before=st.lists(st.tuples(OTHER_NAMES, OTHER_VALUES), max_size=8),
    after=st.lists(st.tuples(OTHER_NAMES, OTHER_VALUES), max_size=8),
)
def test_the_token_is_found_among_any_other_cookies(token, before, after):
    pairs = [f"{name}={value}" for name, value in before]
    pairs.append(f"{COOKIES.name}={token}")
    pairs += [f"{name}={value}" for name, value in after]
    assert COOKIES.read("; ".join(pairs)) == token


@given(TOKENS, st.integers(min_value=0, max_value=400 * 86400))
def test_a_set_cookie_reads_back_to_its_token(token, lifetime):
    set_cookie = COOKIES.session_cookie(token, 1_800_000_000 + lifetime, 1_800_000_000)
    assert COOKIES.read(set_cookie.split(";")[0]) == token
    assert f"Max-Age={lifetime}" in set_cookie


# -- the request body parsers -----------------------------------------------------------------


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_any_json_body_is_an_object_or_a_4xx(body):
    parsed = outcome(lambda: json_body(request(body, "application/json")))
    if isinstance(parsed, AppError):
        assert 400 <= parsed.status < 500
    else:
        assert isinstance(parsed, dict)


# Any text JSON can carry, lone surrogates (\ud800-style escapes) included.
ANY_TEXT = st.text(st.characters(exclude_categories=()))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | ANY_TEXT,
    lambda inner: st.lists(inner) | st.dictionaries(ANY_TEXT, inner),
    max_leaves=30,
)


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in [key, *strings_in(item)]]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    return []


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@settings(max_examples=300)
@given(JSON_VALUES)
def test_a_json_body_is_accepted_exactly_when_it_is_an_object_of_encodable_text(value):
    import json

    body = json.dumps(value).encode()  # ASCII: surrogates travel as escapes
    if isinstance(value, dict) and all(encodable(s) for s in strings_in(value)):
        assert json_body(request(body, "application/json")) == value
    else:
        with pytest.raises(AppError) as raised:
            json_body(request(body, "application/json"))
        assert raised.value.status == 400


def test_generated_text_does_include_lone_surrogates():
    from hypothesis import find

    # Derandomized: a random search of 2,000 examples missed one now and then (CI, 2026-12-06).
    searched = settings(derandomize=True, database=None, max_examples=10_000)
    assert not encodable(find(ANY_TEXT, lambda text: not encodable(text), settings=searched))


@given(st.binary(max_size=300))
def test_any_form_body_gives_strings_or_a_4xx(body):
    form = request(body, "application/x-www-form-urlencoded")
    fields = outcome(lambda: form_fields(form, "email", "password"))
    if isinstance(fields, AppError):
        assert 400 <= fields.status < 500
    else:
        assert all(isinstance(value, str) for value in fields)


@given(st.binary(min_size=1, max_size=64).map(lambda tail: b"{" * MAX_BODY_BYTES + tail))
@settings(max_examples=5, suppress_health_check=[HealthCheck.too_slow])
def test_any_oversized_body_is_413(body):
    with pytest.raises(AppError) as raised:
        json_body(request(body, "application/json"))
    assert raised.value.status == 413


@given(st.text(max_size=40), st.binary(max_size=50))
def test_any_other_content_type_is_415(content_type, body):
    if content_type.split(";")[0].strip().lower() == "application/json":
        return
    with pytest.raises(AppError) as raised:
        json_body(request(body, content_type))
    assert raised.value.status == 415


# -- email and password validation ------------------------------------------------------------


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=80), st.emails().map(str)))
def test_emails_normalise_idempotently_or_are_refused(raw):
    try:
        email = normalize_email(raw)
    except InvalidEmail:
        return
    assert email == email.lower()
    assert "@" in email
    assert email == email.strip()
    assert normalize_email(email) == email


@given(st.emails())
def test_well_formed_emails_with_surrounding_space_and_any_case_share_one_account(email):
    try:
        canonical = normalize_email(email)
    except InvalidEmail:
        return  # hypothesis writes some RFC forms email-validator refuses (quoted parts etc.)
    assert normalize_email(f"  {email.upper()}\t") == canonical


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_the_password_policy_is_exactly_length_printable_and_uncommon(password):
    printable = not any(ord(c) < 0x20 or ord(c) == 0x7F for c in password)
    common = password.lower() in common_passwords()
    try:
        check_password_policy(password)
    except WeakPassword:
        assert common
        assert 8 <= len(password) <= 256
    except InvalidPassword:
        assert not (8 <= len(password) <= 256 and printable)
    else:
        assert 8 <= len(password) <= 256
        assert printable
        assert not common
