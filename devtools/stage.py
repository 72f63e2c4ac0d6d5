"""A stage's environment variables, resolved by Chalice itself from .chalice/config.json."""

from __future__ import annotations

from chalice.cli.factory import CLIFactory

from devtools.dynamodb_local import ROOT


def stage_environment(stage: str) -> dict[str, str]:
    config = CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name=stage)
    return dict(config.environment_variables)
