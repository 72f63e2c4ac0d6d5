"""The one DynamoDB table: its definition, the client, and the calls every item family shares.

Single-table design: one string partition key `pk` (`<FAMILY>#<id>`), no sort key, TTL on
`expires_at`. Each item family has its own module in this package, which alone knows its keys
and expressions; flows combine them through two calls:

- `read(*reads)`: several items in one round trip (GetItem for one, BatchGetItem for more),
  always strongly consistent;
- `commit(*writes)`: several writes, all or nothing, in one round trip (the single call for
  one write, TransactWriteItems for more). A write names the error its condition raises.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

from chalicelib import aws
from chalicelib.aws import BotoCoreError, ClientError, Config
from chalicelib.errors import AppError, ServiceUnavailable

SESSIONS_BY_USER = "user_session_keys"
USER_SEARCH = "user_search"
USER_EVENTS = "user_events"
EVENTS_BY_TIME = "events_by_time"
ORG_MEMBERS = "org_members"
TTL_ATTRIBUTE = "expires_at"
# The table's stream, which chalicelib.events turns into events. CreateTable's shape; the
# template's AWS::DynamoDB::Table says StreamViewType alone (devtools.package).
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"
LOCAL_STREAM_SPECIFICATION = {"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE}

# The one table definition. Its keys read the same in the CreateTable API and in a
# CloudFormation AWS::DynamoDB::Table, so local setup and deployment both build from it.
TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "session_user_id", "AttributeType": "S"},
        {"AttributeName": "created_at", "AttributeType": "N"},
        {"AttributeName": "search_shard", "AttributeType": "S"},
        {"AttributeName": "email", "AttributeType": "S"},
        {"AttributeName": "event_user_id", "AttributeType": "S"},
        {"AttributeName": "event_seq", "AttributeType": "N"},
        {"AttributeName": "event_hour", "AttributeType": "S"},
        {"AttributeName": "member_org_id", "AttributeType": "S"},
    ],
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": SESSIONS_BY_USER,
            "KeySchema": [
                {"AttributeName": "session_user_id", "KeyType": "HASH"},
                {"AttributeName": "created_at", "KeyType": "RANGE"},
            ],
            # Only attributes that never change after creation: a session's extension and its
            # activity refresh then write the base item alone (1 write unit), never the index.
            # Listing reads the live fields back from the base table (see store.sessions).
            # (It replaced `sessions_by_user`, which projected ALL: DynamoDB cannot change an
            # index's projection in place, so the new projection came with a new name.)
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["session_id"]},
        },
        {
            # The admin's user search (store.directory): user items only (sessions and claims
            # have no search_shard), by email within one of a few shards, so sign-ups spread
            # their index writes instead of all landing on one partition key.
            "IndexName": USER_SEARCH,
            "KeySchema": [
                {"AttributeName": "search_shard", "KeyType": "HASH"},
                {"AttributeName": "email", "KeyType": "RANGE"},
            ],
            "Projection": {
                "ProjectionType": "INCLUDE",
                "NonKeyAttributes": ["role_names", "banned_until", "email_verified", "created_at"],
            },
        },
        {
            # Each user's events in order (store.events): event items alone carry these keys.
            # ALL: an event is small and written once, and its log is read whole.
            "IndexName": USER_EVENTS,
            "KeySchema": [
                {"AttributeName": "event_user_id", "KeyType": "HASH"},
                {"AttributeName": "event_seq", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            # Every user's events by the hour they happened, in id (time) order: what a replay
            # re-sends (POST /admin/events/replay). An hour a partition key, so one busy
            # hour's writes spread over no more than that hour.
            "IndexName": EVENTS_BY_TIME,
            "KeySchema": [
                {"AttributeName": "event_hour", "KeyType": "HASH"},
                {"AttributeName": "pk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
        {
            # An organization's members and pending invitations (store.orgs), a page at a
            # time in key order: membership and invitation items alone carry member_org_id.
            "IndexName": ORG_MEMBERS,
            "KeySchema": [
                {"AttributeName": "member_org_id", "KeyType": "HASH"},
                {"AttributeName": "pk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
    ],
    "BillingMode": "PAY_PER_REQUEST",
    "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
}

# The IAM actions the calls in this package need, for the deployment's least-privilege policy
# (a test checks them against the calls the package makes). TransactWriteItems has no IAM
# action of its own: it needs the actions of the items it writes (ConditionCheck: GetItem).
IAM_TABLE_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
IAM_INDEX_ACTIONS = ("dynamodb:Query",)  # only ever on the indexes, never the table

# Every request must be answered well inside API Gateway's 29 s limit and the function's 25 s
# timeout. One call makes at most 3 attempts of at most 1 s to connect and 1 s to read
# (DynamoDB answers in milliseconds), with up to 1 + 2 s of standard-mode backoff: 9 s. No new
# call starts once a request has spent REQUEST_BUDGET_SECONDS, so the worst case is 8 + 9 s.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=1,
    read_timeout=1,
    tcp_keepalive=True,
)
REQUEST_BUDGET_SECONDS = 8.0
# For setting the table up (make dev, tests, the benchmark), not for requests: a DynamoDB
# Local that has just started can take seconds to answer its first CreateTable, and a retry
# after a timeout would find the table made and never enable its TTL.
ADMIN_CLIENT_CONFIG = CLIENT_CONFIG.merge(Config(connect_timeout=10, read_timeout=30))

_deadline: ContextVar[float | None] = ContextVar("store_deadline", default=None)

_ATTEMPTS = 4  # for unprocessed batch items
# Transaction conflicts: the parallel losers of a race (eight clicks on one reset link) conflict
# with each other as well as with the winner, so they back off exponentially with jitter, as
# AWS advises for TransactionConflict; at most about 1.9 s of waits, and never past the budget.
_CONFLICT_ATTEMPTS = 6
_CONFLICT_BACKOFF = 0.03  # seconds; the n-th retry waits up to 2**n times this
# Retry jitter from the OS, not random's shared generator: that one is seeded once at import,
# so containers restored from one SnapStart snapshot would all wait the same, in step.
_JITTER = random.SystemRandom()
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems
_MAX_BATCH_GET = 100
_MAX_BATCH_WRITE = 25

Item = dict[str, Any]


@contextmanager
def request_budget(seconds: float = REQUEST_BUDGET_SECONDS) -> Iterator[None]:
    """Within this block, store calls stop starting once `seconds` have passed (-> 503)."""
    reset = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(reset)


def _check_budget() -> None:
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() >= deadline:
        raise ServiceUnavailable()


def make_client() -> Any:
    """A DynamoDB client for this container (AWS_ENDPOINT_URL_DYNAMODB is read as usual)."""
    return aws.client("dynamodb", CLIENT_CONFIG)


@contextmanager
def store_call() -> Iterator[None]:
    """Turn a failed or timed-out call into ServiceUnavailable (503), never "not signed in"."""
    _check_budget()
    try:
        yield
    except ClientError as error:
        raise ServiceUnavailable() from error
    except BotoCoreError as error:
        raise ServiceUnavailable() from error


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def condition_failed(error: ClientError) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


class Conflict(ServiceUnavailable):
    """A write's condition on what was read a moment ago failed: another request wrote first.
    Callers that read-then-write optimistically catch it and take their race-safe path."""


class _ConditionFailed(AppError):
    """Internal: raised by try_commit's write, never seen outside this module."""


