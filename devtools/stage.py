"""A stage's environment variables, resolved by Chalice itself from .chalice/config.json."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from chalice.cli.factory import CLIFactory

from devtools.dynamodb_local import ROOT, local_client

# Where `make dev` notes the endpoint of the DynamoDB it started (a free port each time).
ENDPOINT_FILE = ROOT / ".dynamodb" / "endpoint"


def stage_environment(stage: str) -> dict[str, str]:
    config = CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name=stage)
    return dict(config.environment_variables)


def local_dev_environment(
    origin: str, outbox: Path, keys: Path, token_keys: Path | None = None
) -> dict[str, str]:
    """What `make dev` adds to the `local` stage: where mail goes, the origin its links use
    (and its access tokens' issuer), and the keyring files for two-factor secrets, for signing
    access tokens and for signing webhooks and hook requests. Not in .chalice/config.json,
    because `chalice local` lets the stage's variables override the shell's, and these are the
    developer's. The token keyring sits beside the TOTP one unless named; the webhooks' beside
    it always."""
    return {
        "PUBLIC_ORIGIN": origin,
        "MAIL_OUTBOX_DIR": str(outbox),
        "TOTP_KEYS_FILE": str(keys),
        "ACCESS_TOKEN_KEYS_FILE": str(token_keys or keys.with_name("access-token-keys.json")),
        "WEBHOOK_SECRETS_FILE": str(keys.with_name("webhook-secrets.json")),
    }


def operator_client(stage: str, connections: int = 10) -> Any:
    """A DynamoDB client for an operator's tool (devtools.admin, devtools.users) on `stage`'s
    table, with the operator's own AWS credentials; `--stage local` reaches the DynamoDB Local
    that `make dev` runs (or AWS_ENDPOINT_URL_DYNAMODB). `connections`: for tools that call
    from several threads."""
    import boto3
    from botocore.config import Config

    from chalicelib.store import ADMIN_CLIENT_CONFIG

    config = ADMIN_CLIENT_CONFIG.merge(Config(max_pool_connections=connections))
    if stage != "local":
        return boto3.client("dynamodb", config=config)
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
    if endpoint is None and ENDPOINT_FILE.exists():
        endpoint = ENDPOINT_FILE.read_text(encoding="utf-8").strip()
    if endpoint is None:
        raise SystemExit("no local DynamoDB: run `make dev` first")
    return local_client(endpoint, config)
