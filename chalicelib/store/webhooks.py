"""Deliveries that failed, and the webhook endpoints that stopped answering.

- delivery: pk `DELIVERY#<the queue message's id>`; tries (how many failed), next_try_at (when
  the next is due), expires_at (TTL, a day after the delivery is given up on). Written only when
  a try fails: a delivery that lands at its first try writes nothing.
- endpoint: pk `WEBHOOK#<sha256 hex of the target>`; target (the URL without its query, which
  may hold a receiver's token), failing_since, last_error (a status or a connection error,
  never a body). Marked when a delivery to it is given up on; kept until an operator deletes it.
"""

from __future__ import annotations

import hashlib

from chalicelib.store.table import Table, update


def webhook_pk(target: str) -> str:
    return f"WEBHOOK#{hashlib.sha256(target.encode()).hexdigest()}"


def delivery_pk(message_id: str) -> str:
    return f"DELIVERY#{message_id}"


class WebhookItems:
    def __init__(self, table: Table) -> None:
        self._table = table

    def tries(self, message_id: str) -> tuple[int, int]:
        """How often the delivery failed, and when its next try is due (0, 0: never failed)."""
        item = self._table.get(delivery_pk(message_id))
        if item is None:
            return 0, 0
        return int(item["tries"]["N"]), int(item["next_try_at"]["N"])

    def failed(self, message_id: str, tries: int, next_try_at: int, expires_at: int) -> None:
        self._table.commit(
            update(
                delivery_pk(message_id),
                "SET tries = :t, next_try_at = :n, expires_at = :e",
                values={
                    ":t": {"N": str(tries)},
                    ":n": {"N": str(next_try_at)},
                    ":e": {"N": str(expires_at)},
                },
            )
        )

    def mark_failing(self, target: str, shown: str, now: int, error: str) -> None:
        """Mark the target failing since `now` (the first mark's time stays); `shown` is the
        target as it may be kept (a URL without its query)."""
        self._table.commit(
            update(
                webhook_pk(target),
                "SET target = :t, last_error = :e,"
                " failing_since = if_not_exists(failing_since, :now)",
                values={
                    ":t": {"S": shown},
                    ":e": {"S": error[:200]},
                    ":now": {"N": str(now)},
                },
            )
        )
