"""Short-lived access tokens: JWTs (RFC 9068) signed from a live session, which a team's other
services and API Gateway's JWT authorizer verify on their own against the published keys.

The session stays the source of truth. A token is issued only from a session that grants
resources, with one read (the session's validation) and one signature, no write, and lives
ACCESS_TOKEN_LIFETIME (5 minutes; at most an hour). Logging out or revoking the session stops
new tokens at once; a token already issued lives until its `exp`: that is the whole trade.

The keys are RSA-2048 (RS256: API Gateway's JWT authorizer takes RSA keys only), kept in one
JSON keyring, oldest first:

    {"keys": [{"kid": "<RFC 7638 thumbprint>", "added_at": "2026-12-01T09:00:00Z",
               "private_key": "-----BEGIN PRIVATE KEY-----..."}]}

- deployed stages read it once per container from SSM Parameter Store (a SecureString named
  by ACCESS_TOKEN_KEYS_PARAMETER; the function may read that one parameter, nothing else);
- the `local` stage makes its own file (ACCESS_TOKEN_KEYS_FILE) on first use.

Every key of the keyring is published in the JWKS. A key signs only once it has been published
for ACCESS_TOKEN_KEY_ACTIVATION (2 hours: API Gateway caches a JWKS that long), so no verifier
meets a `kid` it has not fetched: the newest key published that long signs, or, in a keyring
with none such (a new one), its oldest. `python -m devtools.token_keys` makes and rotates it.

PyJWT and cryptography load on first use: only these routes need them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from chalicelib.clock import Clock, isoformat
from chalicelib.config import (
    MAX_ACCESS_TOKEN_KEY_ACTIVATION,
    MAX_ACCESS_TOKEN_LIFETIME,
    ConfigError,
    Settings,
)
from chalicelib.errors import InvalidRequest
from chalicelib.keyring import local_secret_file, read_parameter

if TYPE_CHECKING:
    from chalicelib.sessions import Session

ALGORITHM = "RS256"
TOKEN_TYPE = "at+jwt"  # noqa: S105 (RFC 9068 2.1: an access token, never taken for an ID token)
RSA_BITS = 2048
# A key may leave the keyring once its successor has signed for longer than any token lives.
RETIRE_AFTER = int((MAX_ACCESS_TOKEN_KEY_ACTIVATION + MAX_ACCESS_TOKEN_LIFETIME).total_seconds())
JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"
_KID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The session's active organization, in a token of a session that works in one.
ORG_CLAIMS = ("org_id", "org_role", "org_permissions")


class SigningKey(NamedTuple):
    kid: str
    added_at: int
    private_key: Any  # cryptography's RSAPrivateKey

    def public_jwk(self) -> dict[str, str]:
        from jwt.algorithms import RSAAlgorithm

        jwk: Any = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": ALGORITHM,
            "n": jwk["n"],
            "e": jwk["e"],
        }


class TokenKeyring:
    """The signing keys, oldest first."""

    def __init__(self, keys: list[SigningKey]) -> None:
        self.keys = sorted(keys, key=lambda key: key.added_at)

    @classmethod
    def from_json(cls, text: str, source: str, *, check_keys: bool = False) -> TokenKeyring:
        """Parse and check a keyring; a ConfigError naming `source` for anything amiss.

        OpenSSL's full check of an RSA private key (its primes and CRT values) costs about 65
        ms of CPU per key, three times that on the Lambda's share of a vCPU, in the first
        request of every container. The keyring is ours, made and checked by
        devtools.token_keys (`check_keys`) and read from a parameter only the deployer
        writes, so the service skips it; a key that cannot sign fails at its first token."""
        try:
            entries = json.loads(text)["keys"]
            if not isinstance(entries, list) or not entries:
                raise ValueError("'keys' must be a list of at least one key")
            keys = [_signing_key(entry, check_keys) for entry in entries]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ConfigError(f"{source}: not an access-token keyring: {error}") from None
        kids = [key.kid for key in keys]
        if len(set(kids)) != len(kids):
            raise ConfigError(f"{source}: not an access-token keyring: a kid appears twice")
        return cls(keys)

    def signing_key(self, now: int, activation: int) -> SigningKey:
        published = [key for key in self.keys if key.added_at + activation <= now]
        return published[-1] if published else self.keys[0]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [key.public_jwk() for key in reversed(self.keys)]}


def _signing_key(entry: dict[str, Any], check: bool) -> SigningKey:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    kid = entry["kid"]
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise ValueError(f"the kid {kid!r} is not 1-64 of [A-Za-z0-9_-]")
    added_at = _added_at(entry)
    try:
        private_key = load_pem_private_key(
            entry["private_key"].encode(), password=None, unsafe_skip_rsa_key_validation=not check
        )
    except UnsupportedAlgorithm:
        raise ValueError(f"the key {kid!r} is of a kind this service cannot load") from None
    if not isinstance(private_key, rsa.RSAPrivateKey) or private_key.key_size < RSA_BITS:
        raise ValueError(f"the key {kid!r} is not an RSA key of at least {RSA_BITS} bits")
    return SigningKey(kid, added_at, private_key)


def new_key(now: int) -> dict[str, str]:
    """A fresh key as the keyring holds it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    kid = _thumbprint(SigningKey("x", now, private_key).public_jwk())
    return {"kid": kid, "added_at": isoformat(now), "private_key": pem}


