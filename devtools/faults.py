"""Storage faults on demand, injected through botocore's event hooks (tests only).

Each fault replaces the HTTP exchange of matching DynamoDB calls, so botocore's own retry
logic sees exactly what a real throttled, failing, slow or conflicting DynamoDB would send.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

_ERRORS = {
    # kind: (HTTP status, error type, extra body fields)
    "throttling": (400, "ThrottlingException", {}),
    "throughput": (400, "ProvisionedThroughputExceededException", {}),
    "internal": (500, "InternalServerError", {}),
    "conflict": (
        400,
        "TransactionCanceledException",
        {"CancellationReasons": [{"Code": "TransactionConflict"}] * 3},
    ),
}
KINDS = (*_ERRORS, "timeout")


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> list[bytes]:
        return [self._data]


class FaultInjector:
    """`inject("throttling", "GetItem")` makes every GetItem fail until `clear()`;
    `times=n` fails only the next n attempts. `attempts` counts the HTTP attempts per call."""

    def __init__(self, client: Any) -> None:
        self.attempts: Counter[str] = Counter()
        self._faults: list[dict[str, Any]] = []
        client.meta.events.register("before-send.dynamodb.*", self._before_send)

    def inject(self, kind: str, *operations: str, times: int | None = None) -> FaultInjector:
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {KINDS}")
        self._faults.append({"kind": kind, "operations": set(operations), "left": times})
        return self

    def clear(self) -> None:
        self._faults.clear()
        self.attempts.clear()

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        operation = request.headers.get("X-Amz-Target", b"")
        operation = operation.decode() if isinstance(operation, bytes) else operation
        operation = operation.rsplit(".", 1)[-1]
        self.attempts[operation] += 1
        for fault in self._faults:
            if fault["operations"] and operation not in fault["operations"]:
                continue
            if fault["left"] is not None:
                if fault["left"] <= 0:
                    continue
                fault["left"] -= 1
            return self._fail(fault["kind"], request)
        return None

    def _fail(self, kind: str, request: Any) -> AWSResponse:
        if kind == "timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        status, error_type, extra = _ERRORS[kind]
        body = json.dumps(
            {"__type": f"com.amazonaws.dynamodb.v20120810#{error_type}", "message": kind, **extra}
        ).encode()
        headers = {
            "x-amzn-RequestId": "injected-fault",
            "Content-Type": "application/x-amz-json-1.0",
        }
        return AWSResponse(request.url, status, headers, _Body(body))
