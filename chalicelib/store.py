"""DynamoDB storage: the only module that knows key shapes, attribute types and expressions.

Single-table design (one partition key `pk`, no sort key):

- user: pk `USER#<user id>`; email, password_hash, created_at.
- email claim: pk `EMAIL#<email>`; user_id. Written in one transaction with the user,
  conditional on neither existing, so an email belongs to at most one account.
- session: pk `SESSION#<sha256 of token>`; session_id (public handle), session_user_id,
  email, created_at, expires_at (the TTL attribute), absolute_expires_at, last_used_at,
  user_agent, ip.
- login failure counter: pk `THROTTLE#email#<email>` or `THROTTLE#ip#<address>`; failures,
  last_failure_at, expires_at (TTL, and the moment the counter is forgotten).

The session key is a SHA-256 digest of the cookie's token, so a table dump holds no usable
cookie. Sessions carry their user's email so a protected request needs one GetItem, no join.
The sparse index `sessions_by_user` (session_user_id, created_at) lists and revokes a user's
sessions without a scan. `expires_at` is the TTL attribute; DynamoDB deletes expired items
only eventually, so callers must still compare it with the clock.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import AppError, EmailTaken, ServiceUnavailable, Unauthenticated

SESSIONS_BY_USER = "sessions_by_user"
TTL_ATTRIBUTE = "expires_at"

# The one table definition. Its keys read the same in the CreateTable API and in a
# CloudFormation AWS::DynamoDB::Table, so local setup and deployment both build from it.
TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "session_user_id", "AttributeType": "S"},
        {"AttributeName": "created_at", "AttributeType": "N"},
    ],
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": SESSIONS_BY_USER,
            "KeySchema": [
                {"AttributeName": "session_user_id", "KeyType": "HASH"},
                {"AttributeName": "created_at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
    "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
}

# The IAM actions the calls below need, for the deployment's least-privilege policy (a test
# checks them against the calls this module makes). TransactWriteItems has no IAM action of
# its own: it needs the actions of the items it writes.
IAM_TABLE_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
IAM_INDEX_ACTIONS = ("dynamodb:Query",)  # only ever on sessions_by_user

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

_deadline: ContextVar[float | None] = ContextVar("store_deadline", default=None)


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


_TRANSACTION_ATTEMPTS = 4
_MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems


def make_client() -> Any:
    """A DynamoDB client for this container. boto3 reads AWS_ENDPOINT_URL_DYNAMODB itself."""
    return boto3.client("dynamodb", config=CLIENT_CONFIG)


class UserRecord(NamedTuple):
    user_id: str
    email: str
    password_hash: str
    created_at: int


class SessionRecord(NamedTuple):
    digest: str
    session_id: str
    user_id: str
    email: str
    created_at: int
    expires_at: int
    absolute_expires_at: int
    last_used_at: int
    user_agent: str
    ip: str


class Counter(NamedTuple):
    failures: int
    last_failure_at: int
    expires_at: int


@contextmanager
def _store_call() -> Iterator[None]:
    """Turn a failed or timed-out call into ServiceUnavailable (503), never "not signed in"."""
    _check_budget()
    try:
        yield
    except ClientError as error:
        raise ServiceUnavailable() from error
    except BotoCoreError as error:
        raise ServiceUnavailable() from error


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class DynamoStore:
    def __init__(
        self,
        client: Any,
        table_name: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table_name
        self._sleep = sleep

    # -- users -------------------------------------------------------------------------

    def get_user_by_email(self, email: str) -> UserRecord | None:
        claim = self._get(f"EMAIL#{email}")
        return None if claim is None else self.get_user(claim["user_id"]["S"])

    def get_user(self, user_id: str) -> UserRecord | None:
        item = self._get(f"USER#{user_id}")
        if item is None:
            return None
        return UserRecord(
            user_id=user_id,
            email=item["email"]["S"],
            password_hash=item["password_hash"]["S"],
            created_at=int(item["created_at"]["N"]),
        )

    def delete_user(self, user_id: str, email: str, session_digests: list[str]) -> None:
        """Delete the user, its email claim and the given sessions in one transaction, so the
        email can register again and no session outlives its account."""
        fixed = [self._delete(f"USER#{user_id}"), self._delete(f"EMAIL#{email}")]
        deletes = [self._delete(f"SESSION#{d}") for d in session_digests]
        self._transact(fixed + self._fit(deletes, room=_MAX_TRANSACTION_ITEMS - len(fixed)))

    def change_password(
        self,
        user_id: str,
        password_hash: str,
        *,
        revoke: list[str],
        new_session: SessionRecord,
    ) -> None:
        """Store the new hash, delete the `revoke` sessions and store `new_session`, all or
        nothing: success never leaves an old session alive."""
        fixed = [
            {"Update": self._password_update(user_id, password_hash)},
            self._put_session(new_session),
        ]
        deletes = [self._delete(f"SESSION#{d}") for d in dict.fromkeys(revoke)]
        self._transact(
            fixed + self._fit(deletes, room=_MAX_TRANSACTION_ITEMS - len(fixed)),
            on_condition_failed=Unauthenticated,  # the account was deleted meanwhile
        )

    def update_password_hash(self, user_id: str, password_hash: str) -> None:
        """Re-hash after a login; nothing to do if the account was deleted meanwhile."""
        with _store_call():
            try:
                self._client.update_item(**self._password_update(user_id, password_hash))
            except ClientError as error:
                if _error_code(error) != "ConditionalCheckFailedException":
                    raise

    def _password_update(self, user_id: str, password_hash: str) -> dict[str, Any]:
        # Conditional: an update must never re-create a deleted account.
        return {
            "TableName": self._table,
            "Key": {"pk": {"S": f"USER#{user_id}"}},
            "UpdateExpression": "SET password_hash = :h",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": {":h": {"S": password_hash}},
        }

    # -- sessions ------------------------------------------------------------------------

    def put_session(
        self,
        session: SessionRecord,
        *,
        replacing: str | None = None,
        new_user: UserRecord | None = None,
    ) -> None:
        """Store a new session, in one transaction with what must happen with it: deleting the
        session it replaces (digest `replacing`) and creating its user with the email claim
        (EmailTaken if the email is claimed). A sign-in happens entirely or not at all."""
        put = self._put_session(session)
        if replacing is None and new_user is None:
            with _store_call():
                self._client.put_item(**put["Put"])
            return
        items = []
        if new_user is not None:
            items += [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            "pk": {"S": f"EMAIL#{new_user.email}"},
                            "user_id": {"S": new_user.user_id},
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            "pk": {"S": f"USER#{new_user.user_id}"},
                            "email": {"S": new_user.email},
                            "password_hash": {"S": new_user.password_hash},
                            "created_at": {"N": str(new_user.created_at)},
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        items.append(put)
        if replacing is not None:
            items.append(self._delete(f"SESSION#{replacing}"))
        self._transact(items, on_condition_failed=EmailTaken)

    def get_session(self, digest: str) -> SessionRecord | None:
        item = self._get(f"SESSION#{digest}")
        return None if item is None else _session_record(item)

    def update_session(self, digest: str, *, expires_at: int, last_used_at: int) -> bool:
        """Move expiry and last use; False when the session was deleted meanwhile (an update
        never re-creates it)."""
        with _store_call():
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": {"S": f"SESSION#{digest}"}},
                    UpdateExpression="SET expires_at = :e, last_used_at = :u",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues={
                        ":e": {"N": str(expires_at)},
                        ":u": {"N": str(last_used_at)},
                    },
                )
            except ClientError as error:
                if _error_code(error) == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    def delete_session(self, digest: str) -> SessionRecord | None:
        """Delete a session; returns what was deleted (None if nothing was), in the same call."""
        with _store_call():
            response = self._client.delete_item(
                TableName=self._table,
                Key={"pk": {"S": f"SESSION#{digest}"}},
                ReturnValues="ALL_OLD",
            )
        item = response.get("Attributes")
        return None if item is None else _session_record(item)

    def list_user_sessions(self, user_id: str) -> list[SessionRecord]:
        """The user's sessions, newest first, from the sparse index (no scan)."""
        sessions: list[SessionRecord] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": SESSIONS_BY_USER,
            "KeyConditionExpression": "session_user_id = :u",
            "ExpressionAttributeValues": {":u": {"S": user_id}},
            "ScanIndexForward": False,
        }
        with _store_call():
            while True:
                page = self._client.query(**request)
                sessions.extend(_session_record(item) for item in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return sessions
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def delete_sessions(self, digests: list[str]) -> None:
        self._batch_write(
            [{"DeleteRequest": {"Key": {"pk": {"S": f"SESSION#{d}"}}}} for d in digests]
        )

    def put_sessions(self, sessions: list[SessionRecord]) -> None:
        """Write many sessions at once (imports, load tests); unconditional, unlike put_session."""
        self._batch_write([{"PutRequest": {"Item": _session_item(s)}} for s in sessions])

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        pending = list(requests)
        with _store_call():
            while pending:
                batch, pending = pending[:25], pending[25:]
                for attempt in range(_TRANSACTION_ATTEMPTS):
                    result = self._client.batch_write_item(RequestItems={self._table: batch})
                    batch = result.get("UnprocessedItems", {}).get(self._table, [])
                    if not batch:
                        break
                    self._sleep(0.05 * 2**attempt)
                else:
                    raise ServiceUnavailable()

    # -- login failure counters -----------------------------------------------------------

    def get_counters(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Counter]:
        """The counters for (kind, value) keys, in one strongly consistent BatchGetItem."""
        by_pk = {_counter_pk(key): key for key in keys}
        counters: dict[tuple[str, str], Counter] = {}
        request = {
            self._table: {
                "Keys": [{"pk": {"S": pk}} for pk in by_pk],
                "ConsistentRead": True,
            }
        }
        with _store_call():
            for attempt in range(_TRANSACTION_ATTEMPTS):
                response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    counters[by_pk[item["pk"]["S"]]] = Counter(
                        failures=int(item["failures"]["N"]),
                        last_failure_at=int(item["last_failure_at"]["N"]),
                        expires_at=int(item["expires_at"]["N"]),
                    )
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    return counters
                self._sleep(0.05 * 2**attempt)
        raise ServiceUnavailable()

    def add_failure(self, key: tuple[str, str], now: int, forget_at: int) -> int:
        """Count one failure atomically and return the new count.

        A live counter is incremented with ADD, so concurrent failures are never lost; a
        missing or forgotten one (`expires_at <= now`) is restarted at 1, conditionally, so two
        concurrent restarts cannot both win. `forget_at` becomes the expiry of a new counter.
        """
        pk = {"S": _counter_pk(key)}
        for _ in range(_TRANSACTION_ATTEMPTS):
            with _store_call():
                try:
                    response = self._client.update_item(
                        TableName=self._table,
                        Key={"pk": pk},
                        UpdateExpression="ADD failures :one SET last_failure_at = :now",
                        ConditionExpression="expires_at > :now",
                        ExpressionAttributeValues={":one": {"N": "1"}, ":now": {"N": str(now)}},
                        ReturnValues="UPDATED_NEW",
                    )
                    return int(response["Attributes"]["failures"]["N"])
                except ClientError as error:
                    if _error_code(error) != "ConditionalCheckFailedException":
                        raise
                try:
                    self._client.put_item(
                        TableName=self._table,
                        Item={
                            "pk": pk,
                            "failures": {"N": "1"},
                            "last_failure_at": {"N": str(now)},
                            "expires_at": {"N": str(forget_at)},
                        },
                        ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
                        ExpressionAttributeValues={":now": {"N": str(now)}},
                    )
                    return 1
                except ClientError as error:
                    if _error_code(error) != "ConditionalCheckFailedException":
                        raise
        raise ServiceUnavailable()

    def keep_counter_until(self, key: tuple[str, str], expires_at: int) -> None:
        """Push a counter's expiry later (never earlier), e.g. past the lockout it caused."""
        with _store_call():
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": {"S": _counter_pk(key)}},
                    UpdateExpression="SET expires_at = :e",
                    ConditionExpression="attribute_exists(pk) AND expires_at < :e",
                    ExpressionAttributeValues={":e": {"N": str(expires_at)}},
                )
            except ClientError as error:
                if _error_code(error) != "ConditionalCheckFailedException":
                    raise

    def delete_counter(self, key: tuple[str, str]) -> None:
        with _store_call():
            self._client.delete_item(TableName=self._table, Key={"pk": {"S": _counter_pk(key)}})

    # -- transactions ------------------------------------------------------------------------

    def _transact(
        self, items: list[dict[str, Any]], on_condition_failed: type[AppError] = ServiceUnavailable
    ) -> None:
        """TransactWriteItems, retried while another transaction holds one of its items.

        A conflict means a concurrent request (say, a sign-up with the same email) is writing
        the same item; retrying tells whether it committed (then a condition fails here) or
        rolled back (then this one may succeed).
        """
        for attempt in range(_TRANSACTION_ATTEMPTS):
            if attempt:
                self._sleep(random.uniform(0.01, 0.05) * attempt)  # noqa: S311 (jitter)
            _check_budget()
            try:
                self._client.transact_write_items(TransactItems=items)
                return
            except ClientError as error:
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    raise on_condition_failed() from None
                if "TransactionConflict" not in reasons:
                    raise ServiceUnavailable() from error
            except BotoCoreError as error:
                raise ServiceUnavailable() from error
        raise ServiceUnavailable()

    def _fit(self, deletes: list[dict[str, Any]], room: int) -> list[dict[str, Any]]:
        """The deletes that fit in a transaction with `room` places left; the rest (only for a
        user with about a hundred sessions) are deleted first, in batches."""
        overflow, kept = deletes[room:], deletes[:room]
        self._batch_write([{"DeleteRequest": {"Key": d["Delete"]["Key"]}} for d in overflow])
        return kept

    def _put_session(self, session: SessionRecord) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": _session_item(session),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _delete(self, pk: str) -> dict[str, Any]:
        return {"Delete": {"TableName": self._table, "Key": {"pk": {"S": pk}}}}

    # -- helpers ---------------------------------------------------------------------------

    def _get(self, pk: str) -> dict[str, Any] | None:
        # Strongly consistent: a logout or signup must be visible to the very next request.
        with _store_call():
            response = self._client.get_item(
                TableName=self._table, Key={"pk": {"S": pk}}, ConsistentRead=True
            )
        return response.get("Item")


