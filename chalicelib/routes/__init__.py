"""The routes, one Chalice blueprint per area; app.py registers them all. Each handler parses
its input, calls one flow and shapes the response: no DynamoDB, no cookie strings."""

from __future__ import annotations

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
    twofactor_api,
)


def register(app: Chalice) -> None:
    for module in (
        account_api,
        email_api,
        twofactor_api,
        passkeys_api,
        resources,
        pages,
        account_pages,
        settings_pages,
        social,
    ):
        app.register_blueprint(module.blueprint)