class Read(NamedTuple):
    """One item to fetch by key, and how to turn it into a record (None when it is missing)."""

    pk: str
    parse: Callable[[Item], Any]


class Write(NamedTuple):
    """One item write: an action (Put, Update, Delete, ConditionCheck), its parameters without
    the table name, and what makes the error raised when its condition fails (an error class,
    or any callable that returns an error, for one that needs arguments)."""

    action: str
    params: dict[str, Any]
    on_condition_failed: Callable[[], AppError] = ServiceUnavailable

    @property
    def pk(self) -> str:
        """The key of the item it writes (a transaction may write each item once)."""
        item = self.params["Item"] if self.action == "Put" else self.params["Key"]
        return str(item["pk"]["S"])


def key(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}}


def put(item: Item, condition: str | None = None, **options: Any) -> Write:
    return _write("Put", {"Item": item}, condition, **options)


def update(pk: str, expression: str, condition: str | None = None, **options: Any) -> Write:
    return _write("Update", {"Key": key(pk), "UpdateExpression": expression}, condition, **options)


def delete(pk: str, condition: str | None = None, **options: Any) -> Write:
    return _write("Delete", {"Key": key(pk)}, condition, **options)


def check(pk: str, condition: str, **options: Any) -> Write:
    """A condition on an item that the transaction does not write."""
    return _write("ConditionCheck", {"Key": key(pk)}, condition, **options)


def both(first: Write, second: Write) -> Write:
    """Two conditions on one item, as one ConditionCheck: a transaction may name an item once.
    Failing, it raises the first's error (it cannot tell which condition failed)."""
    if first.action != "ConditionCheck" or second.action != "ConditionCheck":
        raise ValueError("only condition checks combine")
    if first.pk != second.pk:
        raise ValueError("conditions on two items do not combine")
    a, b = first.params, second.params
    values = {**a.get("ExpressionAttributeValues", {})}
    if set(values) & set(b.get("ExpressionAttributeValues", {})):
        raise ValueError("the conditions' value names clash")
    values.update(b.get("ExpressionAttributeValues", {}))
    names = {**a.get("ExpressionAttributeNames", {}), **b.get("ExpressionAttributeNames", {})}
    return check(
        first.pk,
        f"({a['ConditionExpression']}) AND ({b['ConditionExpression']})",
        values=values,
        names=names,
        on_condition_failed=first.on_condition_failed,
    )


