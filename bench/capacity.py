"""Capacity units per call, by DynamoDB's documented rules applied to the real items.

DynamoDB Local reports ConsumedCapacity, and for single-item calls its figures follow AWS's
rules. Two of its totals do not, and login uses both calls:
- BatchGetItem: it charges only the keys it found; AWS treats each requested key as a GetItem,
  and a GetItem of a missing item still costs its minimum (1 unit strongly consistent).
- TransactWriteItems: it counts one item per index footprint (four counter puts: 2 units, not
  8); AWS charges every item twice, for prepare and commit.
So the benchmark prices every call itself from what the call read and wrote (devtools.calls
keeps the items before and after each write), and shows where DynamoDB Local's report differs.

Rules (Amazon DynamoDB Developer Guide: "DynamoDB item sizes and formats", "DynamoDB read and
write operations", "Global secondary indexes: provisioned throughput considerations"):
- item size: attribute names in UTF-8 plus values (string: UTF-8 bytes; number: 1 byte per
  two significant digits plus 1; boolean and null: 1; list and map: 3, plus their elements
  and 1 byte per element); storage adds 100 bytes per item and per index entry;
- read: 1 unit per 4 KB strongly consistent, half eventually consistent (every index read);
  Query and Scan sum the sizes read and round up once;
- write: 1 unit per 1 KB of the larger of the item before and after, at least 1, even when
  the condition fails; transactional reads and writes count twice;
- index write: none when the item's index entry does not change; 1 per 1 KB of the entry to
  put, update or delete it; 2 writes when an index key changes. Transactional writes count
  twice on the index too, as DynamoDB Local charges them (AWS documents the doubling for the
  table; if the index write is single there, these figures are the upper bound).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from devtools.calls import Item, MeasuredCall, item_key

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024
STORAGE_OVERHEAD_BYTES = 100  # per item, in the table and in each index, for storage only
READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})


class Units(NamedTuple):
    """Capacity units, split by where they are spent."""

    read_table: float = 0.0
    read_index: float = 0.0
    write_table: float = 0.0
    write_index: float = 0.0

    def __add__(self, other: object) -> Units:
        if not isinstance(other, Units):
            return NotImplemented
        return Units(*(a + b for a, b in zip(self, other, strict=True)))

    @property
    def reads(self) -> float:
        return self.read_table + self.read_index

    @property
    def writes(self) -> float:
        return self.write_table + self.write_index


# -- sizes ---------------------------------------------------------------------------------------


def value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "B":
        return len(data)
    if kind == "N":
        return _number_size(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in data)
    if kind == "NS":
        return sum(_number_size(n) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in data)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + value_size(v) + 1 for k, v in data.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def _number_size(text: str) -> int:
    digits = Decimal(text).normalize().as_tuple().digits  # leading and trailing zeros dropped
    return math.ceil(len(digits) / 2) + 1


def item_size(item: Item | None) -> int:
    """The size DynamoDB bills an item by (0 for no item)."""
    if item is None:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


# -- the table's shape ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    projected: tuple[str, ...] | None  # None: ALL

    def entry(self, item: Item | None, table_keys: tuple[str, ...]) -> Item | None:
        """What the index holds of `item`: None when the item lacks an index key (sparse)."""
        if item is None or any(k not in item for k in self.keys):
            return None
        if self.projected is None:
            return dict(item)
        names = (*table_keys, *self.keys, *self.projected)
        return {name: item[name] for name in names if name in item}


@dataclass(frozen=True)
class TableShape:
    keys: tuple[str, ...]
    indexes: tuple[Index, ...]

    @classmethod
    def of(cls, definition: dict[str, Any]) -> TableShape:
        """From a CreateTable definition (chalicelib.store.TABLE_DEFINITION)."""
        indexes = []
        for gsi in definition.get("GlobalSecondaryIndexes", []):
            projection = gsi["Projection"]
            projected: tuple[str, ...] | None = None
            if projection["ProjectionType"] == "KEYS_ONLY":
                projected = ()
            elif projection["ProjectionType"] == "INCLUDE":
                projected = tuple(projection["NonKeyAttributes"])
            keys = tuple(k["AttributeName"] for k in gsi["KeySchema"])
            indexes.append(Index(gsi["IndexName"], keys, projected))
        keys = tuple(k["AttributeName"] for k in definition["KeySchema"])
        return cls(keys, tuple(indexes))

    def key(self, item: Item) -> Item:
        return {name: item[name] for name in self.keys}

    def stored_bytes(self, item: Item) -> int:
        """Storage billed for one item: itself and its index entries, each with its overhead."""
        total = item_size(item) + STORAGE_OVERHEAD_BYTES
        for index in self.indexes:
            entry = index.entry(item, self.keys)
            if entry is not None:
                total += item_size(entry) + STORAGE_OVERHEAD_BYTES
        return total


# -- units per call ------------------------------------------------------------------------------


def read_units(size: int, consistent: bool) -> float:
    """A read of `size` bytes; a missing item still costs the minimum."""
    units = float(max(1, math.ceil(size / READ_UNIT_BYTES)))
    return units if consistent else units / 2


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def priced(call: MeasuredCall, shape: TableShape) -> Units:
    """The units AWS bills for `call` on a table of `shape`."""
    params, response = call.params, call.response
    if call.operation == "GetItem":
        item = response.get("Item")
        consistent = params.get("ConsistentRead", False)
        return Units(read_table=read_units(item_size(item), consistent))
    if call.operation == "BatchGetItem":
        units = 0.0
        for table, request in params["RequestItems"].items():
            found = {
                item_key(table, shape.key(item)): item
                for item in response.get("Responses", {}).get(table, [])
            }
            for key in request["Keys"]:
                item = found.get(item_key(table, key))
                units += read_units(item_size(item), request.get("ConsistentRead", False))
        return Units(read_table=units)
    if call.operation in ("Query", "Scan"):
        size = sum(item_size(item) for item in response.get("Items", []))
        units = read_units(size, params.get("ConsistentRead", False))
        return Units(read_index=units) if "IndexName" in params else Units(read_table=units)
    if call.operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"):
        return _written(call, shape, factor=1)
    if call.operation == "TransactWriteItems":
        return _written(call, shape, factor=2)
    raise ValueError(f"no pricing rule for {call.operation}")


def _written(call: MeasuredCall, shape: TableShape, factor: int) -> Units:
    table = index = 0
    for key, before in call.before.items():
        after = call.after[key]
        table += write_units(max(item_size(before), item_size(after)))
        for idx in shape.indexes:
            index += _index_writes(idx, idx.entry(before, shape.keys), idx.entry(after, shape.keys))
    return Units(write_table=float(table * factor), write_index=float(index * factor))


def _index_writes(index: Index, before: Item | None, after: Item | None) -> int:
    if before == after:  # absent both times, or an update of attributes it does not project
        return 0
    if before is not None and after is not None:
        if any(before[k] != after[k] for k in index.keys):
            return write_units(item_size(before)) + write_units(item_size(after))
        return write_units(item_size(after))
    return write_units(item_size(after if after is not None else before))


def reported(call: MeasuredCall) -> Units:
    """What DynamoDB itself reported for `call` (ReturnConsumedCapacity=INDEXES)."""
    consumed = call.response.get("ConsumedCapacity", [])
    table = index = 0.0
    for entry in consumed if isinstance(consumed, list) else [consumed]:
        table += entry.get("Table", {}).get("CapacityUnits", 0.0)
        for indexes in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            index += sum(i["CapacityUnits"] for i in entry.get(indexes, {}).values())
    if call.operation in READS:
        return Units(read_table=table, read_index=index)
    return Units(write_table=table, write_index=index)
