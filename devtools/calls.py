"""Counting DynamoDB API calls with botocore's event hooks (used by the tests and the benchmark)."""

from __future__ import annotations

from typing import Any

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})


class CallRecorder:
    """Records every API call a client makes (once per call, not per retry)."""

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("provide-client-params.dynamodb.*", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    @property
    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]

    @property
    def writes(self) -> list[str]:
        return [name for name in self.operations if name in WRITES]

    def clear(self) -> None:
        self.calls.clear()
