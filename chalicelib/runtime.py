"""Wiring: the services one Lambda container shares across requests, built on first use."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

from chalicelib.access_tokens import AccessTokens
from chalicelib.audit import AuditLog
from chalicelib.clock import Clock, SystemClock
from chalicelib.config import Settings
from chalicelib.cookies import SessionCookies
from chalicelib.cors import Cors
from chalicelib.keyring import KeySource
from chalicelib.limits import Limits
from chalicelib.mail import Mail, Transport, transport_for
from chalicelib.oauth_providers import Providers
from chalicelib.origins import CrossOriginProtection
from chalicelib.passwords import PasswordHasher
from chalicelib.sessions import SessionManager
from chalicelib.store import Store, make_client, open_store
from chalicelib.throttle import LoginThrottle
from chalicelib.users import Accounts


class Services(NamedTuple):
    settings: Settings
    clock: Clock
    store: Store
    cookies: SessionCookies
    attempt_cookies: SessionCookies  # binds a passkey sign-in's challenge to its browser
    oauth_cookies: SessionCookies  # binds a social sign-in's attempt to its browser
    device_cookies: SessionCookies  # a browser that gave an account's right password
    sessions: SessionManager
    accounts: Accounts
    throttle: LoginThrottle
    origins: CrossOriginProtection
    cors: Cors
    audit: AuditLog
    limits: Limits
    mail: Mail
    keys: KeySource
    oauth: Providers
    tokens: AccessTokens  # signs access tokens; its keys load on first use
    pause: Callable[[float], None]  # sleeps; tests pass one that only records


def _pause(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


def build(
    settings: Settings | None = None,
    *,
    client: Any = None,
    clock: Clock | None = None,
    mail_transport: Transport | None = None,
    pause: Callable[[float], None] = _pause,
) -> Services:
    settings = settings or Settings.from_env()
    clock = clock or SystemClock()
    store = open_store(client or make_client(), settings.table_name)
    transport = mail_transport or transport_for(settings)
    return Services(
        settings=settings,
        clock=clock,
        store=store,
        cookies=SessionCookies(settings),
        attempt_cookies=SessionCookies(settings, "passkey_attempt"),
        oauth_cookies=SessionCookies(settings, "oauth_attempt"),
        device_cookies=SessionCookies(settings, "device"),
        sessions=SessionManager(store, settings, clock),
        accounts=Accounts(store, PasswordHasher(settings), clock),
        throttle=LoginThrottle(store, settings, clock),
        origins=CrossOriginProtection(settings),
        cors=Cors(settings),
        audit=AuditLog(clock),
        limits=Limits(store, clock),
        mail=Mail(settings, transport),
        keys=KeySource(settings),
        oauth=Providers(settings, clock.now),
        tokens=AccessTokens(settings, clock),
        pause=pause,
    )


_services: Services | None = None


def get() -> Services:
    """This container's services; the DynamoDB client is created once, not per request."""
    global _services
    if _services is None:
        _services = build()
    return _services


def use(services: Services | None) -> None:
    """Replace the container's services (tests inject a table, a client and a clock)."""
    global _services
    _services = services
