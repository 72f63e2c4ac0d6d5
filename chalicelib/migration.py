"""Migration on first sign-in: users whose passwords the team cannot export (Cognito never
gives out a hash) move over one by one, as they sign in.

MIGRATE_FROM_URL names the team's HTTPS endpoint, which checks the user against the old
system. A sign-in that finds no account asks it, signed like our webhooks (Standard Webhooks,
the stage's webhook secrets; chalicelib.hooks.post_json_over_https):

    {"email": "ann@example.com", "password": "..."}    a password sign-in
    {"email": "ann@example.com"}                        an emailed code or a provider's sign-in

and it answers `{"ok": true, "user": {...}}` (the profile: email_verified, created_at, roles,
source_id, each optional) or `{"ok": false}`. On `ok` the account is made in the sign-in's own
write: with our Argon2id hash of the password for a password sign-in (flows.signin), with
none for the others. The call has HOOK_TIMEOUT (2 s); a failure (a timeout, an error status,
a wrong answer) is reported for the audit log, and the sign-in fails: as a wrong password
would for a password (MigrationUnavailable is caught there), with a 503 for the others, so an
account never starts without the profile it had.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from chalicelib.config import Settings
from chalicelib.errors import ServiceUnavailable
from chalicelib.hooks import HookError, PostJson, Report, post_json_over_https, run_within
from chalicelib.roles import Roles

if TYPE_CHECKING:
    from chalicelib.webhooks.signing import WebhookSecret

HOOK = "migrate_from"
MAX_SOURCE_ID = 256


class MigrationUnavailable(ServiceUnavailable):
    """The endpoint failed: the sign-in cannot tell whether the old system knows the user."""


class Migrated(NamedTuple):
    """What the old system says of a user it knows."""

    email_verified: bool = False
    created_at: int | None = None  # None: now
    roles: tuple[str, ...] = ()
    source_id: str | None = None  # their id there


class Migration:
    def __init__(
        self,
        settings: Settings,
        post_json: PostJson | None = None,
        secrets: Callable[[], Sequence[WebhookSecret]] = tuple,
    ) -> None:
        self._url = settings.migrate_from_url
        self._roles = Roles(dict(settings.roles))
        self._timeout = settings.hook_timeout.total_seconds()
        self._post = post_json or post_json_over_https(settings, secrets)

    @property
    def enabled(self) -> bool:
        return self._url is not None

    def ask(self, email: str, password: str | None, failed: Report) -> Migrated | None:
        """The user as the old system knows them, or None (no endpoint, or it does not know
        them or the password). MigrationUnavailable after a failure, reported."""
        if self._url is None:
            return None
        url = self._url
        payload: dict[str, Any] = {"email": email}
        if password is not None:
            payload["password"] = password
        try:
            answer = run_within(self._timeout, lambda: self._post(url, payload, self._timeout))
            return self._profile(answer)
        except HookError as failure:
            failed(HOOK, "endpoint", failure.reason)
            raise MigrationUnavailable() from None

    def _profile(self, answer: Any) -> Migrated | None:
        if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
            raise HookError("bad_answer")
        if not answer["ok"]:
            return None
        user = answer.get("user", {})
        if not isinstance(user, dict):
            raise HookError("bad_answer")
        verified = user.get("email_verified", False)
        roles = user.get("roles", [])
        source_id = user.get("source_id")
        if (
            not isinstance(verified, bool)
            or not isinstance(roles, list)
            or not all(isinstance(role, str) and self._roles.known(role) for role in roles)
            or not (
                source_id is None
                or (isinstance(source_id, str) and 0 < len(source_id) <= MAX_SOURCE_ID)
            )
        ):
            raise HookError("bad_answer")
        return Migrated(
            email_verified=verified,
            created_at=_seconds(user.get("created_at")),
            roles=tuple(sorted(set(roles))),
            source_id=source_id,
        )


def _seconds(value: Any) -> int | None:
    """Epoch seconds from seconds or an ISO 8601 time; None when absent."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**34:
        return value
    if isinstance(value, str) and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise HookError("bad_answer") from None
        if moment.tzinfo is not None:
            return int(moment.timestamp())
    raise HookError("bad_answer")
