"""The ways into an account, counted in one place: every removal of one (a passkey, a sign-in
identity) asks here whether any way would be left, so no account locks its owner out.

The ways: the password; each passkey; each linked identity; and a code by email, when the
stage offers it (EMAIL_CODE_LOGIN) and the account's address is verified.
"""

from __future__ import annotations

from typing import NamedTuple

from chalicelib.config import Settings
from chalicelib.errors import LastSignInMethod
from chalicelib.store.accounts import UserItem


class SignInMethods(NamedTuple):
    password: bool
    passkeys: int
    identities: int
    email_code: bool

    @classmethod
    def of(cls, owner: UserItem, settings: Settings) -> SignInMethods:
        return cls(
            password=owner.has_password,
            passkeys=len(owner.passkeys),
            identities=len(owner.identities),
            email_code=settings.email_code_login and owner.email_verified,
        )

    def ways(self) -> int:
        return int(self.password) + self.passkeys + self.identities + int(self.email_code)

    def check_removal(self, *, passkeys: int = 0, identities: int = 0) -> None:
        """LastSignInMethod (409) if removing these would leave no way in."""
        left = self._replace(
            passkeys=self.passkeys - passkeys, identities=self.identities - identities
        )
        if left.ways() < 1:
            raise LastSignInMethod()
