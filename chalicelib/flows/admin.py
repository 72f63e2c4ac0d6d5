"""The admin API's flows: find a user, look at them, ban and unban, sign out everywhere, set
roles, delete, impersonate.

Every flow starts at `_actor`: a session (never an impersonation) holding the flow's
permission, that gave a second factor or a passkey when it signed in (ADMIN_MFA_REQUIRED), and
for a change, a re-authentication in the last five minutes. Every change is made only on a
user the actor may act on (chalicelib.roles: no escalation), in one transaction with a check
that the actor is still unbanned and holds the roles it acted with: two admins acting on each
other at once cannot both win. Each is audited with the actor, the subject and the reason.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import NamedTuple

from chalicelib.audit import Event
from chalicelib.errors import (
    AdminMfaRequired,
    ImpersonationForbidden,
    InsufficientPermissions,
    InvalidRequest,
    NotFound,
    ReauthenticationRequired,
    ServiceUnavailable,
    UnknownRole,
)
from chalicelib.events import queue
from chalicelib.flows import activity, orgs, signin
from chalicelib.flows.context import Access, RequestContext
from chalicelib.ids import is_id
from chalicelib.mail import Kind
from chalicelib.roles import (
    ADMIN_PERMISSIONS,
    AUDIT_READ,
    EVENTS_REPLAY,
    MAX_ROLES,
    ROLES_GRANT,
    USERS_BAN,
    USERS_DELETE,
    USERS_IMPERSONATE,
    USERS_READ,
    USERS_SIGN_OUT,
    Roles,
    normalize_roles,
)
from chalicelib.sessions import Impersonator, Session, SessionSummary
from chalicelib.store import Store
from chalicelib.store.accounts import BANNED_FOREVER, Ban, UserItem
from chalicelib.store.directory import Found, Listed
from chalicelib.store.identities import IdentityRecord
from chalicelib.store.passkeys import PasskeyRecord
from chalicelib.store.table import Write
from chalicelib.users import user_of_item

MAX_PAGE = 100
DEFAULT_PAGE = 50
MAX_REASON = 200
IMPERSONATION_SECONDS = 60 * 60
_MAX_QUERY = 254


class UserDetails(NamedTuple):
    """What an admin sees of one user (never a secret, hash or credential's key)."""

    item: UserItem
    sessions: list[SessionSummary]
    identities: list[IdentityRecord]
    passkeys: list[PasskeyRecord]


def _actor(ctx: RequestContext, permission: str, *, change: bool = True) -> Session:
    session = ctx.require(Access.ACCOUNT)
    if session.impersonator is not None:
        raise ImpersonationForbidden()
    if not ctx.services.roles.grants(session.user.roles, permission):
        raise InsufficientPermissions()
    if ctx.services.settings.admin_mfa_required and "mfa" not in session.amr:
        raise AdminMfaRequired()
    if change and not ctx.recently_reauthenticated():
        raise ReauthenticationRequired()
    return session


def _target(ctx: RequestContext, actor: Session, user_id: str, *, self_ok: bool) -> UserItem:
    """The user acted on, if the actor may act on them (they hold nothing the actor lacks)."""
    if not self_ok and user_id == actor.user.id:
        raise InvalidRequest("Not on your own account: use your own settings for that.")
    item = _user(ctx, user_id)
    if not ctx.services.roles.may_act_on(actor.user.roles, item.roles):
        raise InsufficientPermissions()
    return item


def _user(ctx: RequestContext, user_id: str) -> UserItem:
    """The user item of `user_id`, or 404 (for anything that is not a user id too)."""
    store = ctx.services.store
    if not is_id(user_id):
        raise NotFound("There is no user with this id.")
    (item,) = store.table.read(store.accounts.user(user_id))
    if item is None:
        raise NotFound("There is no user with this id.")
    return item


def _standing(ctx: RequestContext, actor: Session) -> Write:
    """The actor still unbanned and holding the roles it acted with, for the change's write."""
    now = ctx.services.clock.now()
    return ctx.services.store.accounts.standing(actor.user.id, actor.user.roles, now)


def _grants(ctx: RequestContext, roles: tuple[str, ...]) -> bool:
    return ctx.services.roles.grants(roles, ROLES_GRANT)


# -- reading ------------------------------------------------------------------------------


def search(
    ctx: RequestContext,
    query: str,
    *,
    role: str | None,
    status: str | None,
    cursor: str | None,
    limit: int | None,
) -> Found:
    """Users by email prefix (case-insensitive) or by exact id, a page at a time."""
    actor = _actor(ctx, USERS_READ, change=False)
    query = query.strip().lower()
    if len(query) > _MAX_QUERY:
        raise InvalidRequest("The query is too long: at most 254 characters.")
    if role is not None and not ctx.services.roles.known(role):
        raise UnknownRole()
    if status not in (None, "active", "banned"):
        raise InvalidRequest("status is 'active' or 'banned'.")
    size = DEFAULT_PAGE if limit is None else limit
    if not 1 <= size <= MAX_PAGE:
        raise InvalidRequest(f"limit is 1 to {MAX_PAGE}.")
    banned = None if status is None else status == "banned"
    now = ctx.services.clock.now()
    ctx.audit(Event.ADMIN_USERS_SEARCHED, None, actor_id=actor.user.id, query=query)
    if is_id(query):
        return _by_id(ctx, query, role, banned, now)
    after = _cursor_after(cursor, query)
    return ctx.services.store.directory.search(
        query, after=after, limit=size, role=role, banned=banned, now=now
    )


def _by_id(
    ctx: RequestContext, user_id: str, role: str | None, banned: bool | None, now: int
) -> Found:
    store = ctx.services.store
    (item,) = store.table.read(store.accounts.user(user_id))
    if item is None:
        return Found([], None)
    until = 0 if item.ban is None else item.ban.until
    listed = Listed(
        item.user_id, item.email, item.email_verified, item.roles, until, item.created_at
    )
    if role is not None and role not in item.roles:
        return Found([], None)
    if banned is not None and (now < until) != banned:
        return Found([], None)
    return Found([listed], None)


def encode_cursor(after: str | None, query: str) -> str | None:
    """The page's `next_cursor`: opaque to clients, and bound to its query."""
    if after is None:
        return None
    raw = json.dumps({"a": after, "q": query.strip().lower()}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor_after(cursor: str | None, query: str) -> str | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
        after, bound = value["a"], value["q"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidRequest("The cursor is not one this search gave.") from None
    if not isinstance(after, str) or bound != query or not after.startswith(query):
        raise InvalidRequest("The cursor is not one this search gave.")
    return after


def view(ctx: RequestContext, user_id: str) -> UserDetails:
    actor = _actor(ctx, USERS_READ, change=False)
    store = ctx.services.store
    item = _user(ctx, user_id)
    ctx.audit(Event.ADMIN_USER_VIEWED, user_id, actor_id=actor.user.id)
    identities = [
        record for record in store.identities.all_of(item.identities) if record.user_id == user_id
    ]
    return UserDetails(
        item,
        ctx.services.sessions.list_sessions(user_id),
        identities,
        store.passkeys.all_of(item),
    )


def user_events(
    ctx: RequestContext, user_id: str, cursor: str | None, limit: int | None
) -> activity.EventPage:
    """A user's events, kept for EVENT_RETENTION: a deleted user's too (the id alone is
    checked, for its shape)."""
    actor = _actor(ctx, AUDIT_READ, change=False)
    if not is_id(user_id):
        raise NotFound("There is no user with this id.")
    found = activity.page_of(ctx, user_id, cursor, limit)
    ctx.audit(Event.ADMIN_USER_EVENTS_VIEWED, user_id, actor_id=actor.user.id)
    return found


# -- changing -----------------------------------------------------------------------------


def _reason(reason: str | None, *, required: bool) -> str:
    text = (reason or "").strip()
    if required and not text:
        raise InvalidRequest("Give a reason: it goes into the audit log.")
    if len(text) > MAX_REASON or any(ord(c) < 32 for c in text):
        raise InvalidRequest(f"The reason is at most {MAX_REASON} characters on one line.")
    return text


def _until(text: str | None, now: int) -> int:
    if text is None:
        return BANNED_FOREVER
    until = _instant(text, "until")
    if not now < until < BANNED_FOREVER:
        raise InvalidRequest("until must be in the future.")
    return until


def ban(ctx: RequestContext, user_id: str, reason: str | None, until: str | None) -> Ban:
    """Every session of the user ends with the ban, in one write; every way in then answers
    403 account_disabled until `until` (none: until unbanned)."""
    actor = _actor(ctx, USERS_BAN)
    why = _reason(reason, required=True)
    now = ctx.services.clock.now()
    ends = _until(until, now)
    item = _target(ctx, actor, user_id, self_ok=False)
    store = ctx.services.store
    the_ban = Ban(until=ends, at=now, reason=why, by=actor.user.id)
    writes = [*store.accounts.banned(item, the_ban), _standing(ctx, actor)]
    if _grants(ctx, item.roles):
        writes.append(store.granters.remove(item.user_id))
    ctx.services.sessions.end_all_sessions(item.user_id, presented=None, writes=writes)
    signin.sweep_sessions(ctx, item.user_id)
    ctx.audit(Event.ADMIN_USER_BANNED, item.user_id, actor_id=actor.user.id, reason=why, until=ends)
    return the_ban


def unban(ctx: RequestContext, user_id: str) -> None:
    actor = _actor(ctx, USERS_BAN)
    item = _target(ctx, actor, user_id, self_ok=False)
    store = ctx.services.store
    writes = [*store.accounts.unbanned(item), _standing(ctx, actor)]
    if _grants(ctx, item.roles):
        writes.append(store.granters.add(item.user_id))
    store.table.commit(*writes)
    ctx.audit(Event.ADMIN_USER_UNBANNED, item.user_id, actor_id=actor.user.id)


def sign_out(ctx: RequestContext, user_id: str) -> None:
    actor = _actor(ctx, USERS_SIGN_OUT)
    item = _target(ctx, actor, user_id, self_ok=False)
    ctx.services.sessions.end_all_sessions(
        item.user_id, presented=None, writes=[_standing(ctx, actor)]
    )
    ctx.audit(Event.ADMIN_USER_SIGNED_OUT, item.user_id, actor_id=actor.user.id)


def set_roles(ctx: RequestContext, user_id: str, roles: list[str]) -> tuple[str, ...]:
    """The user's roles become `roles`: only roles the actor holds in full may be given or
    taken away, and the last who can grant roles keeps that (409 last_admin). The user's
    sessions carry the new roles from their next request."""
    actor = _actor(ctx, ROLES_GRANT)
    if len(roles) > MAX_ROLES:
        raise InvalidRequest(f"At most {MAX_ROLES} roles.")
    for role in roles:
        if not ctx.services.roles.known(role):
            raise UnknownRole(f"There is no role {role!r} on this service.")
    wanted = normalize_roles(roles)
    item = _target(ctx, actor, user_id, self_ok=True)
    changed = set(wanted) ^ set(item.roles)
    if not ctx.services.roles.may_grant(actor.user.roles, changed):
        raise InsufficientPermissions()
    store = ctx.services.store
    writes = role_change(store, ctx.services.roles, item, wanted)
    if item.user_id != actor.user.id:  # its own change already holds on its roles as read
        writes.append(_standing(ctx, actor))
    store.table.commit(*writes)
    ctx.services.sessions.set_roles(item.user_id, wanted)
    ctx.audit(
        Event.ADMIN_ROLES_CHANGED,
        item.user_id,
        actor_id=actor.user.id,
        roles=",".join(wanted) or "-",
    )
    return wanted


def role_change(store: Store, roles: Roles, item: UserItem, wanted: tuple[str, ...]) -> list[Write]:
    """The writes that make `wanted` the account's roles (the admin API's and the operator's
    devtools.admin alike): both of its items, and its place among those who grant roles
    (never the last to go: LastAdmin; a banned account takes none)."""
    writes = store.accounts.roles_changed(item, wanted)
    was, will = roles.grants(item.roles, ROLES_GRANT), roles.grants(wanted, ROLES_GRANT)
    if was and not will:
        writes.append(store.granters.remove(item.user_id))
    elif will and not was and item.ban is None:
        writes.append(store.granters.add(item.user_id))
    return writes


def delete(ctx: RequestContext, user_id: str) -> None:
    """Exactly what deleting one's own account removes, and a notice to the address."""
    actor = _actor(ctx, USERS_DELETE)
    item = _target(ctx, actor, user_id, self_ok=False)
    user = user_of_item(item)
    writes = [*signin.removal(ctx, user, item), _standing(ctx, actor)]
    ctx.services.sessions.end_all_sessions(user.id, presented=None, writes=writes)
    ctx.audit(Event.ADMIN_USER_DELETED, user.id, actor_id=actor.user.id)
    signin.sweep_sessions(ctx, user.id)
    orgs.sweep_dissolved(ctx, item.orgs)
    try:
        ctx.send_mail(Kind.ACCOUNT_DELETED, user.email)
    except ServiceUnavailable:  # the account is gone: a lost notice is logged, not a 503
        ctx.audit(Event.MAIL_FAILED, user.id, mail=Kind.ACCOUNT_DELETED.template)


def impersonate(ctx: RequestContext, user_id: str, reason: str | None) -> Session:
    """A session as the user, for an hour at most, that names the admin (the session, its
    listing, `act` in its access tokens) and cannot change how the account signs in. It ends
    the admin's own session on this client, as any sign-in does. Nobody who holds any of the
    admin API's permissions can be impersonated: that would lend the actor another admin's
    reach (Keycloak's CVE-2026-17526)."""
    actor = _actor(ctx, USERS_IMPERSONATE)
    why = _reason(reason, required=True)
    item = _target(ctx, actor, user_id, self_ok=False)
    if ctx.services.roles.permissions(item.roles) & ADMIN_PERMISSIONS:
        raise InsufficientPermissions("Nobody with administration rights can be impersonated.")
    user = user_of_item(item)
    session = ctx.start_session(
        user,
        [_standing(ctx, actor)],
        amr=(),
        two_factor_verified=True,
        impersonator=Impersonator(actor.user.id, actor.user.email),
        absolute_lifetime=IMPERSONATION_SECONDS,
    )
    ctx.audit(
        Event.ADMIN_IMPERSONATION_STARTED,
        user.id,
        actor_id=actor.user.id,
        reason=why,
        session_id=session.id,
    )
    return session


# -- events -------------------------------------------------------------------------------


class Replay(NamedTuple):
    url: str
    since: int
    until: int


def replay_events(ctx: RequestContext, since: str, url: str) -> Replay:
    """Deliver again to the webhook `url` (one of WEBHOOKS) every event it wants from `since`
    to now, each with its own id (receivers de-duplicate by it). The delivery function does it
    a page at a time, in the background: this only queues the request."""
    from chalicelib.webhooks.endpoints import shown  # the replay's alone: off the cold start

    actor = _actor(ctx, EVENTS_REPLAY)
    services = ctx.services
    if url not in {endpoint.url for endpoint in services.webhooks}:
        raise InvalidRequest("url is not one of this stage's webhooks (WEBHOOKS).")
    now = services.clock.now()
    start = _instant(since, "since")
    oldest = now - int(services.settings.event_retention.total_seconds())
    if not oldest <= start <= now:
        raise InvalidRequest("since is an instant within EVENT_RETENTION, not in the future.")
    queue_url = services.settings.webhook_queue_url
    if queue_url is None:
        raise ServiceUnavailable("This stage delivers no events (WEBHOOK_QUEUE_URL is unset).")
    replay = Replay(url, start, now)
    queue.send(services.queue, queue_url, [queue.replay_job(url, start, now)], now)
    ctx.audit(
        Event.ADMIN_EVENTS_REPLAYED, None, actor_id=actor.user.id, url=shown(url), since=start
    )
    return replay


def _instant(text: str, name: str) -> int:
    """An instant the API was given, in ISO 8601 with its offset (2027-01-31T12:00:00Z)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{name} is a time like 2027-01-31T12:00:00Z.") from None
    if moment.tzinfo is None:
        raise InvalidRequest(f"{name} needs its UTC offset, like 2027-01-31T12:00:00Z.")
    return int(moment.timestamp())
