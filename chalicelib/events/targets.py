"""Who wants an event: the stage's webhooks (WEBHOOKS) and the team's reactions (HOOKS_MODULE).

A target is named as the delivery queue carries it: `webhook:<url>` or `reaction:<name>`.
"""

from __future__ import annotations

from typing import Any


def wanting(services: Any, event_type: str) -> list[str]:
    """The targets of `event_type`, in a stable order: webhooks, then reactions."""
    webhooks = [f"webhook:{e.url}" for e in services.webhooks if event_type in e.events]
    return webhooks + [f"reaction:{r.name}" for r in services.hooks.reactions(event_type)]
