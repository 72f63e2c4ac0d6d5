"""Password policy and Argon2id hashing (argon2-cffi), with rehash-on-login: a hash under
outdated Argon2 parameters, or one imported from another system (chalicelib.password_formats),
is replaced by today's Argon2id at the first right password.

argon2 is imported lazily: a protected request never hashes, so it should not pay the import.
"""

from __future__ import annotations

import re
import time
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from chalicelib.config import Settings
from chalicelib.errors import InvalidPassword, WeakPassword

if TYPE_CHECKING:
    import argon2

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common-passwords.txt"
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


@cache
def common_passwords() -> frozenset[str]:
    """The 10,000 most common passwords (lower case), read once per container."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("# "))


def check_password_policy(password: str) -> None:
    """8 to 256 characters (code points), any printable Unicode, never truncated, not a common
    one. Control characters (NUL, escapes) cannot be typed and are refused as hostile input."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidPassword()
    if _CONTROL_CHARACTER.search(password):
        raise InvalidPassword("Passwords cannot contain control characters.")
    # The list is lower case; "Password1" is as guessable as "password1".
    if password.lower() in common_passwords():
        raise WeakPassword()


class PasswordHasher:
    def __init__(self, settings: Settings) -> None:
        self._memory_kib = settings.argon2_memory_kib
        self._time_cost = settings.argon2_time_cost
        self._parallelism = settings.argon2_parallelism
        self._measured: dict[str, float] = {}

    @cached_property
    def _argon2(self) -> argon2.PasswordHasher:
        import argon2

        return argon2.PasswordHasher(
            time_cost=self._time_cost,
            memory_cost=self._memory_kib,
            parallelism=self._parallelism,
            type=argon2.Type.ID,
        )

    @cached_property
    def dummy_hash(self) -> str:
        return self._argon2.hash("dummy password for unknown accounts")

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, encoded: str, password: str) -> tuple[bool, str | None]:
        """Check a password; on success also return a new hash if the parameters changed or the
        hash was imported (always, then: the upgrade to our own).

        Like Django's check_password(..., setter): the caller stores the second value if set.
        """
        from argon2.exceptions import InvalidHashError, VerificationError

        if is_imported(encoded):
            from chalicelib import password_formats

            if not password_formats.verify(encoded, password):
                return False, None
            return True, self._argon2.hash(password)
        try:
            self._argon2.verify(encoded, password)
        except (VerificationError, InvalidHashError):
            return False, None
        if self._argon2.check_needs_rehash(encoded):
            return True, self._argon2.hash(password)
        return True, None

    def verify_dummy(self, password: str) -> None:
        """Spend the same time as a real verify, for logins of unknown accounts."""
        self.verify(self.dummy_hash, password)

    def seconds_to_verify(self, encoded: str) -> float:
        """How long checking a password against `encoded` takes in this container: measured
        once per hash (a sample of an imported format: chalicelib.users' failure timing)."""
        seconds = self._measured.get(encoded)
        if seconds is None:
            started = time.perf_counter()
            self.verify(encoded, "a password nobody has")
            seconds = self._measured[encoded] = time.perf_counter() - started
        return seconds


def is_imported(encoded: str) -> bool:
    """A hash imported from another system, stored in our import format's JSON (not ours)."""
    return encoded.startswith("{")
