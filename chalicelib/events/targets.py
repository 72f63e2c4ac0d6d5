"""Who wants an event: the stage's webhooks (WEBHOOKS) and the team's reactions (HOOKS_MODULE)."""

from __future__ import annotations

from typing import Any


def wanting(services: Any, event_type: str) -> list[str]:
    """The targets of `event_type`, in a stable order: webhooks, then reactions."""
    # lead: fill from chalicelib.webhooks (endpoints) and chalicelib.hooks (reactions)
    return []
