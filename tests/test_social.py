"""Social sign-in's settings, its pure checks and its pages, on moto (the flows themselves run
over HTTP against a real OpenID Provider: tests/integration/test_social_http.py)."""

import json
from dataclasses import replace

import boto3
import pytest

from chalicelib import runtime
from chalicelib.config import ConfigError, Settings
from chalicelib.errors import OAuthFailed
from chalicelib.flows.social import safe_next
from chalicelib.oauth import _endpoints_of, challenge_of, strictly_true
from chalicelib.oauth_providers import Providers

GOOGLE = {"OAUTH_GOOGLE_CLIENT_ID": "g-id", "OAUTH_GOOGLE_CLIENT_SECRET": "g-secret"}
CORP = {
    "OAUTH_CORP_CLIENT_ID": "c-id",
    "OAUTH_CORP_CLIENT_SECRET": "c-secret",
    "OAUTH_CORP_ISSUER": "https://id.corp.example/",
    "OAUTH_CORP_NAME": "Corp SSO",
}


def providers_of(env: dict[str, str]):
    return Settings.from_env(env).oauth_providers


def test_providers_come_in_button_order_with_the_built_ins_known():
    env = {
        "OAUTH_PROVIDERS": "corp, google,github",
        **GOOGLE,
        **CORP,
        "OAUTH_GITHUB_CLIENT_ID": "h-id",
        "OAUTH_GITHUB_CLIENT_SECRET": "h-secret",
    }
    corp, google, github = providers_of(env)
    assert (corp.id, corp.kind, corp.name, corp.issuer) == (
        "corp",
        "oidc",
        "Corp SSO",
        "https://id.corp.example",
    )
    assert corp.trust_email is False  # generic providers are not trusted for email by default
    assert (google.kind, google.name, google.issuer, google.trust_email) == (
        "google",
        "Google",
        "https://accounts.google.com",
        True,
    )
    assert (github.kind, github.issuer, github.github_api_url) == (
        "github",
        "https://github.com",
        "https://api.github.com",
    )
    assert providers_of({}) == ()


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"OAUTH_PROVIDERS": "Google"}, "OAUTH_PROVIDERS"),
        ({"OAUTH_PROVIDERS": "google,google", **GOOGLE}, "OAUTH_PROVIDERS"),
        ({"OAUTH_PROVIDERS": "google"}, "OAUTH_GOOGLE_CLIENT_ID"),
        (
            {"OAUTH_PROVIDERS": "google", "OAUTH_GOOGLE_CLIENT_ID": "x"},
            "OAUTH_GOOGLE_CLIENT_SECRET",
        ),
        ({"OAUTH_PROVIDERS": "corp", **CORP, "OAUTH_CORP_ISSUER": ""}, "OAUTH_CORP_ISSUER"),
        ({"OAUTH_PROVIDERS": "corp", **CORP, "OAUTH_CORP_NAME": ""}, "OAUTH_CORP_NAME"),
        (
            {"OAUTH_PROVIDERS": "corp", **CORP, "OAUTH_CORP_ISSUER": "http://id.corp.example"},
            "OAUTH_CORP_ISSUER",
        ),
        (
            {"OAUTH_PROVIDERS": "corp", **CORP, "OAUTH_CORP_ISSUER": "http://localhost:9000"},
            "OAUTH_CORP_ISSUER",  # plain http only where cookies are not Secure
        ),
        ({"OAUTH_PROVIDERS": "corp", **CORP, "OAUTH_CORP_TRUST_EMAIL": "maybe"}, "TRUST_EMAIL"),
    ],
)
def test_a_malformed_provider_setting_names_its_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)


def test_the_local_stage_may_use_a_provider_on_this_machine_and_secrets_may_come_from_ssm():
    env = {
        "COOKIE_SECURE": "false",
        "OAUTH_PROVIDERS": "corp",
        **CORP,
        "OAUTH_CORP_ISSUER": "http://127.0.0.1:9000",
        "OAUTH_CORP_CLIENT_SECRET": "",
        "OAUTH_SECRETS_PARAMETER": "/session-auth/oauth-secrets",
    }
    (corp,) = providers_of(env)
    assert corp.issuer == "http://127.0.0.1:9000"
    assert corp.client_secret is None


def test_secrets_are_read_once_per_container_from_the_ssm_parameter(dynamodb, clock):
    boto3.client("ssm").put_parameter(
        Name="/session-auth/oauth-secrets",
        Value=json.dumps({"corp": "from-ssm"}),
        Type="SecureString",
    )
    env = {**CORP, "OAUTH_PROVIDERS": "corp", "OAUTH_CORP_CLIENT_SECRET": ""}
    settings = Settings.from_env({**env, "OAUTH_SECRETS_PARAMETER": "/session-auth/oauth-secrets"})
    providers = Providers(settings, clock.now)
    provider = providers.get("corp")
    assert provider is not None
    assert provider._secret() == "from-ssm"
    assert providers.get("nope") is None


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("/settings", True),
        ("/training?tab=2#top", True),
        ("//evil.example", False),
        ("/\\evil.example", False),
        ("https://evil.example/", False),
        ("javascript:alert(1)", False),
        ("training", False),
        ("/ok\r\nLocation: x", False),
        ("/caf\u00e9", False),
        ("", False),
        (None, False),
    ],
)
def test_next_must_be_a_path_of_ours(raw, kept):
    assert safe_next(raw) == (raw if kept else "/training")


def test_only_true_is_a_verified_email():
    assert strictly_true(True)
    assert strictly_true("true")
    for value in ("false", "True", 1, "yes", None, {}, [True]):
        assert not strictly_true(value), value


def test_pkce_is_s256_of_the_verifier():
    # RFC 7636 appendix B's example.
    assert challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_discovery_pins_asymmetric_algorithms_and_never_none_or_hmac():
    document = {
        "authorization_endpoint": "https://id.example/auth",
        "token_endpoint": "https://id.example/token",
        "jwks_uri": "https://id.example/jwks",
        "id_token_signing_alg_values_supported": ["none", "HS256", "RS256", "ES256"],
    }
    assert _endpoints_of(document).algorithms == ("RS256", "ES256")
    with pytest.raises(OAuthFailed):
        _endpoints_of({**document, "id_token_signing_alg_values_supported": ["none", "HS256"]})


def test_the_login_and_sign_up_pages_offer_each_provider_as_a_plain_link(client, services):
    env = {"OAUTH_PROVIDERS": "google,corp", **GOOGLE, **CORP}
    configured = Settings.from_env(env).oauth_providers
    settings = replace(services.settings, oauth_providers=configured)
    runtime.use(replace(services, settings=settings))  # its providers rebuilt from them
    for path in ("/login", "/signup"):
        body = client.http.get(path).body.decode()
        google = body.index('href="/auth/oauth/google">Continue with Google</a>')
        corp = body.index('href="/auth/oauth/corp">Continue with Corp SSO</a>')
        assert google < corp  # button order
