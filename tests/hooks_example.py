"""A team's hooks module, as HOOKS_MODULE names it (tests/test_hooks.py): sign-ups from
blocked.example are refused, and tokens carry the user's tenant. The tests steer it through
`behaviour`, and read what it was given in `calls` (it runs in a thread of its own)."""

from __future__ import annotations

import time
from typing import Any

from chalicelib.hooks import Deny, events

BLOCKED = "@blocked.example"
MESSAGE = "Sign-ups from blocked.example are closed. Ask your admin for an invitation."

behaviour: dict[str, Any] = {}
calls: list[tuple[str, Any, Any]] = []


def reset() -> None:
    behaviour.clear()
    behaviour.update(sleep=0.0, claims={"tenant": "acme"}, message=MESSAGE)
    calls.clear()


reset()


@events.on("user.created")
@events.on("user.email_verified")
def welcome(event: dict[str, Any]) -> None:
    calls.append(("welcome", event["type"], event["id"]))


@events.on("user.created")
def count(event: dict[str, Any]) -> None:
    calls.append(("count", event["type"], event["id"]))


@events.before_sign_up(on_error="deny")
def no_blocked_domain(email: str, method: str) -> Deny | None:
    calls.append(("before_sign_up", email, method))
    time.sleep(behaviour["sleep"])
    if email.endswith(BLOCKED):
        return events.deny(behaviour["message"])
    return None


@events.access_token_claims(on_error="allow")
def tenant(user: dict[str, Any], session: dict[str, Any]) -> Any:
    calls.append(("access_token_claims", user, session))
    time.sleep(behaviour["sleep"])
    return behaviour["claims"]
