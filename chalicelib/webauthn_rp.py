"""The relying party's side of WebAuthn (passkeys), through py_webauthn.

The RP ID is the host of PUBLIC_ORIGIN and the expected origin is that origin exactly (browsers
refuse WebAuthn on an IP address: `make dev` serves http://localhost:<port>). Registration asks
for a discoverable credential (resident key) with user verification, no attestation, and
EdDSA, ES256 or RS256; every assertion must carry user verification. Challenges are 32 random
bytes, live 5 minutes, and are consumed by the caller (a conditional delete in DynamoDB).

py_webauthn brings `cryptography` and costs about a tenth of a second to import: it is loaded
on the passkey routes only, never by a protected request.
"""

from __future__ import annotations

import binascii
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple
from urllib.parse import urlsplit

CHALLENGE_BYTES = 32
CHALLENGE_SECONDS = 5 * 60
_ALGORITHMS = (-8, -7, -257)  # COSE: EdDSA, ES256, RS256


class BadCredential(ValueError):
    """A credential or assertion that does not verify, whatever is wrong with it."""


class CloneSuspected(BadCredential):
    """The signature verified but the sign count did not grow: the key may have been copied."""


class RelyingParty(NamedTuple):
    id: str
    name: str
    origin: str

    @classmethod
    def of(cls, origin: str, name: str) -> RelyingParty:
        host = urlsplit(origin).hostname or ""
        return cls(id=host, name=name, origin=origin)


class Registered(NamedTuple):
    credential_id: str  # base64url
    public_key: bytes
    sign_count: int
    aaguid: str
    device_type: str  # "single_device" or "multi_device"
    backed_up: bool
    transports: list[str]


def new_challenge() -> bytes:
    return secrets.token_bytes(CHALLENGE_BYTES)


def new_handle() -> str:
    """A user handle for authenticators: random, not the user's id (WebAuthn advises against
    anything identifying), kept as base64url."""
    return secrets.token_urlsafe(32)


def handle_bytes(handle: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(handle + "=" * (-len(handle) % 4))


def registration_options(
    rp: RelyingParty, challenge: bytes, *, user_handle: bytes, email: str, exclude: list[str]
) -> dict[str, Any]:
    """Creation options in the JSON form `PublicKeyCredential.parseCreationOptionsFromJSON`
    takes."""
    import webauthn
    from webauthn.helpers.cose import COSEAlgorithmIdentifier
    from webauthn.helpers.structs import (
        AttestationConveyancePreference,
        AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    options = webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_handle,
        user_name=email,
        user_display_name=email,
        challenge=challenge,
        timeout=CHALLENGE_SECONDS * 1000,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(c)) for c in exclude
        ],
        supported_pub_key_algs=[COSEAlgorithmIdentifier(a) for a in _ALGORITHMS],
    )
    document: dict[str, Any] = json.loads(webauthn.options_to_json(options))
    return document


def authentication_options(
    rp: RelyingParty, challenge: bytes, *, allow: list[str] | None = None
) -> dict[str, Any]:
    """Request options (JSON form): no `allowCredentials` for a discoverable sign-in, the
    user's passkeys for a second factor; user verification required either way."""
    import webauthn
    from webauthn.helpers.structs import (
        PublicKeyCredentialDescriptor,
        UserVerificationRequirement,
    )

    options = webauthn.generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=CHALLENGE_SECONDS * 1000,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(c)) for c in allow or []
        ],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    document: dict[str, Any] = json.loads(webauthn.options_to_json(options))
    return document


def challenge_of(credential: Any) -> bytes:
    """The challenge a credential answers, read from its clientDataJSON (verified later)."""
    from webauthn import base64url_to_bytes

    try:
        client_data = json.loads(base64url_to_bytes(credential["response"]["clientDataJSON"]))
        return base64url_to_bytes(client_data["challenge"])
    except (TypeError, KeyError, ValueError, binascii.Error) as error:
        raise BadCredential("no readable challenge") from error


def credential_id_of(credential: Any) -> str:
    """The credential's id (base64url), as its `rawId` says."""
    from webauthn import base64url_to_bytes
    from webauthn.helpers import bytes_to_base64url

    try:
        raw = credential["rawId"]
        if not isinstance(raw, str) or not 16 <= len(raw) <= 1400:
            raise BadCredential("a credential id of an unlikely size")
        return bytes_to_base64url(base64url_to_bytes(raw))
    except (TypeError, KeyError, ValueError, binascii.Error) as error:
        raise BadCredential("no readable credential id") from error


def user_handle_of(credential: Any) -> bytes | None:
    """The user handle an assertion names (None when it names none); verified by the caller
    against the credential's owner."""
    from webauthn import base64url_to_bytes

    try:
        raw = credential["response"].get("userHandle")
        return base64url_to_bytes(raw) if raw else None
    except (TypeError, KeyError, ValueError, AttributeError, binascii.Error) as error:
        raise BadCredential("no readable user handle") from error


@contextmanager
def _verifying() -> Iterator[None]:
    """Whatever py_webauthn raises about a credential (its own errors, or what hostile input
    makes its parsers raise) is a BadCredential: a 4xx, never a 500."""
    from webauthn.helpers.exceptions import WebAuthnException

    try:
        yield
    except (WebAuthnException, TypeError, KeyError, ValueError, IndexError) as error:
        raise BadCredential(str(error)) from error


def verify_registration(rp: RelyingParty, credential: Any, challenge: bytes) -> Registered:
    import webauthn
    from webauthn.helpers import bytes_to_base64url
    from webauthn.helpers.cose import COSEAlgorithmIdentifier

    with _verifying():
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
            supported_pub_key_algs=[COSEAlgorithmIdentifier(a) for a in _ALGORITHMS],
        )
    transports = credential.get("response", {}).get("transports", [])
    return Registered(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=str(verified.aaguid),
        # py_webauthn gives some of these as plain strings, some as enums (it varies by version).
        device_type=str(
            getattr(verified.credential_device_type, "value", verified.credential_device_type)
        ),
        backed_up=bool(verified.credential_backed_up),
        transports=[t for t in transports if isinstance(t, str)][:8],
    )


def verify_assertion(
    rp: RelyingParty, credential: Any, challenge: bytes, public_key: bytes, sign_count: int
) -> int:
    """The new sign count of a verified assertion (user verified); CloneSuspected when the
    signature holds but the count did not grow while either side counts."""
    import webauthn

    with _verifying():
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=public_key,
            # The count is checked below, once the signature is known to be good: a failure
            # there means a copied key, not a bad request.
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    received = verified.new_sign_count
    if (received > 0 or sign_count > 0) and received <= sign_count:
        raise CloneSuspected(f"sign count {received} after {sign_count}")
    return received
