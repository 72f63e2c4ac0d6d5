"""Cross-origin request protection for cookie sessions (ASVS 3.5), after Go 1.25's
net/http.CrossOriginProtection.

For any method but GET, HEAD and OPTIONS:
1. `Sec-Fetch-Site: same-origin` or `none` (typed URL, bookmark) -> allowed. Any other value
   is allowed only when the Origin header is one of the trusted origins.
2. No Sec-Fetch-Site (older browsers): an Origin header must name this service's own origin or
   a trusted one.
3. Neither header: not a browser, so no ambient cookies to abuse -> allowed.

A request whose session travels in `Authorization: Bearer` is not checked at all: it carries
no ambient credential (chalicelib.web decides that at the edge). The origins of CORS_ORIGINS
are trusted as ALLOWED_ORIGINS are.

SameSite=Lax alone is not enough: it treats sibling subdomains as same-site and older
browsers ignore it.
"""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.config import Settings
from chalicelib.errors import CrossOriginRequest

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CrossOriginProtection:
    def __init__(self, settings: Settings) -> None:
        self._trusted = frozenset((*settings.allowed_origins, *settings.cors_origins))
        self._public_origin = settings.public_origin
        # API Gateway tells the scheme in X-Forwarded-Proto; `chalice local` is plain http.
        self._default_scheme = "https" if settings.cookie_secure else "http"

    def check(self, method: str, headers: Mapping[str, str]) -> None:
        """Raise CrossOriginRequest (403) for a state-changing request from another origin."""
        if method.upper() in SAFE_METHODS:
            return
        origin = headers.get("origin")
        site = headers.get("sec-fetch-site")
        if site is not None:
            if site in ("same-origin", "none") or origin in self._trusted:
                return
            raise CrossOriginRequest()
        if origin is None:
            return
        if origin in self._trusted or origin in self._own_origins(headers):
            return
        raise CrossOriginRequest()

    def _own_origins(self, headers: Mapping[str, str]) -> set[str]:
        origins = set()
        if self._public_origin:
            origins.add(self._public_origin)
        host = headers.get("host")
        if host:
            scheme = headers.get("x-forwarded-proto", self._default_scheme).split(",")[0].strip()
            origins.add(f"{scheme}://{host}".lower())
        return origins
