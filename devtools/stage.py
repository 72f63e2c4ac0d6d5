"""A stage's environment variables, resolved by Chalice itself from .chalice/config.json."""

from __future__ import annotations

from pathlib import Path

from chalice.cli.factory import CLIFactory

from devtools.dynamodb_local import ROOT


def stage_environment(stage: str) -> dict[str, str]:
    config = CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name=stage)
    return dict(config.environment_variables)


def local_dev_environment(origin: str, outbox: Path, keys: Path) -> dict[str, str]:
    """What `make dev` adds to the `local` stage: where mail goes, the origin its links use,
    and the keyring file for two-factor secrets. Not in .chalice/config.json, because `chalice
    local` lets the stage's variables override the shell's, and these are the developer's."""
    return {"PUBLIC_ORIGIN": origin, "MAIL_OUTBOX_DIR": str(outbox), "TOTP_KEYS_FILE": str(keys)}
