"""Time as an injected dependency, so tests travel in time without sleeping or patching."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int:
        """Current time in whole epoch seconds (the unit DynamoDB TTL uses)."""
        ...


class SystemClock:
    def now(self) -> int:
        return int(time.time())


def isoformat(epoch_seconds: int) -> str:
    """ISO 8601 in UTC with a `Z`, as the API reports instants."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
