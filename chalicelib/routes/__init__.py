"""The routes, one Chalice blueprint per area; app.py registers them all. Each handler parses
its input, calls one flow and shapes the response: no DynamoDB, no cookie strings.

The edge treats the two kinds of route differently, by what each route declares
(`web.page`, or a `*_page_required` decorator): pages, forms and browser navigations (the
social start and callback) only ever use the cookie and never carry CORS headers; everything
else is the JSON API, which answers preflights, carries CORS headers for CORS_ORIGINS and takes
the token transport."""

from __future__ import annotations

from chalice import Chalice

from chalicelib.routes import (
    account_api,
    account_pages,
    admin_api,
    admin_pages,
    email_api,
    org_pages,
    orgs_api,
    pages,
    passkeys_api,
    resources,
    settings_pages,
    social,
    social_api,
    tokens_api,
    twofactor_api,
)

_AREAS = (
    account_api,
    email_api,
    twofactor_api,
    passkeys_api,
    social_api,
    tokens_api,
    admin_api,
    orgs_api,
    resources,
    pages,
    account_pages,
    settings_pages,
    admin_pages,
    org_pages,
    social,
)


def register(app: Chalice) -> None:
    """Register every route of every area."""
    for area in _AREAS:
        app.register_blueprint(area.blueprint)
