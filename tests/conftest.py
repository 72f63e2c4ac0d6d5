"""Fixtures shared by the unit and route tests: moto's DynamoDB, a controllable clock, and the
app wired to both."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import runtime
from chalicelib.config import Settings
from chalicelib.store import CLIENT_CONFIG, Store, create_table, open_store
from devtools.calls import CallRecorder
from tests.helpers import SesMailbox

INTEGRATION = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/integration declares the integration tier (`make check` leaves
    that tier out, and must never start DynamoDB Local or Chromium)."""
    for item in items:
        undeclared = INTEGRATION in Path(item.path).parents and not item.get_closest_marker(
            "integration"
        )
        if undeclared:
            raise pytest.UsageError(
                f"{item.nodeid}: declare `pytestmark = pytest.mark.integration`"
            )


START = 1_800_000_000  # 2027-01-15T08:00:00Z

# Real Argon2id, at a cost that keeps the unit suite fast; the HTTP suite uses the defaults.
FAST_ARGON2 = {"argon2_memory_kib": 1024, "argon2_time_cost": 1, "argon2_parallelism": 1}


class FakeClock:
    def __init__(self, now: int = START) -> None:
        self.t = now

    def now(self) -> int:
        return self.t

    def advance(
        self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
    ) -> None:
        self.t += int(days * 86400 + hours * 3600 + minutes * 60 + seconds)


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="session")
def prod_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make package STAGE=prod`'s output folder (sam.json, deployment.zip), built once: the
    build downloads the Lambda wheels, and both the template and the zip's tests read it."""
    from devtools.package import package

    out = tmp_path_factory.mktemp("package") / "prod"
    package("prod", out)  # raises if `chalice package` or cfn-lint fails
    return out


@pytest.fixture(scope="session")
def prod_rest_package(prod_package: Path) -> Path:
    return prod_package


@pytest.fixture(scope="session")
def prod_http_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make package STAGE=prod API=http`: the same function and table behind an HTTP API."""
    from devtools.package import package

    out = tmp_path_factory.mktemp("package-http") / "prod"
    package("prod", out, api="http")
    return out


@pytest.fixture(scope="session")
def arm64_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make package STAGE=prod ARCH=arm64`: aarch64 wheels, built and checked, never run here."""
    from devtools.package import package

    out = tmp_path_factory.mktemp("package-arm64") / "prod"
    package("prod", out, arch="arm64")
    return out


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


MAIL_FROM = "no-reply@training.example"
ORIGIN = "http://localhost:8000"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return replace(
        Settings(),
        table_name="auth-test",
        cookie_secure=False,
        public_origin=ORIGIN,
        mail_from=MAIL_FROM,
        totp_keys_file=str(tmp_path / "totp-keys.json"),  # made on first use, as on `local`
        access_token_keys_file=str(tmp_path / "access-token-keys.json"),  # the same
        webhook_secrets_file=str(tmp_path / "webhook-secrets.json"),  # the same
        **FAST_ARGON2,
    )


@pytest.fixture
def dynamodb(settings: Settings) -> Iterator[Any]:
    """moto's AWS: the table, and SES with the sender's identity verified."""
    with mock_aws():
        client = boto3.client("dynamodb", config=CLIENT_CONFIG)
        create_table(client, settings.table_name)
        boto3.client("sesv2").create_email_identity(EmailIdentity=MAIL_FROM)
        yield client


@pytest.fixture
def calls(dynamodb: Any) -> CallRecorder:
    return CallRecorder(dynamodb)


@pytest.fixture
def store(dynamodb: Any, settings: Settings) -> Store:
    return open_store(dynamodb, settings.table_name, sleep=lambda _: None)


class Pauses(list[float]):
    """Records the pauses a flow asks for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def pauses() -> Pauses:
    return Pauses()


@pytest.fixture
def services(
    dynamodb: Any, settings: Settings, clock: FakeClock, pauses: Pauses
) -> Iterator[runtime.Services]:
    built = runtime.build(settings, client=dynamodb, clock=clock, pause=pauses)
    runtime.use(built)
    yield built
    runtime.use(None)


@pytest.fixture
def stage(services: runtime.Services) -> Any:
    """Changes the stage's settings for one test: the container's services rebuilt from them,
    as a deploy with new environment variables would."""

    def configure(**changes: Any) -> runtime.Services:
        built = replace(services, settings=replace(services.settings, **changes))
        runtime.use(built)
        return built

    return configure


@pytest.fixture
def client(services: runtime.Services) -> Iterator[Client]:
    from app import app

    with Client(app) as test_client:
        yield test_client


def table_items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**request)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class AuditRecords(logging.Handler):
    """Collects the audit log's JSON lines."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(record.getMessage()))

    @property
    def events(self) -> list[str]:
        return [line["event"] for line in self.lines]


@pytest.fixture
def audit() -> Iterator[AuditRecords]:
    from chalicelib.audit import logger

    handler = AuditRecords()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def mailbox(dynamodb: Any) -> SesMailbox:
    return SesMailbox()


@pytest.fixture
def receiver() -> Iterator[Any]:
    """A webhook receiver on this machine (tests.helpers.WebhookReceiver)."""
    from tests.helpers import WebhookReceiver

    found = WebhookReceiver()
    yield found
    found.close()