def _write(
    action: str,
    params: dict[str, Any],
    condition: str | None,
    *,
    values: dict[str, Any] | None = None,
    names: dict[str, str] | None = None,
    on_condition_failed: Callable[[], AppError] = ServiceUnavailable,
) -> Write:
    if condition is not None:
        params["ConditionExpression"] = condition
    if values:
        params["ExpressionAttributeValues"] = values
    if names:
        params["ExpressionAttributeNames"] = names
    return Write(action, params, on_condition_failed)


SINGLE_WRITE_CALLS = {"Put": "put_item", "Update": "update_item", "Delete": "delete_item"}


class Table:
    def __init__(self, client: Any, name: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.name = name
        self._sleep = sleep

    # -- reads ------------------------------------------------------------------------------

    def get(self, pk: str) -> Item | None:
        # Strongly consistent: a logout or signup must be visible to the very next request.
        with store_call():
            response = self.client.get_item(TableName=self.name, Key=key(pk), ConsistentRead=True)
        return response.get("Item")

    def read(self, *reads: Read) -> list[Any]:
        """The records of `reads` in order (None where an item is missing), in one round trip."""
        if len(reads) == 1:
            item = self.get(reads[0].pk)
            return [None if item is None else reads[0].parse(item)]
        items = self.get_items([r.pk for r in reads])
        return [None if r.pk not in items else r.parse(items[r.pk]) for r in reads]

    def get_items(self, pks: Sequence[str]) -> dict[str, Item]:
        """Items by key, strongly consistent, through BatchGetItem (100 keys per call)."""
        found: dict[str, Item] = {}
        unique = list(dict.fromkeys(pks))
        for start in range(0, len(unique), _MAX_BATCH_GET):
            request = {
                self.name: {
                    "Keys": [key(pk) for pk in unique[start : start + _MAX_BATCH_GET]],
                    "ConsistentRead": True,
                }
            }
            with store_call():
                for attempt in range(_ATTEMPTS):
                    response = self.client.batch_get_item(RequestItems=request)
                    for item in response.get("Responses", {}).get(self.name, []):
                        found[item["pk"]["S"]] = item
                    request = response.get("UnprocessedKeys") or {}
                    if not request:
                        break
                    self._sleep(0.05 * 2**attempt)
                else:
                    raise ServiceUnavailable()
        return found

    def query_page(self, **params: Any) -> tuple[list[Item], Item | None]:
        """One page of a Query: its items and where it stopped (None: nothing more)."""
        with store_call():
            page = self.client.query(TableName=self.name, **params)
        return page.get("Items", []), page.get("LastEvaluatedKey")

    def query(self, **params: Any) -> list[Item]:
        items: list[Item] = []
        request = {"TableName": self.name, **params}
        with store_call():
            while True:
                page = self.client.query(**request)
                items.extend(page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return items
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- writes -----------------------------------------------------------------------------

    def commit(self, *writes: Write) -> None:
        """All of `writes` or none, in one call; a failed condition raises that write's error."""
        if len(writes) == 1 and writes[0].action in SINGLE_WRITE_CALLS:
            write = writes[0]
            call = getattr(self.client, SINGLE_WRITE_CALLS[write.action])
            with store_call():
                try:
                    call(TableName=self.name, **write.params)
                except ClientError as error:
                    if condition_failed(error):
                        raise write.on_condition_failed() from None
                    raise
            return
        self._transact(writes)

    def try_commit(self, write: Write) -> bool:
        """One write; False instead of an error when its condition fails."""
        try:
            self.commit(write._replace(on_condition_failed=_ConditionFailed))
        except _ConditionFailed:
            return False
        return True

    def commit_with_deletes(self, writes: Sequence[Write], deletes: Sequence[Write]) -> None:
        """`writes` and the unconditional `deletes`, all or nothing; only when they pass a
        transaction's 100 items (a user with about a hundred sessions) are the excess deletes
        done first, in batches."""
        unique = list({w.params["Key"]["pk"]["S"]: w for w in deletes}.values())
        room = MAX_TRANSACTION_ITEMS - len(writes)
        self._batch_write([{"DeleteRequest": {"Key": w.params["Key"]}} for w in unique[room:]])
        self.commit(*writes, *unique[:room])

    def update_returning(self, write: Write) -> Item | None:
        """One UpdateItem returning the new values; None when its condition fails."""
        with store_call():
            try:
                response = self.client.update_item(
                    TableName=self.name, ReturnValues="ALL_NEW", **write.params
                )
            except ClientError as error:
                if condition_failed(error):
                    return None
                raise
        return response.get("Attributes")

    def delete_returning(self, write: Write) -> Item | None:
        """One DeleteItem returning what it deleted; None when nothing was (or its condition
        failed): the atomic way to consume a single-use item."""
        with store_call():
            try:
                response = self.client.delete_item(
                    TableName=self.name, ReturnValues="ALL_OLD", **write.params
                )
            except ClientError as error:
                if condition_failed(error):
                    return None
                raise
        return response.get("Attributes")

    def put_items(self, items: Sequence[Item]) -> None:
        """Many unconditional puts (imports, load tests), 25 per call."""
        self._batch_write([{"PutRequest": {"Item": item}} for item in items])

    def delete_items(self, pks: Sequence[str]) -> None:
        self._batch_write([{"DeleteRequest": {"Key": key(pk)}} for pk in pks])

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        pending = list(requests)
        with store_call():
            while pending:
                batch, pending = pending[:_MAX_BATCH_WRITE], pending[_MAX_BATCH_WRITE:]
                for attempt in range(_ATTEMPTS):
                    result = self.client.batch_write_item(RequestItems={self.name: batch})
                    batch = result.get("UnprocessedItems", {}).get(self.name, [])
                    if not batch:
                        break
                    self._sleep(0.05 * 2**attempt)
                else:
                    raise ServiceUnavailable()

    def _transact(self, writes: Sequence[Write]) -> None:
        """TransactWriteItems, retried while another transaction holds one of its items.

        A conflict means a concurrent request (say, a sign-up with the same email) is writing
        the same item; retrying tells whether it committed (then a condition fails here) or
        rolled back (then this one may succeed).
        """
        items = [{w.action: {"TableName": self.name, **w.params}} for w in writes]
        for attempt in range(_CONFLICT_ATTEMPTS):
            if attempt:
                self._sleep(_JITTER.uniform(0.5, 1) * _CONFLICT_BACKOFF * 2**attempt)
            _check_budget()
            try:
                self.client.transact_write_items(TransactItems=items)
                return
            except ClientError as error:
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                for write, reason in zip(writes, reasons, strict=False):
                    if reason == "ConditionalCheckFailed":
                        raise write.on_condition_failed() from None
                if "TransactionConflict" not in reasons:
                    raise ServiceUnavailable() from error
            except BotoCoreError as error:
                raise ServiceUnavailable() from error
        raise ServiceUnavailable()


def create_table(client: Any, table_name: str) -> bool:
    """Create the table from TABLE_DEFINITION unless it exists; True if it was created.

    Either way TTL ends up enabled: a first call may have created the table and then failed
    (a timeout against a DynamoDB Local still starting) before it could enable TTL.
    """
    definition = dict(TABLE_DEFINITION)
    ttl = definition.pop("TimeToLiveSpecification")
    try:
        client.create_table(
            TableName=table_name, StreamSpecification=LOCAL_STREAM_SPECIFICATION, **definition
        )
        created = True
    except ClientError as error:
        if error_code(error) != "ResourceInUseException":
            raise
        created = False
    client.get_waiter("table_exists").wait(TableName=table_name)
    if not created:
        _add_missing_indexes(client, table_name, definition)
        _enable_stream(client, table_name)
    status = client.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    if status.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        client.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
    return created


def _enable_stream(client: Any, table_name: str) -> None:
    """A table made before events (a `make dev` table kept in .dynamodb/) gets its stream."""
    described = client.describe_table(TableName=table_name)["Table"]
    if not described.get("StreamSpecification", {}).get("StreamEnabled"):
        client.update_table(TableName=table_name, StreamSpecification=LOCAL_STREAM_SPECIFICATION)


def _add_missing_indexes(client: Any, table_name: str, definition: dict[str, Any]) -> None:
    """A table made before an index was added to TABLE_DEFINITION (a `make dev` table kept in
    .dynamodb/) gets it, one at a time as DynamoDB asks; a deployed one gets it from
    CloudFormation."""
    described = client.describe_table(TableName=table_name)["Table"]
    present = {index["IndexName"] for index in described.get("GlobalSecondaryIndexes", [])}
    for index in definition["GlobalSecondaryIndexes"]:
        if index["IndexName"] in present:
            continue
        client.update_table(
            TableName=table_name,
            AttributeDefinitions=definition["AttributeDefinitions"],
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )
        for _ in range(600):
            described = client.describe_table(TableName=table_name)["Table"]
            statuses = [i.get("IndexStatus") for i in described.get("GlobalSecondaryIndexes", [])]
            if all(status == "ACTIVE" for status in statuses):
                break
            time.sleep(0.1)
