"""The admin's user directory: searching users by email prefix without a Scan.

User items carry `search_shard`, one of SEARCH_SHARDS partitions chosen from the user id, and
the sparse index `user_search` (search_shard, email) holds them alone. A page is one round of
parallel Queries, one per shard, each reading at most a page of its own in email order; merged,
they give the page exactly (see `search`), whatever the number of users. The shards keep
sign-up from writing every index entry under one partition key (DynamoDB's 1,000 writes a
second per key): 16 of them take 16,000.
"""

from __future__ import annotations

import contextvars
import zlib
from collections.abc import Iterator
from typing import Any, NamedTuple

from chalicelib.store.table import USER_SEARCH, Item, Table

SEARCH_SHARD = "search_shard"
SEARCH_SHARDS = 16
_LAST = "\U0010ffff"  # sorts after any character an address can hold


def search_shard(user_id: str) -> str:
    return f"{zlib.crc32(user_id.encode()) % SEARCH_SHARDS:02d}"


class Listed(NamedTuple):
    """A user as the search index has them."""

    user_id: str
    email: str
    email_verified: bool
    roles: tuple[str, ...]
    banned_until: int
    created_at: int


class Found(NamedTuple):
    users: list[Listed]
    after: str | None  # the email to continue after; None: nothing more


class Directory:
    def __init__(self, table: Table) -> None:
        self._table = table

    def search(
        self,
        prefix: str,
        *,
        after: str | None,
        limit: int,
        role: str | None = None,
        banned: bool | None = None,
        now: int = 0,
    ) -> Found:
        """Users whose email starts with `prefix`, in email order, after the email `after`:
        at most `limit` of them, filtered by `role` and by being `banned` (at `now`).

        Each shard's Query reads at most `limit` entries. A shard that stopped early stopped
        at some email; everything up to the smallest such email is known from every shard, so
        the page is the first `limit` matches up to it, and the next page starts after the
        page's last email (or after that bound, when filters left the page short)."""
        if after is not None and not after.startswith(prefix):
            raise ValueError("`after` must start with the prefix")  # a flow's cursor check
        filter_values, filters = _filters(role, banned, now)
        shards = [f"{n:02d}" for n in range(SEARCH_SHARDS)]
        context = contextvars.copy_context()  # the request's budget, in every thread

        def one(shard: str) -> tuple[list[Item], Item | None]:
            key, values = _key_condition(shard, prefix, after)
            return context.copy().run(
                self._table.query_page,
                IndexName=USER_SEARCH,
                KeyConditionExpression=key,
                ExpressionAttributeValues={**values, **filter_values},
                Limit=limit,
                **filters,
            )

        # Imported here: only the admin's search needs threads, never a protected request.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=SEARCH_SHARDS) as pool:
            pages = list(pool.map(one, shards))
        bounds = [str(last["email"]["S"]) for _, last in pages if last is not None]
        bound = min(bounds) if bounds else None
        matches = sorted(
            (_listed(item) for items, _ in pages for item in items),
            key=lambda listed: listed.email,
        )
        matches = [m for m in matches if m.email != after and (bound is None or m.email <= bound)]
        page = matches[:limit]
        if len(matches) > limit:
            return Found(page, page[-1].email)
        return Found(page, bound)

    def every_user(self, page: int = 100) -> Iterator[list[str]]:
        """Every user's id, a page of at most `page` at a time, shard after shard: what an
        operator's export walks (devtools.users) in Queries, never a Scan. The index holds every
        user item: sign-up and import write search_shard, and `devtools.admin reindex` gave it
        to the users made before the search existed."""
        for shard in range(SEARCH_SHARDS):
            start: Item | None = None
            while True:
                items, start = self._table.query_page(
                    IndexName=USER_SEARCH,
                    KeyConditionExpression="search_shard = :shard",
                    ExpressionAttributeValues={":shard": {"S": f"{shard:02d}"}},
                    ProjectionExpression="pk",
                    Limit=page,
                    **({"ExclusiveStartKey": start} if start is not None else {}),
                )
                if items:
                    yield [str(item["pk"]["S"]).removeprefix("USER#") for item in items]
                if start is None:
                    break


def _filters(
    role: str | None, banned: bool | None, now: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    parts, values = [], {}
    if role is not None:
        parts.append("contains(role_names, :role)")
        values[":role"] = {"S": role}
    if banned is not None:
        values[":now"] = {"N": str(now)}
        parts.append(
            "banned_until > :now"
            if banned
            else "(attribute_not_exists(banned_until) OR banned_until <= :now)"
        )
    return values, ({"FilterExpression": " AND ".join(parts)} if parts else {})


def _key_condition(shard: str, prefix: str, after: str | None) -> tuple[str, dict[str, Any]]:
    values: dict[str, Any] = {":shard": {"S": shard}}
    if after is None and not prefix:
        return "search_shard = :shard", values
    if after is None:
        values[":prefix"] = {"S": prefix}
        return "search_shard = :shard AND begins_with(email, :prefix)", values
    # BETWEEN is inclusive: the entry equal to `after` comes back and is dropped by the caller.
    values[":after"] = {"S": after}
    values[":end"] = {"S": prefix + _LAST}
    return "search_shard = :shard AND email BETWEEN :after AND :end", values


def _listed(item: Item) -> Listed:
    return Listed(
        user_id=item["pk"]["S"].removeprefix("USER#"),
        email=item["email"]["S"],
        email_verified=item.get("email_verified", {}).get("BOOL", False),
        roles=tuple(sorted(item.get("role_names", {}).get("SS", []))),
        banned_until=int(item.get("banned_until", {}).get("N", "0")),
        created_at=int(item.get("created_at", {}).get("N", "0")),
    )
