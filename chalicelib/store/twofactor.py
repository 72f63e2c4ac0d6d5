"""Two-factor state, kept on the user item (`USER#<user id>`, read whole by store.accounts as a
`UserItem`): totp_secret (the active secret, encrypted), totp_pending and totp_pending_until (a
set-up not yet confirmed), totp_last_step (the last 30-second step accepted: no code is
accepted twice), recovery_codes (a string set of digests, each removed when used) and
recovery_codes_used (the digests used, so a late copy of a used code is told from a guess).

Every write here is the one update of the user item in its transaction (DynamoDB refuses two
writes to one item in a transaction), so the proof that allowed it (a TOTP step or a recovery
code) is folded into that update's condition: a replayed or used code fails the condition, and
nothing happens.
"""

from __future__ import annotations

from typing import NamedTuple

from chalicelib.errors import AppError, InvalidCode
from chalicelib.store.accounts import UserItem, user_pk
from chalicelib.store.table import Item, Write, update


class Proof(NamedTuple):
    """A second factor shown: the TOTP step it matched, or the digest of a recovery code."""

    totp_step: int | None = None
    recovery_digest: str | None = None

    def condition(self) -> tuple[str, Item]:
        if self.totp_step is not None:
            step = {":step": {"N": str(self.totp_step)}}
            return "(attribute_not_exists(totp_last_step) OR totp_last_step < :step)", step
        return "contains(recovery_codes, :used)", {":used": {"S": str(self.recovery_digest)}}


class TwoFactorItems:
    def begin(self, user_id: str, pending: str, pending_until: int, error: type[AppError]) -> Write:
        """A secret waiting for its first code; `error` if TOTP is on already."""
        return update(
            user_pk(user_id),
            "SET totp_pending = :p, totp_pending_until = :u",
            "attribute_exists(pk) AND attribute_not_exists(totp_secret)",
            values={":p": {"S": pending}, ":u": {"N": str(pending_until)}},
            on_condition_failed=error,
        )

    def enable(self, state: UserItem, step: int, recovery_digests: list[str]) -> Write:
        """The pending secret becomes the active one (only that pending secret: a set-up
        begun again meanwhile wins), with its first step used and fresh recovery codes."""
        return update(
            user_pk(state.user_id),
            "SET totp_secret = totp_pending, totp_last_step = :step, recovery_codes = :codes,"
            " two_factor = :on REMOVE totp_pending, totp_pending_until, recovery_codes_used",
            "totp_pending = :p AND attribute_not_exists(totp_secret)",
            values={
                ":step": {"N": str(step)},
                ":codes": {"SS": recovery_digests},
                ":on": {"BOOL": True},
                ":p": {"S": str(state.totp_pending)},
            },
            on_condition_failed=InvalidCode,
        )

    def use(self, user_id: str, proof: Proof, *, sets_password: bool = False) -> Write:
        """Spend the proof (a sign-in's second step, a reset); a reset also marks the account
        as having a password, in this same update of the user item."""
        condition, values = proof.condition()
        sets = []
        if sets_password:
            sets.append("has_password = :true")
            values[":true"] = {"BOOL": True}
        removal = ""
        if proof.totp_step is not None:
            sets.append("totp_last_step = :step")
        else:
            removal = " DELETE recovery_codes :used_set ADD recovery_codes_used :used_set"
            values[":used_set"] = {"SS": [str(proof.recovery_digest)]}
        expression = (f"SET {', '.join(sets)}" if sets else "") + removal
        return update(
            user_pk(user_id),
            expression.strip(),
            f"attribute_exists(totp_secret) AND {condition}",
            values=values,
            on_condition_failed=InvalidCode,
        )

    def replace_recovery_codes(self, user_id: str, proof: Proof, digests: list[str]) -> Write:
        """A fresh set (the old set dies), allowed by `proof`, which is spent too."""
        condition, values = proof.condition()
        set_part = "recovery_codes = :codes"
        if proof.totp_step is not None:
            set_part += ", totp_last_step = :step"
        return update(
            user_pk(user_id),
            f"SET {set_part} REMOVE recovery_codes_used",
            f"attribute_exists(totp_secret) AND {condition}",
            values={**values, ":codes": {"SS": digests}},
            on_condition_failed=InvalidCode,
        )

    def disable(self, state: UserItem, proof: Proof) -> Write:
        """TOTP off, its recovery codes gone; the user keeps two-factor if passkeys stay (as
        many as were read: a passkey added or removed meanwhile fails the write)."""
        condition, values = proof.condition()
        if state.passkeys:
            passkeys = "size(passkeys) = :passkeys"
            values[":passkeys"] = {"N": str(len(state.passkeys))}
        else:
            passkeys = "attribute_not_exists(passkeys)"
        return update(
            user_pk(state.user_id),
            "SET two_factor = :after REMOVE totp_secret, totp_last_step, recovery_codes,"
            " recovery_codes_used, totp_pending, totp_pending_until",
            f"attribute_exists(totp_secret) AND {condition} AND {passkeys}",
            values={**values, ":after": {"BOOL": bool(state.passkeys)}},
            on_condition_failed=InvalidCode,
        )
