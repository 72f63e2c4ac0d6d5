"""One-time secrets sent by mail: short codes a person types, long tokens carried by links.

- Codes: 8 characters of Crockford's base32 (32 symbols, 40 bits), which has no I, L, O or U:
  what a person reads as O, I or L is taken as 0 or 1, and spaces and dashes are ignored.
- Recovery codes (two-factor): 12 characters of the same alphabet, 60 bits.
- Tokens: 32 random bytes (256 bits), URL-safe base64, after the user id they belong to
  (`<user id>.<secret>`), so the one item they match is read by key.

Only a SHA-256 digest is stored, salted with the purpose and the owner, and compared in
constant time. How long each kind lives and how many wrong tries it allows is
chalicelib.flows.mailed_codes' table.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from enum import StrEnum
from typing import NamedTuple

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_IGNORED = re.compile(r"[\s-]")
_TOKEN = re.compile(r"([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})")


class Purpose(StrEnum):
    """What a mailed secret is for (one live secret per owner and purpose; each purpose is its
    own namespace, in the key and in the digest, so no secret answers for another purpose)."""

    VERIFY_EMAIL = "verify_email"
    CHANGE_EMAIL = "change_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 (a purpose's name)
    REAUTHENTICATE = "reauthenticate"  # a code confirming a signed-in user (flows.codes)
    LOGIN_CODE = "login_code"  # a code signing in (or up) an address: kept by the address


# The purposes whose secret belongs to a user id; LOGIN_CODE belongs to an address, which may
# have no account yet.
BY_USER = frozenset(p for p in Purpose if p is not Purpose.LOGIN_CODE)


RECOVERY_CODE = "recovery_code"  # the digests of two-factor recovery codes


class Check(StrEnum):
    RIGHT = "right"
    WRONG = "wrong"
    EXPIRED = "expired"
    USED = "used"  # the right secret, used already: a retry or a race lost, never a guess


class Token(NamedTuple):
    user_id: str
    secret: str

    @property
    def text(self) -> str:
        return f"{self.user_id}.{self.secret}"


def new_code() -> str:
    return "".join(secrets.choice(CROCKFORD) for _ in range(CODE_LENGTH))


def normalize_code(raw: str) -> str:
    """What the person meant: upper case, look-alikes mapped, spaces and dashes dropped
    (anything still outside the alphabet simply never matches)."""
    return _IGNORED.sub("", raw).upper().translate(_READ_AS)[:64]


def new_token(user_id: str) -> Token:
    return Token(user_id, secrets.token_urlsafe(32))


def parse_token(raw: str) -> Token | None:
    match = _TOKEN.fullmatch(raw.strip())
    return None if match is None else Token(*match.groups())


def new_recovery_code() -> str:
    """12 characters of the same alphabet (60 bits), shown as XXXX-XXXX-XXXX."""
    raw = "".join(secrets.choice(CROCKFORD) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def digest(purpose: str, user_id: str, secret: str) -> str:
    return hashlib.sha256(f"{purpose}:{user_id}:{secret}".encode()).hexdigest()


def check(
    purpose: str,
    owner: str,
    presented: str,
    stored_digest: str | None,
    valid_until: int,
    now: int,
    *,
    used: bool = False,
) -> Check:
    """Whether `presented` is the stored secret, unused and still valid."""
    if stored_digest is None:
        return Check.WRONG
    if not hmac.compare_digest(digest(purpose, owner, presented), stored_digest):
        return Check.WRONG
    if used:
        return Check.USED
    return Check.RIGHT if now < valid_until else Check.EXPIRED
