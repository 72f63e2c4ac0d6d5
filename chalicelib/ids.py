"""The ids of users and organizations: random UUIDs, as lower-case text.

An id from a URL is checked for the shape before any read, so a malformed one is a 404 or 400
of its own rather than a key lookup."""

from __future__ import annotations

import re
import uuid

_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def new_id() -> str:
    return str(uuid.uuid4())


def is_id(text: str) -> bool:
    return _ID.fullmatch(text) is not None
