"""Time-based one-time passwords (RFC 6238) for authenticator apps, with pyotp and segno.

Codes have 6 digits and change every 30 seconds; a code is accepted in the previous, current
or next step (clocks drift), and the caller makes sure each step is accepted once per user.
Time comes from the injected clock, so tests travel through steps without sleeping. pyotp and
segno are imported on use: only the two-factor routes need them.
"""

from __future__ import annotations

import hmac
import re
from urllib.parse import urlencode

DIGITS = 6
PERIOD = 30
_CODE = re.compile(r"\d{6}")


def secret_context(user_id: str) -> str:
    """What a user's secret is encrypted with (chalicelib.keyring): it opens only as this
    user's TOTP secret, never copied onto another account."""
    return f"totp:{user_id}"


def new_secret() -> str:
    """160 random bits, base32 (32 characters), as RFC 4226 recommends."""
    import pyotp

    return pyotp.random_base32(32)


def provisioning_uri(secret: str, email: str, issuer: str) -> str:
    """`otpauth://totp/<issuer>:<email>?secret=...&issuer=...&digits=6&period=30`. pyotp
    leaves out digits and period when they are the defaults; some apps then guess wrong, so
    they are always written."""
    import pyotp

    uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)
    return f"{uri}&{urlencode({'digits': DIGITS, 'period': PERIOD})}"


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (a few KB, no script, no style attribute)."""
    import segno

    return str(segno.make(uri, error="m").svg_inline(scale=4, border=2))


def is_code(text: str) -> bool:
    return _CODE.fullmatch(text) is not None


def step_of(now: int) -> int:
    return now // PERIOD


def matching_step(secret: str, code: str, now: int) -> int | None:
    """The step (previous, current or next) whose code this is, or None."""
    import pyotp

    if not is_code(code):
        return None
    otp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    current = step_of(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(otp.generate_otp(step), code):
            return step
    return None
