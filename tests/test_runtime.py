import json
from dataclasses import replace

import pytest

from chalicelib import runtime
from chalicelib.clock import SystemClock
from tests.helpers import PASSWORD, parse_set_cookie, set_cookies


def test_services_are_built_once_per_container(monkeypatch):
    runtime.use(None)
    monkeypatch.setenv("TABLE_NAME", "from-env")
    monkeypatch.setenv("MAIL_FROM", "no-reply@training.example")
    monkeypatch.setenv("PUBLIC_ORIGIN", "https://training.example")
    monkeypatch.setenv("TOTP_KEYS_PARAMETER", "/session-auth/totp-keys")
    try:
        first = runtime.get()
        assert runtime.get() is first
        assert first.settings.table_name == "from-env"
        assert isinstance(first.clock, SystemClock)
        assert first.store.table.client is runtime.get().store.table.client
    finally:
        runtime.use(None)


def test_a_deployed_stage_sends_a_secure_host_prefixed_cookie(dynamodb, settings, clock):
    from chalice.test import Client

    from app import app

    runtime.use(runtime.build(replace(settings, cookie_secure=True), client=dynamodb, clock=clock))
    try:
        with Client(app) as client:
            response = client.http.post(
                "/auth/signup",
                headers={"Content-Type": "application/json"},
                body=json.dumps({"email": "ann@example.com", "password": PASSWORD}),
            )
            (cookie,) = set_cookies(response.headers)
            name, token, attrs = parse_set_cookie(cookie)
            assert name == "__Host-auth_session"
            assert "secure" in attrs
            assert "domain" not in attrs
            assert attrs["path"] == "/"
            ok = client.http.get("/trainings", headers={"Cookie": f"__Host-auth_session={token}"})
            assert ok.status_code == 200
            # The unprefixed name could be planted by a sibling subdomain: it is not accepted.
            planted = client.http.get("/trainings", headers={"Cookie": f"auth_session={token}"})
            assert planted.status_code == 401
    finally:
        runtime.use(None)


def test_a_copy_with_other_settings_holds_nothing_built_from_the_old_ones(
    dynamodb, settings, clock
):
    """Before, Services kept `settings` beside objects built from them, and a copy with new
    settings (a test's `_replace`) kept the old objects: a test had to rebuild `oauth` by hand.
    Now everything is built from the settings on first use."""
    from dataclasses import replace as copy_with

    from chalicelib.config import OAuthProviderSettings

    first = runtime.build(settings, client=dynamodb, clock=clock)
    assert first.transports.session.name == "auth_session"  # built, and kept
    assert first.oauth.configured == []
    provider = OAuthProviderSettings(
        "corp", "oidc", "Corp", "id", "secret", "https://corp.example", False
    )
    changed = copy_with(
        first.settings, cookie_secure=True, oauth_providers=(provider,), signup_ip_max=7
    )
    second = copy_with(first, settings=changed)
    assert second.transports.session.name == "__Host-auth_session"
    assert [p.id for p in second.oauth.configured] == ["corp"]
    assert second.store.table.client is first.store.table.client  # the same container's client
    assert first.transports.session.name == "auth_session"  # the first is as it was
    with pytest.raises(AttributeError):
        second.settings = first.settings  # frozen: a field cannot drift from what it built
