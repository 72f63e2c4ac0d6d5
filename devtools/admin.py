"""Grant or revoke roles from the command line, with the operator's own AWS credentials
against a stage's table: how the first admin is made (as Django's `createsuperuser`). Nobody
becomes an admin by signing up first.

    python -m devtools.admin grant ann@example.com --stage prod            # the role `admin`
    python -m devtools.admin grant bo@example.com --role support --stage prod
    python -m devtools.admin revoke ann@example.com --stage prod          # every role
    python -m devtools.admin reindex --stage prod   # users made before the admin search

`--stage local` reaches the DynamoDB Local that `make dev` runs (or AWS_ENDPOINT_URL_DYNAMODB).
The user's sessions carry the new roles from their next request. Revoking the last admin who
can grant roles is refused, as in the admin API.
"""

from __future__ import annotations

import argparse
import os
import sys

from chalicelib.audit import AuditLog, Event
from chalicelib.clock import SystemClock
from chalicelib.config import ConfigError, Settings
from chalicelib.errors import AppError
from chalicelib.flows.admin import role_change
from chalicelib.roles import Roles, normalize_roles
from chalicelib.sessions import SessionManager
from chalicelib.store import Store, open_store
from chalicelib.store.directory import SEARCH_SHARD, search_shard
from chalicelib.store.table import update
from chalicelib.users import normalize_email
from devtools.stage import operator_client, stage_environment


def change_roles(
    store: Store, settings: Settings, email: str, *, add: tuple[str, ...], remove_all: bool
) -> tuple[str, ...]:
    """The account of `email` gets the roles `add` (or loses every role): the same writes as
    the admin API's, with the list of those who grant roles kept, and its sessions told."""
    roles = Roles(dict(settings.roles))
    for role in add:
        if not roles.known(role):
            raise SystemExit(f"admin: there is no role {role!r} (known: {', '.join(roles.names)})")
    address = normalize_email(email)
    (credentials,) = store.table.read(store.accounts.claim(address))
    if credentials is None:
        raise SystemExit(f"admin: no account has the address {address}")
    (item,) = store.table.read(store.accounts.user(credentials.user_id))
    wanted = () if remove_all else normalize_roles((*item.roles, *add))
    store.table.commit(*role_change(store, roles, item, wanted))
    SessionManager(store, settings, SystemClock()).set_roles(item.user_id, wanted)
    AuditLog(SystemClock()).record(
        Event.ADMIN_ROLES_GRANTED_BY_OPERATOR,
        user_id=item.user_id,
        ip="",
        user_agent="devtools.admin",
        roles=",".join(wanted) or "-",
    )
    return wanted


def reindex(store: Store) -> int:
    """Users made before the admin search get their place in its index; returns how many.
    A one-off Scan by the operator, never by the service (whose role cannot Scan)."""
    client, done = store.table.client, 0
    pages = client.get_paginator("scan").paginate(
        TableName=store.table.name,
        FilterExpression="begins_with(pk, :user) AND attribute_not_exists(search_shard)",
        ExpressionAttributeValues={":user": {"S": "USER#"}},
        ProjectionExpression="pk",
    )
    for page in pages:
        for item in page.get("Items", []):
            user_id = item["pk"]["S"].removeprefix("USER#")
            store.table.try_commit(
                update(
                    item["pk"]["S"],
                    f"SET {SEARCH_SHARD} = :s",
                    "attribute_exists(pk)",
                    values={":s": {"S": search_shard(user_id)}},
                )
            )
            done += 1
    return done


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.admin", description=__doc__)
    parser.add_argument("command", choices=("grant", "revoke", "reindex"))
    parser.add_argument("email", nargs="?")
    parser.add_argument("--stage", required=True)
    parser.add_argument("--role", action="append", help="the role to grant (default: admin)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env({**stage_environment(args.stage), **_overrides()})
    except ConfigError as error:
        print(f"admin: {error}", file=sys.stderr)
        return 1
    store = open_store(operator_client(args.stage), settings.table_name)
    if args.command == "reindex":
        print(f"{reindex(store)} users indexed for the admin search")
        return 0
    if not args.email:
        parser.error("grant and revoke need the user's email")
    try:
        roles = change_roles(
            store,
            settings,
            args.email,
            add=tuple(args.role or ["admin"]) if args.command == "grant" else (),
            remove_all=args.command == "revoke",
        )
    except AppError as error:
        print(f"admin: {error.code}: {error.message}", file=sys.stderr)
        return 1
    print(f"{args.email}: roles {', '.join(roles) or '(none)'}")
    return 0


def _overrides() -> dict[str, str]:
    """A shell's TABLE_NAME or ROLES wins over the stage's, as for `make dev`."""
    return {name: os.environ[name] for name in ("TABLE_NAME", "ROLES") if name in os.environ}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
