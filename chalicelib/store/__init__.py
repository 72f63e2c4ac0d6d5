"""DynamoDB storage: the only code that knows key shapes, attribute types and expressions.

One table (see `table`), one module per item family. A flow reads what it needs in one round
trip (`store.table.read(...)` over the families' `Read`s) and writes what must happen
together in one (`store.table.commit(...)` over their `Write`s).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

from chalicelib.store.accounts import AccountItems
from chalicelib.store.counters import CounterItems
from chalicelib.store.directory import Directory
from chalicelib.store.events import EventItems
from chalicelib.store.granters import GranterItems
from chalicelib.store.identities import IdentityItems
from chalicelib.store.imports import ImportItems
from chalicelib.store.orgs import OrgItems
from chalicelib.store.passkeys import PasskeyItems
from chalicelib.store.secrets import SecretItems
from chalicelib.store.sessions import SessionItems
from chalicelib.store.table import (
    ADMIN_CLIENT_CONFIG,
    CLIENT_CONFIG,
    EVENTS_BY_TIME,
    IAM_INDEX_ACTIONS,
    IAM_TABLE_ACTIONS,
    ORG_MEMBERS,
    SESSIONS_BY_USER,
    TABLE_DEFINITION,
    USER_EVENTS,
    USER_SEARCH,
    Table,
    create_table,
    make_client,
    request_budget,
)
from chalicelib.store.twofactor import TwoFactorItems
from chalicelib.store.webhooks import WebhookItems

__all__ = [
    "ADMIN_CLIENT_CONFIG",
    "CLIENT_CONFIG",
    "EVENTS_BY_TIME",
    "IAM_INDEX_ACTIONS",
    "IAM_TABLE_ACTIONS",
    "ORG_MEMBERS",
    "SESSIONS_BY_USER",
    "TABLE_DEFINITION",
    "USER_EVENTS",
    "USER_SEARCH",
    "Store",
    "create_table",
    "make_client",
    "open_store",
    "request_budget",
]


class Store(NamedTuple):
    table: Table
    accounts: AccountItems
    sessions: SessionItems
    counters: CounterItems
    secrets: SecretItems
    twofactor: TwoFactorItems
    passkeys: PasskeyItems
    identities: IdentityItems
    directory: Directory
    granters: GranterItems
    events: EventItems
    webhooks: WebhookItems
    imports: ImportItems
    orgs: OrgItems


def open_store(client: Any, table_name: str, sleep: Callable[[float], None] = time.sleep) -> Store:
    table = Table(client, table_name, sleep)
    return Store(
        table=table,
        accounts=AccountItems(),
        sessions=SessionItems(table),
        counters=CounterItems(table),
        secrets=SecretItems(),
        twofactor=TwoFactorItems(),
        passkeys=PasskeyItems(table),
        identities=IdentityItems(table),
        directory=Directory(table),
        granters=GranterItems(),
        events=EventItems(table),
        orgs=OrgItems(table),
        webhooks=WebhookItems(table),
        imports=ImportItems(),
    )
