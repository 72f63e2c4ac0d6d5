"""The HTTP suite: `chalice local`'s server in a thread, on DynamoDB Local (real Java, real jar).

Nothing here skips: without Java or the jar these tests fail, because CI has both.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.cli.factory import CLIFactory
from chalice.local import create_local_server
from playwright import sync_api as playwright_api

import devtools.chalice_local  # noqa: F401  (make dev's server: its backlog, its access log)
from chalicelib import runtime
from chalicelib.config import Settings
from chalicelib.store import ADMIN_CLIENT_CONFIG, CLIENT_CONFIG, create_table
from devtools.calls import CallRecorder
from devtools.dynamodb_local import LOCAL_AWS_ENV, ROOT, DynamoDBLocal
from devtools.oidc_local import LocalOpenIDProvider
from devtools.outbox import Outbox
from devtools.stage import local_dev_environment, stage_environment
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS
from tests.integration.oauth_stubs import GitHubStub, TokenStub


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    with DynamoDBLocal() as database:
        yield database


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch, dynamodb_local: DynamoDBLocal) -> None:
    """Overrides the unit suite's fixture: here boto3 talks to DynamoDB Local."""
    for key, value in LOCAL_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local.endpoint)


@dataclass
class LiveServer:
    url: str
    client: Any
    table: str
    calls: CallRecorder
    settings: Settings
    outbox: Outbox

    def items(self, prefix: str = "") -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True}
        while True:
            page = self.client.scan(**request)
            items.extend(i for i in page["Items"] if i["pk"]["S"].startswith(prefix))
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """One server for the session: create_local_server re-bases the app's class, so it can
    only be called once per process. Each test swaps in its own table through runtime.use."""
    from app import app

    config = CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name="local")
    server = create_local_server(app, config, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # localhost, not 127.0.0.1: browsers refuse WebAuthn on an IP address.
    yield f"http://localhost:{server.server.server_address[1]}"
    server.shutdown()
    server.server.server_close()


@dataclass
class OAuthProviders:
    """The suite's social sign-in providers: `local`, the real OpenID Provider that `make dev`
    runs too; `github`, the stub of GitHub's API; `stub`, an OpenID Provider whose ID tokens a
    test shapes."""

    local: LocalOpenIDProvider
    github: GitHubStub
    tokens: TokenStub

    def environment(self) -> dict[str, str]:
        return {
            **self.local.settings_environment(),
            "OAUTH_PROVIDERS": "local,github,stub",
            "OAUTH_GITHUB_CLIENT_ID": "github-client",
            "OAUTH_GITHUB_CLIENT_SECRET": "github-secret",
            "OAUTH_GITHUB_URL": self.github.url,
            "OAUTH_GITHUB_API_URL": self.github.url,
            "OAUTH_STUB_ISSUER": self.tokens.url,
            "OAUTH_STUB_NAME": "Stub",
            "OAUTH_STUB_CLIENT_ID": TokenStub.CLIENT_ID,
            "OAUTH_STUB_CLIENT_SECRET": TokenStub.CLIENT_SECRET,
            "OAUTH_STUB_TRUST_EMAIL": "false",
        }


@pytest.fixture(scope="session")
def oauth_providers(server_url: str) -> Iterator[OAuthProviders]:
    callback = f"{server_url}/auth/oauth/local/callback"
    with LocalOpenIDProvider([callback]) as local, GitHubStub() as github, TokenStub() as tokens:
        yield OAuthProviders(local, github, tokens)


@pytest.fixture
def live_server(
    monkeypatch: pytest.MonkeyPatch,
    server_url: str,
    tmp_path: Path,
    oauth_providers: OAuthProviders,
) -> Iterator[LiveServer]:
    """A fresh table and outbox, the `local` stage's settings (default Argon2 cost) with what
    `make dev` adds (the outbox, the public origin, the local OpenID Provider; here also a
    GitHub stub and a token stub), and the server."""
    table = f"it-{uuid.uuid4().hex[:12]}"
    outbox = tmp_path / "outbox"
    oauth_providers.tokens.shape = lambda claims, header: (
        claims,
        header,
        oauth_providers.tokens.key,
    )
    for key, value in {
        **stage_environment("local"),
        **local_dev_environment(server_url, outbox, tmp_path / "totp-keys.json"),
        **oauth_providers.environment(),
        "TABLE_NAME": table,
    }.items():
        monkeypatch.setenv(key, value)
    admin = boto3.client("dynamodb", config=ADMIN_CLIENT_CONFIG)
    create_table(admin, table)
    client = boto3.client("dynamodb", config=CLIENT_CONFIG)
    # Built from the environment exactly as a Lambda container builds it.
    services = runtime.build(Settings.from_env(os.environ), client=client)
    runtime.use(services)
    try:
        yield LiveServer(
            server_url, client, table, CallRecorder(client), services.settings, Outbox(outbox)
        )
    finally:
        runtime.use(None)
        admin.delete_table(TableName=table)


@pytest.fixture
def configure(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Sets the live server's stage variables, as a stage's environment would."""

    def configure(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        services = runtime.build(Settings.from_env(os.environ), client=live_server.client)
        live_server.settings = services.settings
        runtime.use(services)

    return configure


@pytest.fixture
def allow_cors(configure: Any) -> Any:
    """Lists origins in the live server's CORS_ORIGINS."""

    def allow(*origins: str) -> None:
        configure(CORS_ORIGINS=",".join(origins))

    return allow


# -- the browser suites: Debian's Chromium through Playwright ---------------------------------


@pytest.fixture(scope="session")
def chromium() -> Iterator[playwright_api.Browser]:
    assert CHROMIUM.exists(), "Debian's chromium is missing: `make test` installs it (apt-get)"
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(
    chromium: playwright_api.Browser, live_server: LiveServer
) -> Iterator[playwright_api.BrowserContext]:
    context = chromium.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context: playwright_api.BrowserContext) -> playwright_api.Page:
    return context.new_page()
