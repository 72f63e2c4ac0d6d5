from dataclasses import replace
from email.utils import parsedate_to_datetime

import pytest

from chalicelib.config import Settings
from chalicelib.cookies import SessionCookies
from tests.helpers import parse_set_cookie as attributes

TOKEN = "A" * 43
NOW = 1_800_000_000


@pytest.fixture
def local_cookies() -> SessionCookies:
    return SessionCookies(replace(Settings(), cookie_secure=False))


@pytest.fixture
def deployed_cookies() -> SessionCookies:
    return SessionCookies(Settings())


def test_session_cookie_on_a_deployed_stage_is_host_prefixed_and_secure(deployed_cookies):
    name, value, attrs = attributes(deployed_cookies.session_cookie(TOKEN, NOW + 3600, NOW))
    assert (name, value) == ("__Host-auth_session", TOKEN)
    assert attrs == {
        "expires": attrs["expires"],
        "httponly": "",
        "max-age": "3600",
        "path": "/",
        "samesite": "Lax",
        "secure": "",
    }
    assert parsedate_to_datetime(attrs["expires"]).timestamp() == NOW + 3600
    assert "domain" not in attrs


def test_local_stage_cookie_has_the_plain_name_and_no_secure(local_cookies):
    name, value, attrs = attributes(local_cookies.session_cookie(TOKEN, NOW + 60, NOW))
    assert (name, value) == ("auth_session", TOKEN)
    assert set(attrs) == {"expires", "httponly", "max-age", "path", "samesite"}
    assert attrs["max-age"] == "60"


@pytest.mark.parametrize("fixture", ["local_cookies", "deployed_cookies"])
def test_blank_cookie_has_the_same_name_and_attributes_and_expires_now(fixture, request):
    cookies = request.getfixturevalue(fixture)
    session_name, _, session_attrs = attributes(cookies.session_cookie(TOKEN, NOW + 60, NOW))
    name, value, attrs = attributes(cookies.blank_cookie())
    assert name == session_name
    assert value == ""
    assert attrs["max-age"] == "0"
    assert parsedate_to_datetime(attrs["expires"]).timestamp() == 0
    assert set(attrs) == set(session_attrs)
    assert {k: v for k, v in attrs.items() if k not in ("max-age", "expires")} == {
        k: v for k, v in session_attrs.items() if k not in ("max-age", "expires")
    }


@pytest.mark.parametrize(
    "header",
    [
        f"auth_session={TOKEN}",
        f"theme=dark; auth_session={TOKEN}",
        # SimpleCookie gives up at the first malformed pair; browsers and this parser do not.
        f'weird="unterminated; a=b\\c; [x]=1; auth_session={TOKEN}; later=1',
        f'json={{"a":1}}; utm=%E2%9C%93; ;;=; auth_session={TOKEN}',
        f'auth_session="{TOKEN}"',
        f"  auth_session = {TOKEN}  ",
        f"auth_session={TOKEN}; auth_session=second",
    ],
)
def test_reads_the_token_among_other_cookies(local_cookies, header):
    assert local_cookies.read(header) == TOKEN


@pytest.mark.parametrize(
    "header", [None, "", "theme=dark", "auth_session_x=1", "xauth_session=1", "auth_session"]
)
def test_no_token_when_the_cookie_is_absent(local_cookies, header):
    assert local_cookies.read(header) is None


def test_deployed_stage_ignores_an_unprefixed_cookie(deployed_cookies):
    assert deployed_cookies.read(f"auth_session={TOKEN}") is None
    assert deployed_cookies.read(f"__Host-auth_session={TOKEN}") == TOKEN


@pytest.mark.parametrize("samesite", ["Strict", "None"])
def test_samesite_follows_the_setting_and_the_host_prefix_stays(samesite):
    cookies = SessionCookies(replace(Settings(), cookie_samesite=samesite))
    for cookie in (cookies.session_cookie(TOKEN, NOW + 60, NOW), cookies.blank_cookie()):
        name, _, attrs = attributes(cookie)
        assert name == "__Host-auth_session"
        assert attrs["samesite"] == samesite
        assert "secure" in attrs
