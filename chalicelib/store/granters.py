"""Who may grant roles: pk `GRANTERS`, holders (a string set of the user ids whose roles give
`roles:grant` and who are not banned).

Every write that makes or unmakes such a user changes the set in the same transaction, and the
one that would empty it fails: the last of them cannot be demoted, banned or deleted
(LastAdmin), however many admins act at once.
"""

from __future__ import annotations

from chalicelib.errors import LastAdmin
from chalicelib.store.table import Read, Write, update

GRANTERS_PK = "GRANTERS"


class GranterItems:
    def holders(self) -> Read:
        return Read(GRANTERS_PK, lambda item: frozenset(item.get("holders", {}).get("SS", [])))

    def add(self, user_id: str) -> Write:
        return update(GRANTERS_PK, "ADD holders :u", values={":u": {"SS": [user_id]}})

    def remove(self, user_id: str) -> Write:
        """The user is one no more; never the last one (LastAdmin)."""
        return update(
            GRANTERS_PK,
            "DELETE holders :u",
            "NOT contains(holders, :id) OR size(holders) > :one",
            values={":u": {"SS": [user_id]}, ":id": {"S": user_id}, ":one": {"N": "1"}},
            on_condition_failed=LastAdmin,
        )
