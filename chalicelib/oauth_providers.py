"""The stage's social sign-in providers, as one container holds them: listed without a call
to anyone (the login page's buttons), each built on first use, and the secrets read once
(from the environment, or the one SSM SecureString of OAUTH_SECRETS_PARAMETER).

The protocol itself (chalicelib.oauth, and PyJWT under it) loads only when a provider is used:
on the OAuth routes, never in a protected request's cold start.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.config import OAuthProviderSettings, Settings
from chalicelib.errors import ServiceUnavailable

if TYPE_CHECKING:
    from chalicelib.oauth import Http, Provider


class Providers:
    def __init__(
        self, settings: Settings, clock: Callable[[], int], http: Http | None = None
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._http = http
        self._built: dict[str, Provider] = {}

    @property
    def configured(self) -> list[OAuthProviderSettings]:
        """In button order; no provider is contacted to list them."""
        return list(self._settings.oauth_providers)

    def get(self, provider_id: str) -> Provider | None:
        if provider_id not in self._built:
            settings = self._settings.oauth_provider(provider_id)
            if settings is None:
                return None
            from chalicelib.oauth import Http, Provider

            self._http = self._http or Http()
            self._built[provider_id] = Provider(
                settings, lambda: self._secret(settings), self._http, self._clock
            )
        return self._built[provider_id]

    def _secret(self, settings: OAuthProviderSettings) -> str:
        if settings.client_secret is not None:
            return settings.client_secret
        secret = self._parameter_secrets.get(settings.id)
        if not isinstance(secret, str) or not secret:
            raise ServiceUnavailable()  # the parameter lacks this provider: an operator's fix
        return secret

    @cached_property
    def _parameter_secrets(self) -> dict[str, Any]:
        from chalicelib.keyring import read_parameter

        name = self._settings.oauth_secrets_parameter
        if name is None:
            return {}
        try:
            secrets_by_id = json.loads(read_parameter(name, "OAUTH_SECRETS_PARAMETER"))
        except ValueError:
            raise ServiceUnavailable() from None
        return secrets_by_id if isinstance(secrets_by_id, dict) else {}
