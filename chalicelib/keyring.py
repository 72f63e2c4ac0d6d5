"""Encryption at rest for secrets the service must read back (TOTP seeds): AES-256-GCM.

A table dump, backup or export alone reveals nothing: the keys live elsewhere. Each ciphertext
names its key (`v1.<key id>.<nonce+ciphertext, base64url>`), so keys can rotate: add a key,
make it current, and old ciphertexts still open with theirs. The ciphertext is bound to what
it belongs to (`context`, e.g. the user), so it cannot be copied onto another account.

The keyring is JSON, `{"current": "<id>", "keys": {"<id>": "<32 bytes, base64>"}}`:
- deployed stages read it once per container from SSM Parameter Store (a SecureString named by
  TOTP_KEYS_PARAMETER; the function may read that one parameter, nothing else);
- the `local` stage makes its own in an ignored file (TOTP_KEYS_FILE, `make dev`:
  `.secrets/totp-keys.json`) on first use.

`cryptography` and the SSM client load on first use: only two-factor routes need them.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from chalicelib.config import ConfigError, Settings
from chalicelib.errors import ServiceUnavailable

_VERSION = "v1"
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_NONCE_BYTES = 12


class KeyringError(ValueError):
    """The keyring or a ciphertext is malformed (never the secret's fault: an operator's)."""


class Keyring:
    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        if current not in keys:
            raise KeyringError(f"the current key {current!r} is not in the keyring")
        for key_id, key in keys.items():
            if not _KEY_ID.fullmatch(key_id) or len(key) != 32:
                raise KeyringError(f"key {key_id!r} needs an id of [A-Za-z0-9_-] and 32 bytes")
        self._keys = keys
        self.current = current

    @classmethod
    def from_json(cls, text: str) -> Keyring:
        try:
            document = json.loads(text)
            keys = {k: base64.b64decode(v, validate=True) for k, v in document["keys"].items()}
            return cls(keys, document["current"])
        except (ValueError, KeyError, TypeError, binascii.Error) as error:
            raise KeyringError(f"not a keyring: {error}") from None

    @staticmethod
    def new_json(key_id: str = "k1") -> str:
        """A fresh keyring of one random key (for a local file, or to put into SSM)."""
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        return json.dumps({"current": key_id, "keys": {key_id: key}}, indent=2) + "\n"

    def encrypt(self, plaintext: str, context: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = AESGCM(self._keys[self.current]).encrypt(
            nonce, plaintext.encode(), context.encode()
        )
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{_VERSION}.{self.current}.{body}"

    def decrypt(self, ciphertext: str, context: str) -> str:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        version, _, rest = ciphertext.partition(".")
        key_id, _, body = rest.partition(".")
        if version != _VERSION or key_id not in self._keys:
            raise KeyringError(f"no key {key_id!r} for this ciphertext")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            opened = AESGCM(self._keys[key_id]).decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode()
            )
        except (InvalidTag, ValueError, binascii.Error) as error:
            raise KeyringError("the ciphertext does not open with its key") from error
        return opened.decode()


class KeySource:
    """This container's keyring, loaded on first use and kept."""

    def __init__(self, settings: Settings) -> None:
        self._parameter = settings.totp_keys_parameter
        self._file = settings.totp_keys_file
        if self._parameter is None and self._file is None:
            raise ConfigError("TOTP_KEYS_PARAMETER (SSM) or TOTP_KEYS_FILE is required")

    @cached_property
    def keyring(self) -> Keyring:
        if self._parameter is not None:
            return Keyring.from_json(read_parameter(self._parameter, "TOTP_KEYS_PARAMETER"))
        return Keyring.from_json(local_secret_file(Path(str(self._file)), Keyring.new_json))


def local_secret_file(path: Path, make: Callable[[], str]) -> str:
    """The text of the local stage's secret file at `path`, written by `make` on first use:
    readable by this user only, and never committed (.secrets/ is ignored)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(make())
    return path.read_text()


def read_parameter(name: str, variable: str) -> str:
    """An SSM SecureString's value, decrypted (a secret read once per container by its user).
    A parameter that does not exist is the stage's mistake, named by its `variable`; any other
    failure may pass (503)."""
    from chalicelib import aws
    from chalicelib.aws import BotoCoreError, ClientError

    client: Any = aws.client("ssm", aws.BOUNDED)
    try:
        response = client.get_parameter(Name=name, WithDecryption=True)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            raise ConfigError(f"{variable}: there is no SSM parameter {name!r}") from None
        raise ServiceUnavailable() from error
    except BotoCoreError as error:
        raise ServiceUnavailable() from error
    return str(response["Parameter"]["Value"])