def _counter_pk(key: tuple[str, str]) -> str:
    kind, value = key
    return f"THROTTLE#{kind}#{value}"


def _session_item(session: SessionRecord) -> dict[str, Any]:
    return {
        "pk": {"S": f"SESSION#{session.digest}"},
        "session_id": {"S": session.session_id},
        "session_user_id": {"S": session.user_id},
        "email": {"S": session.email},
        "created_at": {"N": str(session.created_at)},
        "expires_at": {"N": str(session.expires_at)},
        "absolute_expires_at": {"N": str(session.absolute_expires_at)},
        "last_used_at": {"N": str(session.last_used_at)},
        "user_agent": {"S": session.user_agent},
        "ip": {"S": session.ip},
    }


def _session_record(item: dict[str, Any]) -> SessionRecord:
    return SessionRecord(
        digest=item["pk"]["S"].removeprefix("SESSION#"),
        session_id=item["session_id"]["S"],
        user_id=item["session_user_id"]["S"],
        email=item["email"]["S"],
        created_at=int(item["created_at"]["N"]),
        expires_at=int(item["expires_at"]["N"]),
        absolute_expires_at=int(item["absolute_expires_at"]["N"]),
        last_used_at=int(item["last_used_at"]["N"]),
        user_agent=item["user_agent"]["S"],
        ip=item["ip"]["S"],
    )


def create_table(client: Any, table_name: str) -> bool:
    """Create the table from TABLE_DEFINITION unless it exists; True if it was created."""
    definition = dict(TABLE_DEFINITION)
    ttl = definition.pop("TimeToLiveSpecification")
    try:
        client.create_table(TableName=table_name, **definition)
    except ClientError as error:
        if _error_code(error) == "ResourceInUseException":
            return False
        raise
    client.get_waiter("table_exists").wait(TableName=table_name)
    client.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
    return True
