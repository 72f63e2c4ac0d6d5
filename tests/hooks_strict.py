"""A team's hooks module with the other on_error of each decision (tests/test_hooks.py): a
sign-up goes on when its hook fails, a token is refused when its claims cannot be had."""

from __future__ import annotations

import time
from typing import Any

from chalicelib.hooks import events

behaviour: dict[str, Any] = {"sleep": 0.0}


@events.before_sign_up(on_error="allow")
def broken(email: str, method: str) -> None:
    raise RuntimeError(f"the directory is down (looking up {email})")


@events.access_token_claims(on_error="deny")
def slow_tenant(user: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
    time.sleep(behaviour["sleep"])
    return {"tenant": "acme"}
