"""The routes, one Chalice blueprint per area; app.py registers them all. Each handler parses
its input, calls one flow and shapes the response: no DynamoDB, no cookie strings.

The edge treats the two kinds differently: the JSON API answers preflights, carries CORS
headers for CORS_ORIGINS and takes the token transport; pages, forms and browser navigations
(the social start and callback) only ever use the cookie and never carry CORS headers."""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType

from chalice import Chalice

from chalicelib.routes import (
    account_api,
    account_pages,
    email_api,
    pages,
    passkeys_api,
    resources,
    settings_pages,
    social,
    social_api,
    tokens_api,
    twofactor_api,
)

_API = (account_api, email_api, twofactor_api, passkeys_api, social_api, tokens_api, resources)
_PAGES = (pages, account_pages, settings_pages, social)


def register(app: Chalice) -> frozenset[str]:
    """Register every route; returns the paths of the pages (for web.install)."""
    page_paths = _register(app, _PAGES)
    api_paths = _register(app, _API)
    if shared := page_paths & api_paths:
        raise RuntimeError(f"paths both page and JSON API: {sorted(shared)}")
    return frozenset(page_paths)


def _register(app: Chalice, modules: Iterable[ModuleType]) -> set[str]:
    paths: set[str] = set()
    for module in modules:
        before = {path: set(methods) for path, methods in app.routes.items()}
        app.register_blueprint(module.blueprint)
        paths |= {p for p, methods in app.routes.items() if set(methods) != before.get(p)}
    return paths
