"""OAuth 2.0 and OpenID Connect sign-in, the client's side: one shared core, providers as data.

Arctic's lesson: the one function that validates an ID token lives here, in the core, where no
provider can skip it.

- Providers: Google (OpenID Connect, its endpoints known), GitHub (OAuth 2.0 without ID
  tokens: the user and their verified primary email come from its API), and any OpenID Connect
  issuer, found by discovery once per container.
- The flow: the authorization code with PKCE (S256), `state`, and for OpenID Connect `nonce`.
- ID tokens: the signature against the provider's JWKS (kept per container; an unknown `kid`
  fetches it again, at most once a minute), the algorithm pinned to what the provider
  advertises and never `none` or HMAC, then `iss`, `aud` (and `azp` when `aud` has several),
  `exp`, `iat` against the injected clock, and `nonce` in constant time.
- Claims: from the ID token, or from UserInfo when it lacks them (OIDC Core 5.4; UserInfo's
  `sub` must be the token's). `email_verified` counts only as JSON `true` or exactly "true".
- Every call to a provider: the standard library's client, no redirect followed, a 3-second
  timeout, a bounded body. A provider that is down is a 503; one that answers garbage, a 400.
- No provider token is kept: the access token lives for this request only.

PyJWT (over the `cryptography` the service already ships) is imported by the functions that
use it, on the OAuth routes only: a protected request's cold start does not grow.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote_plus, urlencode

from chalicelib.config import OAuthProviderSettings
from chalicelib.errors import OAuthFailed, ServiceUnavailable

if TYPE_CHECKING:
    import jwt

# Asymmetric signatures only: `none` proves nothing, and an HMAC key would be the client secret.
ASYMMETRIC = (
    *("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"),
    "EdDSA",
)
TIMEOUT_SECONDS = 3.0
MAX_BODY_BYTES = 1024 * 1024
JWKS_REFETCH_SECONDS = 60
CLOCK_SKEW_SECONDS = 60
OIDC_SCOPE = "openid email profile"
BASIC, POST = "client_secret_basic", "client_secret_post"  # token endpoint client auth
GITHUB_SCOPE = "read:user user:email"

_GOOGLE = {
    "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
    "token_endpoint": "https://oauth2.googleapis.com/token",
    "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo",
    "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
    "id_token_signing_alg_values_supported": ["RS256"],
    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
}


class ProviderUnavailable(ServiceUnavailable):
    message = "The sign-in provider did not answer. Try again in a moment."


class ExternalIdentity(NamedTuple):
    """Who the provider says signed in: keyed by (issuer, subject), never by email."""

    issuer: str
    subject: str
    email: str | None  # None: the provider gave no (verified, on GitHub) address
    email_verified: bool
    name: str


class Endpoints(NamedTuple):
    authorization: str
    token: str
    userinfo: str | None
    jwks_uri: str | None
    algorithms: tuple[str, ...]
    token_auth: str  # BASIC or POST


class Attempt(NamedTuple):
    """What an authorization request's callback needs, kept server-side (never in the URL)."""

    state: str
    verifier: str
    nonce: str


def new_attempt() -> Attempt:
    return Attempt(secrets.token_urlsafe(32), secrets.token_urlsafe(48), secrets.token_urlsafe(24))


