"""Roles and permissions: what a user may do, and who may change it.

A permission is a `resource:action` string; a role names a set of them. Two roles are built in
(`admin`: every permission of the admin API; `support`: reading users and their events, and
signing them out); a stage adds its own in ROLES, a JSON object of role -> permissions
(`{"editor": ["notes:write"]}`), for its own routes (`web.permission_required`).

The rules of no escalation live here, and only here:
- an actor grants only roles whose permissions it holds in full (`may_grant`);
- an actor acts on a user only if that user holds no permission the actor lacks (`may_act_on`):
  support cannot ban an admin, and an admin cannot impersonate an admin.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

USERS_READ = "users:read"
USERS_BAN = "users:ban"
USERS_SIGN_OUT = "users:sign_out"
USERS_DELETE = "users:delete"
USERS_IMPERSONATE = "users:impersonate"
ROLES_GRANT = "roles:grant"
AUDIT_READ = "audit:read"
EVENTS_REPLAY = "events:replay"

ADMIN_PERMISSIONS = frozenset(
    {
        USERS_READ,
        USERS_BAN,
        USERS_SIGN_OUT,
        USERS_DELETE,
        USERS_IMPERSONATE,
        ROLES_GRANT,
        AUDIT_READ,
        EVENTS_REPLAY,
    }
)
BUILT_IN: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "admin": ADMIN_PERMISSIONS,
        "support": frozenset({USERS_READ, USERS_SIGN_OUT, AUDIT_READ}),
    }
)

_PERMISSION = re.compile(r"[a-z][a-z0-9_-]{0,39}:[a-z][a-z0-9_-]{0,39}")
_ROLE = re.compile(r"[a-z][a-z0-9_-]{0,39}")
MAX_ROLES = 20  # per user: roles travel on every session item and access token


def is_role_name(text: str) -> bool:
    """A role's name as ROLES and ORG_ROLES may define one (an import checks its roles too)."""
    return _ROLE.fullmatch(text) is not None


class RoleError(ValueError):
    """A stage's ROLES that cannot be read (config turns it into a ConfigError)."""


def parse_roles(
    text: str, variable: str = "ROLES", built_in: Iterable[str] = BUILT_IN
) -> dict[str, frozenset[str]]:
    """A stage's ROLES (or ORG_ROLES, `variable`): a JSON object of role name -> list of
    `resource:action` permissions. Built-in roles cannot be redefined: `admin` would otherwise
    mean something else on one stage than the docs say."""
    ROLES = variable  # the messages name the variable being read
    try:
        value = json.loads(text)
    except ValueError:
        raise RoleError(
            f"{ROLES} is not valid JSON: write an object of role -> permissions"
        ) from None
    if not isinstance(value, dict):
        raise RoleError(f"{ROLES} must be a JSON object of role -> list of permissions")
    roles: dict[str, frozenset[str]] = {}
    for name, permissions in value.items():
        if not is_role_name(name):
            raise RoleError(f"{ROLES}: {name!r} is not a role name (a-z, 0-9, '_', '-')")
        if name in built_in:
            raise RoleError(f"{ROLES}: {name!r} is built in and cannot be redefined")
        if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
            raise RoleError(f"{ROLES}: {name!r} must map to a list of permission strings")
        for permission in permissions:
            if not _PERMISSION.fullmatch(permission):
                raise RoleError(
                    f"{ROLES}: {name!r} has {permission!r}, not a permission like 'notes:write'"
                )
        roles[name] = frozenset(permissions)
    return roles


class Roles:
    """The stage's roles: the built-in ones and those of ROLES (or, for organizations,
    `org_roles`'s)."""

    def __init__(
        self,
        defined: Mapping[str, frozenset[str]],
        built_in: Mapping[str, frozenset[str]] = BUILT_IN,
    ) -> None:
        self._roles = {**defined, **built_in}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._roles))

    def known(self, role: str) -> bool:
        return role in self._roles

    def permissions(self, roles: Iterable[str]) -> frozenset[str]:
        """Every permission the roles give. A role the stage no longer defines gives none."""
        return frozenset().union(*(self._roles.get(role, frozenset()) for role in roles))

    def may_grant(self, actor_roles: Iterable[str], roles: Iterable[str]) -> bool:
        """Whether an actor holding `actor_roles` may give (or take away) `roles`: it must hold
        every permission they carry, so nobody hands out more than they have."""
        return self.permissions(roles) <= self.permissions(actor_roles)

    def may_act_on(self, actor_roles: Iterable[str], target_roles: Iterable[str]) -> bool:
        """Whether an actor may act on a user holding `target_roles`: the user holds no
        permission the actor lacks."""
        return self.may_grant(actor_roles, target_roles)

    def grants(self, roles: Iterable[str], permission: str) -> bool:
        return permission in self.permissions(roles)


def normalize_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """Roles as stored and shown: each once, sorted."""
    return tuple(sorted(set(roles)))


# -- organizations' roles ---------------------------------------------------------------------

ORG_UPDATE = "org:update"
ORG_DELETE = "org:delete"
MEMBERS_INVITE = "members:invite"
MEMBERS_REMOVE = "members:remove"
MEMBERS_SET_ROLE = "members:set_role"
ORG_PERMISSIONS = frozenset(
    {ORG_UPDATE, ORG_DELETE, MEMBERS_INVITE, MEMBERS_REMOVE, MEMBERS_SET_ROLE}
)
OWNER, ORG_ADMIN, MEMBER = "owner", "admin", "member"
ORG_BUILT_IN = (OWNER, ORG_ADMIN, MEMBER)


def org_roles(defined: Mapping[str, frozenset[str]]) -> Roles:
    """An organization's roles: the stage's own (ORG_ROLES, e.g. `{"editor":
    ["projects:write"]}`) and the built-in three. `owner` holds every permission there is, the
    stage's own included, so an owner may grant any role and nobody may act on an owner who is
    not one; `admin` every one but deleting the organization; `member` none. The same rules of
    no escalation as the stage's roles then hold inside each organization (`Roles`)."""
    own = frozenset().union(*defined.values())
    return Roles(
        defined,
        built_in={
            OWNER: ORG_PERMISSIONS | own,
            ORG_ADMIN: (ORG_PERMISSIONS - {ORG_DELETE}) | own,
            MEMBER: frozenset(),
        },
    )
