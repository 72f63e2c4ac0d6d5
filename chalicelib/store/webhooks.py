"""Webhook endpoints that stopped answering: marked when a delivery to one is given up on.

- endpoint: pk `WEBHOOK#<sha256 hex of the target>`; target (the URL without its query, which
  may hold a receiver's token), failing_since, last_error (a status or a connection error,
  never a body). Kept until the next mark overwrites it or an operator deletes it.
"""

from __future__ import annotations

import hashlib

from chalicelib.store.table import Table, update


def webhook_pk(target: str) -> str:
    return f"WEBHOOK#{hashlib.sha256(target.encode()).hexdigest()}"


class WebhookItems:
    def __init__(self, table: Table) -> None:
        self._table = table

    def mark_failing(self, target: str, now: int, error: str) -> None:
        """Mark the target failing since `now` (the first mark's time stays)."""
        self._table.commit(
            update(
                webhook_pk(target),
                "SET target = :t, last_error = :e,"
                " failing_since = if_not_exists(failing_since, :now)",
                values={
                    ":t": {"S": target.split("?", 1)[0]},
                    ":e": {"S": error[:200]},
                    ":now": {"N": str(now)},
                },
            )
        )

    def failing_since(self, target: str) -> int | None:
        item = self._table.get(webhook_pk(target))
        return None if item is None else int(item["failing_since"]["N"])