def new_keyring_json(now: int) -> str:
    return json.dumps({"keys": [new_key(now)]}, indent=2) + "\n"


def rotate_keyring_json(text: str, now: int) -> str:
    """The keyring plus a new key, published now and signing after the activation delay; keys
    whose successor was added more than RETIRE_AFTER ago leave (none of their tokens lives)."""
    TokenKeyring.from_json(text, "the keyring to rotate", check_keys=True)  # never a bad one
    entries = sorted(json.loads(text)["keys"], key=_added_at)
    kept = [
        entry
        for entry, successor in zip(entries, [*entries[1:], None], strict=True)
        if successor is None or now < _added_at(successor) + RETIRE_AFTER
    ]
    return json.dumps({"keys": [*kept, new_key(now)]}, indent=2) + "\n"


def _added_at(entry: dict[str, Any]) -> int:
    """When the key was added: ISO 8601 with its offset (the tool writes UTC, `Z`)."""
    added = datetime.fromisoformat(entry["added_at"])
    if added.tzinfo is None:
        raise ValueError(f"added_at {entry['added_at']!r} has no UTC offset")
    return int(added.timestamp())


def _thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638: SHA-256 of the required members in lexicographic order, no whitespace."""
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"))
    return _b64(hashlib.sha256(canonical.encode()).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Issued(NamedTuple):
    token: str
    jti: str
    audience: str
    expires_in: int


class AccessTokens:
    """Signs tokens from sessions and publishes the keys; the keyring loads on first use."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock
        self.lifetime = int(settings.access_token_lifetime.total_seconds())
        self._activation = int(settings.access_token_key_activation.total_seconds())

    @cached_property
    def keyring(self) -> TokenKeyring:
        """This container's keyring, read once (SSM, or the local stage's file)."""
        parameter, file = (
            self._settings.access_token_keys_parameter,
            self._settings.access_token_keys_file,
        )
        if parameter is not None:
            source = f"ACCESS_TOKEN_KEYS_PARAMETER {parameter!r}"
            return TokenKeyring.from_json(
                read_parameter(parameter, "ACCESS_TOKEN_KEYS_PARAMETER"), source
            )
        if file is None:
            raise ConfigError(
                "ACCESS_TOKEN_KEYS_PARAMETER (SSM) or ACCESS_TOKEN_KEYS_FILE is required: the "
                "keys that sign access tokens"
            )
        text = local_secret_file(Path(file), lambda: new_keyring_json(self._clock.now()))
        return TokenKeyring.from_json(text, f"ACCESS_TOKEN_KEYS_FILE {file!r}")

    def issuer(self, base_path: str) -> str:
        """`iss`: the public origin and the stage prefix, under which discovery sits."""
        origin = self._settings.public_origin
        if origin is None:
            raise ConfigError("PUBLIC_ORIGIN is required: it is the access tokens' issuer")
        return origin + base_path

    def audience(self, asked: str | None) -> str:
        audiences = self._settings.access_token_audiences
        if asked is None:
            return audiences[0]
        if asked not in audiences:
            raise InvalidRequest("The audience is not one this service issues tokens for.")
        return asked

    def issue(
        self,
        session: Session,
        audience: str,
        issuer: str,
        now: int,
        permissions: frozenset[str] = frozenset(),
        extra: Mapping[str, Any] | None = None,
        org_permissions: frozenset[str] = frozenset(),
    ) -> Issued:
        """A token for the session's user, carrying their roles and the `permissions` those
        give (RFC 9068 2.2.3.1), for an impersonation the admin as RFC 8693's `act`, and for a
        session working in an organization that one alone: its id, the user's role there and
        the `org_permissions` that role gives (none of the three otherwise). The `extra`
        claims (the team's hook's) go under these: none of them can replace one."""
        import jwt

        key = self.keyring.signing_key(now, self._activation)
        jti = secrets.token_urlsafe(16)
        user = session.user
        claims: dict[str, Any] = {
            **(extra or {}),
            "iss": issuer,
            "sub": user.id,
            "aud": audience,
            "client_id": audience,  # RFC 9068: the token is for this audience's client
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "jti": jti,
            "sid": session_handle(session.id),
            "auth_time": session.auth_time or session.created_at,
            "email": user.email,
            "email_verified": user.email_verified,
            "scope": " ".join(self._settings.access_token_scopes),
            "roles": list(user.roles),
            "permissions": sorted(permissions),
        }
        # Set or removed either way: an extra claim never stands in for one of these.
        for optional in ("amr", "act", *ORG_CLAIMS):
            claims.pop(optional, None)
        if session.amr:
            claims["amr"] = list(session.amr)
        if session.impersonator is not None:
            claims["act"] = {"sub": session.impersonator.id}
        if session.organization is not None:
            # The active organization only, never the user's others (Clerk does the same): a
            # token stays small, and a service reads which organization a request is for.
            claims["org_id"] = session.organization.id
            claims["org_role"] = session.organization.role
            claims["org_permissions"] = sorted(org_permissions)
        headers = {"kid": key.kid, "typ": TOKEN_TYPE}
        token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers=headers)
        return Issued(token, jti, audience, self.lifetime)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return self.keyring.jwks()

    def discovery(self, issuer: str) -> dict[str, Any]:
        """Enough for API Gateway's JWT authorizer and JOSE libraries to find the keys; not an
        OpenID Provider's metadata (there is no authorization endpoint, no ID token)."""
        return {
            "issuer": issuer,
            "jwks_uri": issuer + JWKS_PATH,
            # Under OpenID discovery's name, which verifiers read: what our JWTs are signed
            # with (access tokens: we issue no ID token).
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "subject_types_supported": ["public"],
            "scopes_supported": list(self._settings.access_token_scopes),
            "claims_supported": [
                "iss", "sub", "aud", "client_id", "iat", "nbf", "exp", "jti", "sid",
                "auth_time", "amr", "email", "email_verified", "scope", "roles",
                "permissions", "act", *ORG_CLAIMS,
            ],
        }  # fmt: skip


def session_handle(session_id: str) -> str:
    """`sid`: a digest of the session's public id, stable for the session's life; never the
    session token or its stored digest, so no token can be derived or looked up from it."""
    return _b64(hashlib.sha256(b"sid:" + session_id.encode()).digest()[:16])
