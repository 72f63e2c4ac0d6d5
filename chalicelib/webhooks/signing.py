"""Standard Webhooks signatures (https://www.standardwebhooks.com/), the sender's side.

Each delivery carries `webhook-id`, `webhook-timestamp` and `webhook-signature`: `v1,` and the
base64 HMAC-SHA256 of `<id>.<timestamp>.<body>` under a shared secret. Receivers verify it with
the project's libraries (`standardwebhooks` on PyPI and its siblings), and refuse timestamps
more than a few minutes off, which bounds replays; the id lets them drop duplicates.

Secrets are `whsec_` and the key in base64 (24 to 64 bytes, as the specification advises; ours
are 32). The stage's secrets are one JSON document, newest first:
`{"secrets": ["whsec_new...", "whsec_old..."]}`. Rotating is: put a new secret first, let
receivers learn it (every delivery is signed with both meanwhile, and each verifies alone),
then drop the old one. The document lives where the TOTP keyring does:
- deployed stages read it once per container from an SSM SecureString
  (WEBHOOK_SECRETS_PARAMETER);
- the `local` stage makes its own, of one new secret, in an ignored file on first use
  (WEBHOOK_SECRETS_FILE, `.secrets/webhook-secrets.json`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_bytes

from chalicelib.config import ConfigError, Settings
from chalicelib.keyring import local_secret_file, read_parameter

PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64
NEW_KEY_BYTES = 32


@dataclass(frozen=True)
class WebhookSecret:
    """One signing key. Its bytes stay out of repr() and so out of logs and tracebacks."""

    key: bytes = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> WebhookSecret:
        """A `whsec_<base64>` secret. Errors say what is wrong, never what was given: the
        text is the secret."""
        if not text.startswith(PREFIX):
            raise ConfigError(f"a webhook secret must start with {PREFIX!r}")
        try:
            key = base64.b64decode(text.removeprefix(PREFIX), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"a webhook secret must be {PREFIX} and standard base64") from None
        if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
            raise ConfigError(
                f"a webhook secret's key must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes,"
                f" not {len(key)}"
            )
        return cls(key)

    def signature(self, msg_id: str, timestamp: int, body: bytes) -> str:
        signed = f"{msg_id}.{timestamp}.".encode() + body
        digest = hmac.new(self.key, signed, hashlib.sha256).digest()
        return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def new_secret() -> str:
    """A fresh `whsec_` secret of 32 random bytes, to give a receiver and put first in the
    secrets document."""
    return PREFIX + base64.b64encode(token_bytes(NEW_KEY_BYTES)).decode()


def new_secrets_json() -> str:
    """A secrets document of one fresh secret (a local file's first contents)."""
    return json.dumps({"secrets": [new_secret()]}, indent=2) + "\n"


def sign(secrets: Sequence[WebhookSecret], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one `v1,<base64>` per secret, space-separated, in the
    secrets' order (newest first), so a receiver that knows either secret accepts it."""
    if not secrets:
        raise ValueError("signing needs at least one webhook secret")
    # The id travels in a header: a space or a control character would corrupt it.
    if not msg_id or not msg_id.isprintable() or any(c.isspace() for c in msg_id):
        raise ValueError("a webhook id must be printable, without spaces")
    if timestamp < 0:
        raise ValueError("a webhook timestamp is seconds since the epoch")
    return " ".join(secret.signature(msg_id, timestamp, body) for secret in secrets)


def headers(
    secrets: Sequence[WebhookSecret], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Every header a delivery needs beyond what HTTP itself adds."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secrets, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def parse_secrets(text: str) -> tuple[WebhookSecret, ...]:
    """The secrets document, `{"secrets": ["whsec_...", ...]}`, newest first."""
    try:
        document = json.loads(text)
    except ValueError:
        raise ConfigError('not a JSON object like {"secrets": ["whsec_..."]}') from None
    listed = document.get("secrets") if isinstance(document, dict) else None
    if not isinstance(listed, list) or not listed:
        raise ConfigError('not a JSON object like {"secrets": ["whsec_..."]} with one or more')
    parsed = []
    for index, entry in enumerate(listed):
        if not isinstance(entry, str):
            raise ConfigError(f"secret {index} is not a string")
        try:
            parsed.append(WebhookSecret.parse(entry))
        except ConfigError as error:
            raise ConfigError(f"secret {index}: {error}") from None
    return tuple(parsed)


def load_secrets(settings: Settings) -> tuple[WebhookSecret, ...]:
    """The stage's signing secrets: SSM on deployed stages, a file made on first use locally.
    Read it once per container (the caller keeps it); a new secret reaches running containers
    when Lambda starts new ones."""
    parameter, file = settings.webhook_secrets_parameter, settings.webhook_secrets_file
    if parameter is not None:
        variable = "WEBHOOK_SECRETS_PARAMETER"
        text = read_parameter(parameter, variable)
    elif file is not None:
        variable = "WEBHOOK_SECRETS_FILE"
        text = local_secret_file(Path(file), new_secrets_json)
    else:
        raise ConfigError("WEBHOOK_SECRETS_PARAMETER (SSM) or WEBHOOK_SECRETS_FILE is required")
    try:
        return parse_secrets(text)
    except ConfigError as error:
        raise ConfigError(f"{variable}: {error}") from None
