"""Password policy and Argon2id hashing (argon2-cffi), with rehash-on-login.

argon2 is imported lazily: a protected request never hashes, so it should not pay the import.
"""

from __future__ import annotations

import re
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
    def _dummy_hash(self) -> str:
        return self._argon2.hash("dummy password for unknown accounts")

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, encoded: str, password: str) -> tuple[bool, str | None]:
        """Check a password; on success also return a new hash if the parameters changed.

        Like Django's check_password(..., setter): the caller stores the second value if set.
        """
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            self._argon2.verify(encoded, password)
        except (VerificationError, InvalidHashError):
            return False, None
        if self._argon2.check_needs_rehash(encoded):
            return True, self._argon2.hash(password)
        return True, None

    def verify_dummy(self, password: str) -> None:
        """Spend the same time as a real verify, for logins of unknown accounts."""
        self.verify(self._dummy_hash, password)
