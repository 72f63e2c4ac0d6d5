"""Access tokens from the session: what `POST /auth/token` does, and what it publishes."""

from __future__ import annotations

from typing import Any

from chalicelib.access_tokens import Issued
from chalicelib.audit import Event
from chalicelib.flows.active_org import org_permissions
from chalicelib.flows.context import Access, RequestContext


def issue(ctx: RequestContext, audience: str | None) -> Issued:
    """A signed token for `audience` (the first configured by default), from a session that
    grants resources: the session's one read and a signature, nothing written; with the
    session's active organization, if it works in one, and the claims the team's
    access_token_claims hook adds, if any (chalicelib.hooks)."""
    session = ctx.require(Access.RESOURCE)
    tokens = ctx.services.tokens
    chosen = tokens.audience(audience)  # a 400 before any hook is asked
    extra = ctx.services.hooks.access_token_claims(session, ctx.hook_failed(session.user.id))
    issued = tokens.issue(
        session,
        chosen,
        tokens.issuer(ctx.base_path),
        ctx.services.clock.now(),
        ctx.services.roles.permissions(session.user.roles),
        extra,
        frozenset(org_permissions(ctx, session)),
    )
    ctx.audit(Event.ACCESS_TOKEN_ISSUED, session.user.id, jti=issued.jti, audience=issued.audience)
    return issued


def jwks(ctx: RequestContext) -> dict[str, Any]:
    return ctx.services.tokens.jwks()


def discovery(ctx: RequestContext) -> dict[str, Any]:
    tokens = ctx.services.tokens
    return tokens.discovery(tokens.issuer(ctx.base_path))
