"""The table's DynamoDB Stream, read as Lambda's event source mapping reads it, for `make dev`
and the tests: records in each shard's order, handed in batches (Lambda's own event shape) to
a handler, which is the consumer's own (chalicelib.events.consumer.handler) unless given.

As the mapping does with ReportBatchItemFailures, a batch that names a failed record is
retried from that record, at most `max_retries` times, after which that record goes to
`failed` (the deployed stage's failure queue) and reading goes on past it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import botocore.session

from chalicelib import aws
from chalicelib.store import ADMIN_CLIENT_CONFIG

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _consumer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.events.consumer import handler

    return handler(event, context)


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record from GetRecords in the shape Lambda hands a function."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if created is not None and not isinstance(created, int | float):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    shaped = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", "us-east-1"),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in record:
        shaped["userIdentity"] = {
            "type": record["userIdentity"]["Type"],
            "principalId": record["userIdentity"]["PrincipalId"],
        }
    return shaped


class StreamReader:
    """Reads one table's stream from its start; `poll()` hands on what arrived since."""

    def __init__(
        self,
        table: str,
        *,
        handler: Handler = _consumer,
        batch_size: int = 100,
        max_retries: int = 10,
        dynamodb: Any = None,
        streams: Any = None,
    ) -> None:
        self.table = table
        self.handler = handler
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.failed: list[dict[str, Any]] = []  # what the failure queue would hold
        self._dynamodb = dynamodb or aws.client("dynamodb", ADMIN_CLIENT_CONFIG)
        # DynamoDB Local serves its streams at its own endpoint.
        self._streams = streams or botocore.session.get_session().create_client(
            "dynamodbstreams",
            endpoint_url=self._dynamodb.meta.endpoint_url,
            config=ADMIN_CLIENT_CONFIG,
        )
        self._iterators: dict[str, str | None] = {}
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._retries: dict[str, int] = {}
        self._arn = ""

    def _shards(self) -> list[str]:
        if not self._arn:
            described = self._dynamodb.describe_table(TableName=self.table)["Table"]
            self._arn = described["LatestStreamArn"]
        stream = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]
        return [shard["ShardId"] for shard in stream["Shards"]]

    def poll(self) -> int:
        """Hand on every record that arrived; returns how many were handled."""
        handled = 0
        for shard in self._shards():
            if shard not in self._iterators:
                self._iterators[shard] = self._streams.get_shard_iterator(
                    StreamArn=self._arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
                self._pending[shard] = []
            handled += self._drain(shard)
        return handled

    def _drain(self, shard: str) -> int:
        handled = 0
        while True:
            pending = self._pending[shard]
            iterator = self._iterators[shard]
            if len(pending) < self.batch_size and iterator is not None:
                answer = self._streams.get_records(ShardIterator=iterator, Limit=1000)
                self._iterators[shard] = answer.get("NextShardIterator")
                pending += [lambda_record(r, self._arn) for r in answer["Records"]]
                if not answer["Records"] and not pending:
                    return handled
            if not pending:
                return handled
            batch = pending[: self.batch_size]
            answer = self.handler({"Records": batch}, None) or {}
            failures = [f["itemIdentifier"] for f in answer.get("batchItemFailures", [])]
            if not failures:
                del pending[: len(batch)]
                handled += len(batch)
                continue
            sequences = [r["dynamodb"]["SequenceNumber"] for r in batch]
            first = min(sequences.index(f) for f in failures if f in sequences)
            del pending[:first]
            handled += first
            failed = pending[0]
            key = failed["eventID"]
            self._retries[key] = self._retries.get(key, 0) + 1
            if self._retries[key] > self.max_retries:
                logger.error("stream record %s failed %d times", key, self.max_retries + 1)
                self.failed.append(pending.pop(0))
            else:
                return handled  # retried at the next poll