def challenge_of(verifier: str) -> str:
    """PKCE S256 (RFC 7636): base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def strictly_true(value: Any) -> bool:
    """JSON `true`, or exactly the string "true" from providers that send strings: never the
    string "false", 1, "yes" or anything else truthy."""
    return value is True or value == "true"


# -- HTTP ---------------------------------------------------------------------------------------


class Http:
    """JSON over HTTPS to a provider: no redirects, a timeout, a bounded body. urllib is
    imported on the first call: the OAuth routes only."""

    def __init__(self, timeout: float = TIMEOUT_SECONDS) -> None:
        self._timeout = timeout

    @cached_property
    def _opener(self) -> Any:
        import urllib.request

        class NoRedirects(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None  # urllib then raises the 3xx as an HTTPError

        return urllib.request.build_opener(NoRedirects)

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        return self._send(url, None, dict(headers or {}))

    def post(
        self, url: str, form: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> tuple[int, Any]:
        all_headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self._send(url, urlencode(form).encode(), all_headers)

    def _send(self, url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, Any]:
        import urllib.error
        import urllib.request

        headers = {"Accept": "application/json", **headers}
        headers["User-Agent"] = "session-auth"  # GitHub's API refuses requests without one
        request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                status, raw = response.status, response.read(MAX_BODY_BYTES + 1)
        except urllib.error.HTTPError as error:
            if error.code >= 500:
                raise ProviderUnavailable() from error
            status, raw = error.code, error.read(MAX_BODY_BYTES + 1)
        except (OSError, ValueError) as error:  # refused, reset, timed out, a bad URL
            raise ProviderUnavailable() from error
        if len(raw) > MAX_BODY_BYTES:
            raise OAuthFailed()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, None  # not JSON: the caller decides what that means


# -- providers -------------------------------------------------------------------------------------


class Provider:
    """One configured provider: its endpoints, the authorization URL, and the identity its
    callback proves. GitHub differs in two places only (no ID token; its API's user)."""

    def __init__(
        self,
        settings: OAuthProviderSettings,
        secret: Callable[[], str],
        http: Http,
        clock: Callable[[], int],
    ) -> None:
        self.settings = settings
        self._secret = secret
        self._http = http
        self._now = clock
        self._keys: dict[str, Any] = {}
        self._keys_fetched_at: float | None = None

    @property
    def id(self) -> str:
        return self.settings.id

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    @property
    def is_github(self) -> bool:
        return self.settings.kind == "github"

    @cached_property
    def endpoints(self) -> Endpoints:
        """Known for Google and GitHub; discovered (once per container) for any other."""
        if self.is_github:
            base = self.settings.github_url
            return Endpoints(
                f"{base}/login/oauth/authorize",
                f"{base}/login/oauth/access_token",
                None,
                None,
                (),
                POST,
            )
        if self.settings.kind == "google":
            return _endpoints_of(_GOOGLE)
        status, document = self._http.get(f"{self.issuer}/.well-known/openid-configuration")
        if status != 200 or not isinstance(document, dict):
            raise ProviderUnavailable()
        if document.get("issuer") != self.issuer:  # OIDC Discovery 4.3
            raise OAuthFailed()
        return _endpoints_of(document)

    def authorization_url(self, redirect_uri: str, attempt: Attempt) -> str:
        query = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": redirect_uri,
            "scope": GITHUB_SCOPE if self.is_github else OIDC_SCOPE,
            "state": attempt.state,
            "code_challenge": challenge_of(attempt.verifier),
            "code_challenge_method": "S256",
        }
        if not self.is_github:
            query["nonce"] = attempt.nonce
        return f"{self.endpoints.authorization}?{urlencode(query)}"

    def identity(self, code: str, attempt: Attempt, redirect_uri: str) -> ExternalIdentity:
        """Exchange the code (with the PKCE verifier) and prove who signed in."""
        tokens = self._exchange(code, attempt.verifier, redirect_uri)
        access_token = tokens.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise OAuthFailed()
        if self.is_github:
            return self._github_identity(access_token)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise OAuthFailed()
        claims = self.validate_id_token(id_token, attempt.nonce)
        if "email" not in claims:
            claims = {**self._userinfo(access_token, claims["sub"]), **claims}
        email = claims.get("email")
        return ExternalIdentity(
            issuer=self.issuer,
            subject=claims["sub"],
            email=email if isinstance(email, str) and email else None,
            email_verified=strictly_true(claims.get("email_verified")),
            name=_text(claims.get("name")),
        )

    # -- the token endpoint ------------------------------------------------------------------

    def _exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        headers = {}
        if self.endpoints.token_auth == BASIC:
            # RFC 6749 2.3.1: each part form-encoded before base64.
            pair = f"{_form(self.settings.client_id)}:{_form(self._secret())}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form |= {"client_id": self.settings.client_id, "client_secret": self._secret()}
        status, body = self._http.post(self.endpoints.token, form, headers)
        # GitHub answers 200 with an `error` field when the exchange fails.
        if status != 200 or not isinstance(body, dict) or "error" in body:
            raise OAuthFailed()
        return body

    # -- ID tokens ---------------------------------------------------------------------------

    def validate_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        """The token's claims, once every check passed; OAuthFailed otherwise."""
        import jwt

        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise OAuthFailed() from None
        algorithm = header.get("alg")
        if algorithm not in self.endpoints.algorithms:
            raise OAuthFailed()
        key = self._signing_key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=key,
                algorithms=[algorithm],
                audience=self.settings.client_id,
                issuer=self.issuer,
                # exp and iat are checked below against the injected clock.
                options={
                    "require": ["iss", "sub", "aud", "exp", "iat"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            raise OAuthFailed() from None
        now = self._now()
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or not isinstance(iat, int | float):
            raise OAuthFailed()
        if exp <= now - CLOCK_SKEW_SECONDS or iat > now + CLOCK_SKEW_SECONDS:
            raise OAuthFailed()
        nbf = claims.get("nbf")
        if nbf is not None and (not isinstance(nbf, int | float) or nbf > now + CLOCK_SKEW_SECONDS):
            raise OAuthFailed()
        audience = claims["aud"]
        azp = claims.get("azp")
        several = isinstance(audience, list) and len(audience) > 1
        if (several or azp is not None) and azp != self.settings.client_id:
            raise OAuthFailed()
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
            raise OAuthFailed()
        subject = claims["sub"]
        if not isinstance(subject, str) or not 0 < len(subject) <= 255:
            raise OAuthFailed()
        return claims

    def _signing_key(self, kid: Any) -> jwt.PyJWK:
        """The provider's key `kid` (its only key, when the token names none); the set is
        fetched again for an unknown kid, but at most once a minute (a forged kid cannot make
        us hammer the provider)."""
        key = self._find_key(kid)
        if key is None:
            fetched = self._keys_fetched_at
            if fetched is None or time.monotonic() - fetched >= JWKS_REFETCH_SECONDS:
                self._fetch_keys()
                key = self._find_key(kid)
        if key is None:
            raise OAuthFailed()
        return key

    def _find_key(self, kid: Any) -> jwt.PyJWK | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid) if isinstance(kid, str) else None

    def _fetch_keys(self) -> None:
        import jwt

        self._keys_fetched_at = time.monotonic()
        if self.endpoints.jwks_uri is None:
            raise OAuthFailed()
        status, document = self._http.get(self.endpoints.jwks_uri)
        if status != 200 or not isinstance(document, dict):
            raise ProviderUnavailable()
        keys = {}
        for entry in document.get("keys", []):
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK.from_dict(entry)
            except (jwt.PyJWTError, ValueError, TypeError):
                continue  # a key type this service does not use
            keys[str(entry.get("kid", len(keys)))] = key
        self._keys = keys

    # -- UserInfo, and GitHub's API ---------------------------------------------------------------

    def _userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        if self.endpoints.userinfo is None:
            return {}
        status, claims = self._http.get(
            self.endpoints.userinfo, {"Authorization": f"Bearer {access_token}"}
        )
        if status != 200 or not isinstance(claims, dict):
            raise OAuthFailed()
        if claims.get("sub") != subject:  # OIDC Core 5.3.4: else the answer is not for us
            raise OAuthFailed()
        return claims

    def _github_identity(self, access_token: str) -> ExternalIdentity:
        headers = {
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        api = self.settings.github_api_url
        status, user = self._http.get(f"{api}/user", headers)
        if status != 200 or not isinstance(user, dict):
            raise OAuthFailed()
        user_id = user.get("id")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise OAuthFailed()
        email: str | None = None
        status, emails = self._http.get(f"{api}/user/emails", headers)
        if status == 200 and isinstance(emails, list):
            primary = next(
                (e for e in emails if isinstance(e, dict) and e.get("primary") is True), None
            )
            if primary is not None and primary.get("verified") is True:
                address = primary.get("email")
                email = address if isinstance(address, str) and address else None
        elif status != 404:  # 404: the token may not read emails; the user has none for us
            raise OAuthFailed()
        # The numeric id: a login name can be given up and taken by someone else.
        return ExternalIdentity(
            issuer=self.issuer,
            subject=str(user_id),
            email=email,
            email_verified=email is not None,
            name=_text(user.get("name") or user.get("login")),
        )


def _endpoints_of(document: Mapping[str, Any]) -> Endpoints:
    """The endpoints a discovery document names, with what it advertises pinned."""

    def url(name: str, required: bool = True) -> str | None:
        value = document.get(name)
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            return value
        if required:
            raise OAuthFailed()
        return None

    advertised = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = tuple(a for a in ASYMMETRIC if isinstance(advertised, list) and a in advertised)
    if not algorithms:
        raise OAuthFailed()
    methods = document.get("token_endpoint_auth_methods_supported") or [BASIC]
    token_auth = BASIC if BASIC in methods else POST
    return Endpoints(
        authorization=str(url("authorization_endpoint")),
        token=str(url("token_endpoint")),
        userinfo=url("userinfo_endpoint", required=False),
        jwks_uri=url("jwks_uri"),
        algorithms=algorithms,
        token_auth=token_auth,
    )


def _form(value: str) -> str:
    return quote_plus(value)


def _text(value: Any) -> str:
    return value[:100] if isinstance(value, str) else ""
