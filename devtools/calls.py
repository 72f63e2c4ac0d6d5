"""Counting DynamoDB API calls with botocore's event hooks (used by the tests and the benchmark).

`CallRecorder(client)` records each call's operation and parameters. `capacity=True` (the
benchmark only: production code never asks) also makes every call ask DynamoDB what it
consumed (ReturnConsumedCapacity=INDEXES) and keeps, per call, the response and the items the
call writes as they were before and after it. That is what pricing a call by DynamoDB's
documented rules needs (bench/capacity.py), which matters because DynamoDB Local's own
accounting differs from AWS's for batch reads and transactions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, NamedTuple

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})

Item = dict[str, Any]
ItemKey = tuple[str, str]  # (table name, the item's key as canonical JSON)


def item_key(table: str, key: Item) -> ItemKey:
    return table, json.dumps(key, sort_keys=True)


class MeasuredCall(NamedTuple):
    """One call in capacity mode: what was asked, what DynamoDB answered (ConsumedCapacity
    included), and for writes every written item before and after the call (None: absent)."""

    operation: str
    params: dict[str, Any]
    response: dict[str, Any]
    before: dict[ItemKey, Item | None]
    after: dict[ItemKey, Item | None]


_Pending = tuple[str, dict[str, Any], list[tuple[str, Item]], dict[ItemKey, Item | None]]


class CallRecorder:
    """Records every API call a client makes (once per call, not per retry)."""

    def __init__(self, client: Any, *, capacity: bool = False) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.measured: list[MeasuredCall] = []
        self._client = client
        self._hooks = [("provide-client-params.dynamodb.*", self._record)]
        if capacity:
            # Registered after _record, so the recorded parameters stay the caller's own.
            self._hooks += [
                ("provide-client-params.dynamodb.*", self._before_call),
                ("after-call.dynamodb.*", self._after_call),
            ]
        self._key_names: dict[str, list[str]] = {}
        # The call under way: its operation, parameters, targets and their items before it.
        self._pending: _Pending | None = None
        self._reading = False
        for event, hook in self._hooks:
            client.meta.events.register(event, hook)

    def close(self) -> None:
        """Stop recording (and stop asking for consumed capacity)."""
        for event, hook in self._hooks:
            self._client.meta.events.unregister(event, hook)

    def __enter__(self) -> CallRecorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]

    @property
    def writes(self) -> list[str]:
        return [name for name in self.operations if name in WRITES]

    def clear(self) -> None:
        self.calls.clear()
        self.measured.clear()

    # -- hooks ----------------------------------------------------------------------------------

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if not self._reading:
            self.calls.append((model.name, dict(params)))

    def _before_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self._reading:
            return
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params["ReturnConsumedCapacity"] = "INDEXES"
        targets = self._written(model.name, params) if model.name in WRITES else []
        self._pending = (model.name, dict(params), targets, self._read(targets))

    def _after_call(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if self._reading or self._pending is None:
            return
        operation, params, targets, before = self._pending
        self._pending = None
        self.measured.append(MeasuredCall(operation, params, parsed, before, self._read(targets)))

    # -- the items a write touches --------------------------------------------------------------

    def _written(self, operation: str, params: dict[str, Any]) -> list[tuple[str, Item]]:
        """(table, key) of every item a write call touches."""
        if operation == "PutItem":
            return [self._target(params["TableName"], params["Item"])]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(params["TableName"], params["Key"])]
        targets = []
        if operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        targets.append(self._target(table, request["PutRequest"]["Item"]))
                    else:
                        targets.append((table, request["DeleteRequest"]["Key"]))
        elif operation == "TransactWriteItems":
            for action in params["TransactItems"]:
                ((kind, body),) = action.items()
                if kind == "Put":
                    targets.append(self._target(body["TableName"], body["Item"]))
                else:
                    targets.append((body["TableName"], body["Key"]))
        return targets

    def _target(self, table: str, item: Item) -> tuple[str, Item]:
        """The (table, key) of a whole item: the key attributes come from the table's schema."""
        if table not in self._key_names:
            with self._own_reads():
                schema = self._client.describe_table(TableName=table)["Table"]["KeySchema"]
            self._key_names[table] = [k["AttributeName"] for k in schema]
        return table, {name: item[name] for name in self._key_names[table]}

    def _read(self, targets: list[tuple[str, Item]]) -> dict[ItemKey, Item | None]:
        items: dict[ItemKey, Item | None] = {}
        with self._own_reads():
            for table, key in targets:
                response = self._client.get_item(TableName=table, Key=key, ConsistentRead=True)
                items[item_key(table, key)] = response.get("Item")
        return items

    @contextmanager
    def _own_reads(self) -> Iterator[None]:
        """The recorder's own reads of the written items pass its hooks untouched."""
        self._reading = True
        try:
            yield
        finally:
            self._reading = False
