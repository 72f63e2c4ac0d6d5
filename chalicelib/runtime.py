"""Wiring: the services one Lambda container shares across requests (the composition root).

`Services` holds what a container is given (the settings, the clock, the DynamoDB client, and
what tests stand in for: the mail's way out, the providers' HTTP, the store's and the flows'
waits); everything else is built from those on first use and kept. A copy with other settings
(`dataclasses.replace(services, settings=...)`) therefore rebuilds everything from them: no
object built from the old settings can be left behind in it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.access_tokens import AccessTokens
from chalicelib.audit import AuditLog
from chalicelib.clock import Clock, SystemClock
from chalicelib.config import Settings
from chalicelib.cors import Cors
from chalicelib.keyring import KeySource
from chalicelib.limits import Limits
from chalicelib.mail import Mail, Sender, sender_for
from chalicelib.oauth_providers import Providers
from chalicelib.origins import CrossOriginProtection
from chalicelib.passwords import PasswordHasher
from chalicelib.roles import Roles, org_roles
from chalicelib.sessions import SessionManager
from chalicelib.store import Store, make_client, open_store
from chalicelib.throttle import LoginThrottle
from chalicelib.transports import Transports
from chalicelib.users import Users

if TYPE_CHECKING:
    from chalicelib.hooks import Hooks
    from chalicelib.migration import Migration
    from chalicelib.oauth import Http
    from chalicelib.webhooks.endpoints import Endpoint
    from chalicelib.webhooks.signing import WebhookSecret


def _pause(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


@dataclass(frozen=True, eq=False)
class Services:
    settings: Settings
    clock: Clock
    client: Any  # DynamoDB's
    mail_sender: Sender | None = None  # None: the stage's (SES, or the local outbox)
    provider_http: Http | None = None  # None: the providers' own (chalicelib.oauth)
    sleep: Callable[[float], None] = time.sleep  # the store's waits between retries
    pause: Callable[[float], None] = _pause  # the flows' waits; tests pass one that records
    queue_client: Any = None  # SQS's; None: the stage's own, made on first use

    @cached_property
    def store(self) -> Store:
        return open_store(self.client, self.settings.table_name, self.sleep)

    @cached_property
    def transports(self) -> Transports:
        return Transports(self.settings)

    @cached_property
    def sessions(self) -> SessionManager:
        return SessionManager(self.store, self.settings, self.clock)

    @cached_property
    def users(self) -> Users:
        return Users(self.store, PasswordHasher(self.settings), self.clock)

    @cached_property
    def throttle(self) -> LoginThrottle:
        return LoginThrottle(self.store, self.settings, self.clock)

    @cached_property
    def origins(self) -> CrossOriginProtection:
        return CrossOriginProtection(self.settings)

    @cached_property
    def cors(self) -> Cors:
        return Cors(self.settings)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.clock)

    @cached_property
    def limits(self) -> Limits:
        return Limits(self.store, self.clock)

    @cached_property
    def mail(self) -> Mail:
        """Checks the mail settings when first used: a stage that never mails needs none."""
        return Mail(self.settings, self.mail_sender or sender_for(self.settings))

    @cached_property
    def keys(self) -> KeySource:
        return KeySource(self.settings)

    @cached_property
    def oauth(self) -> Providers:
        return Providers(self.settings, self.clock.now, self.provider_http)

    @cached_property
    def roles(self) -> Roles:
        """The built-in roles and the stage's own (ROLES)."""
        return Roles(dict(self.settings.roles))

    @cached_property
    def org_roles(self) -> Roles:
        """Organizations' roles: the built-in owner, admin and member, and the stage's own
        (ORG_ROLES)."""
        return org_roles(dict(self.settings.org_roles))

    @cached_property
    def queue(self) -> Any:
        """SQS's client, for the delivery queue (the events' consumer, the admin's replay)."""
        from chalicelib import aws

        return self.queue_client or aws.client("sqs", aws.BOUNDED)

    @cached_property
    def webhooks(self) -> tuple[Endpoint, ...]:
        """The stage's webhook endpoints (WEBHOOKS), checked against the event catalogue."""
        from chalicelib.events import EVENT_TYPES
        from chalicelib.webhooks.endpoints import webhook_endpoints

        return webhook_endpoints(self.settings, EVENT_TYPES)

    @cached_property
    def webhook_secrets(self) -> tuple[WebhookSecret, ...]:
        """The secrets that sign webhooks, newest first, read once per container."""
        from chalicelib.webhooks.signing import load_secrets

        return load_secrets(self.settings)

    @cached_property
    def tokens(self) -> AccessTokens:
        """Signs access tokens; its keys load on first use."""
        return AccessTokens(self.settings, self.clock)

    @cached_property
    def hooks(self) -> Hooks:
        """The team's hooks (HOOKS_MODULE, the hook endpoints); their module is imported when
        a decision first needs it, never by a request that needs none."""
        from chalicelib.hooks import Hooks

        return Hooks(self.settings, secrets=lambda: self.webhook_secrets)

    @cached_property
    def migration(self) -> Migration:
        """Migration on first sign-in (MIGRATE_FROM_URL): asked only by a sign-in that finds
        no account, and only when the stage names an endpoint."""
        from chalicelib.migration import Migration

        return Migration(self.settings, secrets=lambda: self.webhook_secrets)


def build(
    settings: Settings | None = None,
    *,
    client: Any = None,
    clock: Clock | None = None,
    **given: Any,
) -> Services:
    """This container's services: the stage's settings from the environment, the real clock
    and a DynamoDB client of its own, unless given."""
    return Services(
        settings or Settings.from_env(),
        clock or SystemClock(),
        client or make_client(),
        **given,
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
