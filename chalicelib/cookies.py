"""Our cookies: building Set-Cookie values and reading a value from a Cookie header, each cookie
one `SessionCookies` (chalicelib.transports holds them all): the session cookie; the short-lived
ones that bind a passkey sign-in (`passkey_attempt`) or a social sign-in (`oauth_attempt`) to
the browser that began it, or a quiet sign-up's chosen password (`signup_attempt`) to the
client that chose it; and `device`, a browser known to an account (chalicelib.throttle).
Every one is HttpOnly, Path=/, SameSite, and Secure with the `__Host-` prefix where cookies
are Secure."""

from __future__ import annotations

from email.utils import formatdate

from chalicelib.config import Settings


class SessionCookies:
    """Like Lucia's cookie controller: one place that knows the cookie's name and attributes."""

    def __init__(self, settings: Settings, base_name: str | None = None) -> None:
        self.secure = settings.cookie_secure
        self.samesite = settings.cookie_samesite
        base = base_name or settings.cookie_name
        # `__Host-` makes browsers refuse the cookie unless it is Secure, Path=/ and has no
        # Domain, so a sibling subdomain cannot plant or overwrite it.
        self.name = f"__Host-{base}" if self.secure else base

    def session_cookie(self, token: str, expires_at: int, now: int) -> str:
        return self._serialise(token, max_age=max(expires_at - now, 0), expires_at=expires_at)

    def blank_cookie(self) -> str:
        return self._serialise("", max_age=0, expires_at=0)

    def read(self, cookie_header: str | None) -> str | None:
        """The first value of our cookie in a Cookie header, or None.

        http.cookies.SimpleCookie stops at the first cookie it cannot parse, and other
        applications on the same domain set all sorts of cookies, so this reads the header
        the lenient way browsers write it: `name=value` pairs separated by `;`.
        """
        if not cookie_header:
            return None
        for pair in cookie_header.split(";"):
            name, sep, value = pair.partition("=")
            if sep and name.strip() == self.name:
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                return value
        return None

    def _serialise(self, value: str, *, max_age: int, expires_at: int) -> str:
        # Imported here: a protected request in steady state sets no cookie.
        from http.cookies import Morsel

        morsel: Morsel[str] = Morsel()
        # Tokens are URL-safe base64, which needs no quoting in a cookie.
        morsel.set(self.name, value, value)
        morsel["path"] = "/"
        morsel["max-age"] = str(max_age)
        morsel["expires"] = formatdate(expires_at, usegmt=True)
        morsel["httponly"] = True
        morsel["samesite"] = self.samesite
        morsel["secure"] = self.secure
        return morsel.OutputString()
