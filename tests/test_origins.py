from dataclasses import replace

import pytest

from chalicelib.config import Settings
from chalicelib.errors import CrossOriginRequest
from chalicelib.origins import CrossOriginProtection

HOST = {"host": "api.example.com"}


@pytest.fixture
def protection() -> CrossOriginProtection:
    settings = replace(
        Settings(),
        public_origin="https://auth.example.com",
        allowed_origins=("https://app.example.com",),
    )
    return CrossOriginProtection(settings)


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "get"])
def test_safe_methods_are_never_checked(protection, method):
    protection.check(
        method, {**HOST, "sec-fetch-site": "cross-site", "origin": "https://evil.test"}
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "none"},
        {"sec-fetch-site": "same-origin", "origin": "https://api.example.com"},
        # A trusted origin is allowed even though the browser calls it cross-site.
        {"sec-fetch-site": "cross-site", "origin": "https://app.example.com"},
        {"sec-fetch-site": "same-site", "origin": "https://app.example.com"},
        # Older browsers: no Sec-Fetch-Site, so the Origin decides.
        {"origin": "https://api.example.com"},
        {"origin": "https://api.example.com", "x-forwarded-proto": "https"},
        {"origin": "https://auth.example.com"},
        {"origin": "https://app.example.com"},
        # Neither header: curl, server-to-server; no ambient browser cookies to abuse.
        {},
    ],
)
def test_allowed(protection, headers):
    protection.check("POST", {**HOST, **headers})


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},  # a sibling subdomain, which SameSite=Lax lets through
        {"sec-fetch-site": "cross-site", "origin": "https://evil.test"},
        {"sec-fetch-site": "cross-site", "origin": "https://api.example.com.evil.test"},
        {"origin": "https://evil.test"},
        {"origin": "null"},
        {"origin": "http://api.example.com", "x-forwarded-proto": "https"},
        {"origin": "https://app.example.com:8443"},
    ],
)
def test_refused(protection, headers):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        with pytest.raises(CrossOriginRequest):
            protection.check(method, {**HOST, **headers})


def test_local_stage_own_origin_is_plain_http():
    local = CrossOriginProtection(replace(Settings(), cookie_secure=False))
    local.check("POST", {"host": "127.0.0.1:8000", "origin": "http://127.0.0.1:8000"})
    with pytest.raises(CrossOriginRequest):
        local.check("POST", {"host": "127.0.0.1:8000", "origin": "http://localhost:8000"})
