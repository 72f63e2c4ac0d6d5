"""The audit log: one JSON line per authentication event (OWASP logging guidance).

Lines carry the event, the user id where known, source IP, user agent and time, and never a
password, token, code, link, digest or hash: flows pass only ids, names and counts as details.
"""

from __future__ import annotations

import json
import logging
import sys
from enum import StrEnum

from chalicelib.clock import Clock, isoformat

logger = logging.getLogger("session_auth.audit")
logger.setLevel(logging.INFO)
if not logger.handlers:
    # One JSON object per line on stdout: CloudWatch Logs keeps each as one event.
    _handler = logging.StreamHandler(sys.stdout)
    _handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(_handler)
    logger.propagate = False


class Event(StrEnum):
    SIGNUP = "signup"
    SIGNUP_REQUESTED = "signup_requested"  # SIGNUP_REVEALS_ACCOUNTS=false: a code or a notice
    LOGIN_SUCCESS = "login_success"
    LOGIN_FAILURE = "login_failure"
    LOGIN_THROTTLED = "login_throttled"
    LOGOUT = "logout"
    SESSION_REVOKED = "session_revoked"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (an event name)
    ACCOUNT_DELETED = "account_deleted"
    EMAIL_VERIFICATION_SENT = "email_verification_sent"
    CODE_SENT = "code_sent"
    CODE_FAILURE = "code_failure"
    EMAIL_VERIFIED = "email_verified"
    PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105 (an event name)
    PASSWORD_RESET = "password_reset"  # noqa: S105 (an event name)
    EMAIL_CHANGE_REQUESTED = "email_change_requested"
    EMAIL_CHANGED = "email_changed"
    MAIL_FAILED = "mail_failed"
    TWO_FACTOR_SETUP_STARTED = "two_factor_setup_started"
    TWO_FACTOR_ENABLED = "two_factor_enabled"
    TWO_FACTOR_DISABLED = "two_factor_disabled"
    TWO_FACTOR_VERIFIED = "two_factor_verified"
    TWO_FACTOR_FAILURE = "two_factor_failure"
    RECOVERY_CODES_REPLACED = "recovery_codes_replaced"
    PASSKEY_ADDED = "passkey_added"
    PASSKEY_RENAMED = "passkey_renamed"
    PASSKEY_REMOVED = "passkey_removed"
    PASSKEY_FAILURE = "passkey_failure"
    PASSKEY_CLONE_SUSPECTED = "passkey_clone_suspected"
    REAUTHENTICATED = "reauthenticated"
    PASSWORD_SET = "password_set"  # noqa: S105 (an event name)
    UNPROVEN_CREDENTIALS_REMOVED = "unproven_credentials_removed"
    OAUTH_SIGN_IN = "oauth_sign_in"
    OAUTH_FAILED = "oauth_failed"
    IDENTITY_LINKED = "identity_linked"
    IDENTITY_UNLINKED = "identity_unlinked"
    ACCESS_TOKEN_ISSUED = "access_token_issued"  # noqa: S105 (an event name)
    WEBHOOK_GAVE_UP = "webhook_gave_up"  # a delivery past WEBHOOK_GIVE_UP: its endpoint failing
    LOGIN_REFUSED_BANNED = "login_refused_banned"
    DATA_EXPORTED = "data_exported"  # the user took a copy of their data (GET /auth/account/export)
    # Migration on first sign-in (chalicelib.migration): an account the old system vouched for.
    USER_MIGRATED = "user_migrated"
    # The team's hooks (chalicelib.hooks): a sign-up a before_sign_up hook refused (its method),
    # and a hook that failed (which hook, where it runs, a short reason; never what it was
    # given or answered).
    SIGNUP_DENIED = "signup_denied"
    HOOK_FAILED = "hook_failed"
    # The admin API's: each names the actor (`actor_id`), the subject (`user_id`) and a reason
    # where one is given.
    ADMIN_USERS_SEARCHED = "admin_users_searched"
    ADMIN_USER_VIEWED = "admin_user_viewed"
    ADMIN_USER_EVENTS_VIEWED = "admin_user_events_viewed"
    ADMIN_USER_BANNED = "admin_user_banned"
    ADMIN_USER_UNBANNED = "admin_user_unbanned"
    ADMIN_USER_SIGNED_OUT = "admin_user_signed_out"
    ADMIN_ROLES_CHANGED = "admin_roles_changed"
    ADMIN_USER_DELETED = "admin_user_deleted"
    ADMIN_IMPERSONATION_STARTED = "admin_impersonation_started"
    ADMIN_IMPERSONATION_ENDED = "admin_impersonation_ended"
    ADMIN_ROLES_GRANTED_BY_OPERATOR = "admin_roles_granted_by_operator"
    ADMIN_EVENTS_REPLAYED = "admin_events_replayed"
    # Organizations' (flows.orgs, flows.invitations): each names the organization (`org_id`),
    # the actor (`user_id`) and, acting on a member, that member (`member_id`); an invitation
    # by its id, never its token or address.
    ORG_CREATED = "org_created"
    ORG_RENAMED = "org_renamed"
    ORG_DELETED = "org_deleted"
    ORG_MEMBER_ROLE_CHANGED = "org_member_role_changed"
    ORG_MEMBER_REMOVED = "org_member_removed"
    ORG_LEFT = "org_left"
    ORG_INVITATION_SENT = "org_invitation_sent"
    ORG_INVITATION_REVOKED = "org_invitation_revoked"
    ORG_INVITATION_ACCEPTED = "org_invitation_accepted"


_MAX_FIELD = 256


class AuditLog:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def record(
        self,
        event: Event,
        *,
        user_id: str | None,
        ip: str,
        user_agent: str,
        **details: str | int,
    ) -> None:
        line = {
            "audit": True,
            "event": event.value,
            "user_id": user_id,
            "ip": ip,
            "user_agent": user_agent[:_MAX_FIELD],
            "timestamp": isoformat(self._clock.now()),
            **details,
        }
        logger.info(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
