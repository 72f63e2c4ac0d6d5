"""`make package`: a deployable CloudFormation (SAM) template for one stage, with its table.

`chalice package` knows only the Lambda function and API Gateway. This merges in what the
code needs besides, all built from chalicelib.store so nothing is written twice:
- the DynamoDB table from TABLE_DEFINITION (on-demand, TTL on expires_at, the user_session_keys
  index), with point-in-time recovery, and retained if the stack is deleted or replaced;
- a least-privilege IAM policy: only the DynamoDB actions the store calls, only on this table
  and its index (Chalice's own policy generator reads only app.py and would grant `*`);
- the function's TABLE_NAME set from the table (Ref), not a hard-coded name;
- mail: the parameters MailFrom (the From address), MailIdentity (the verified SES identity
  that covers it: that address or its domain) and PublicOrigin (where links in mail point),
  passed to the function, and `ses:SendEmail` on that one identity, nothing wider;
- two-factor: the parameter TotpKeysParameter (the SSM SecureString holding the keyring that
  encrypts TOTP secrets), passed to the function, and `ssm:GetParameter` on that one parameter;
- social sign-in: the parameter OAuthSecretsParameter (the SSM SecureString holding the
  providers' client secrets), passed to the function, and `ssm:GetParameter` on it alone (the
  providers themselves are stage settings: OAUTH_PROVIDERS and OAUTH_<ID>_*).
Then cfn-lint checks the result, and the zip gains compiled bytecode: Lambda's file system is
read-only, so without shipped .pyc files every cold start compiles every module it imports.

The runtime is the Python that runs this (Chalice takes its version): the Makefile's 3.13. The
architecture is x86_64 unless asked: `--arch arm64` builds the zip from aarch64 manylinux wheels
and the template says `Architectures: [arm64]`.

    python -m devtools.package --stage prod --out build/prod [--arch arm64]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from chalicelib.store import (
    IAM_INDEX_ACTIONS,
    IAM_TABLE_ACTIONS,
    SESSIONS_BY_USER,
    TABLE_DEFINITION,
)
from devtools.dynamodb_local import ROOT

TABLE = "SessionsTable"
# The logical ids Chalice gives the function and, with autogen_policy off, its role.
FUNCTION = "APIHandler"
ROLE = "ApiHandlerRole"
# Lambda's names; Chalice's lambda_architecture takes the same.
ARCHITECTURES = ("x86_64", "arm64")


# The template's parameters: what only the person deploying knows.
PARAMETERS: dict[str, dict[str, Any]] = {
    "MailFrom": {
        "Type": "String",
        "Description": "The From address of every message (covered by MailIdentity)",
        "AllowedPattern": r"[^@\s]+@[^@\s]+\.[^@\s]+",
    },
    "MailIdentity": {
        "Type": "String",
        "Description": "The verified Amazon SES identity that sends: MailFrom or its domain",
        "AllowedPattern": r"[^\s/]+",
    },
    "TotpKeysParameter": {
        "Type": "String",
        "Description": "The SSM SecureString parameter holding the TOTP keyring (see README)",
        "Default": "/session-auth/totp-keys",
        "AllowedPattern": r"/[A-Za-z0-9_./-]+",
    },
    "OAuthSecretsParameter": {
        "Type": "String",
        "Description": "The SSM SecureString holding social sign-in's client secrets (see docs)",
        "Default": "/session-auth/oauth-secrets",
        "AllowedPattern": r"/[A-Za-z0-9_./-]+",
    },
    "PublicOrigin": {
        "Type": "String",
        "Description": "The origin browsers use (https://auth.example.com): links in mail",
        "AllowedPattern": r"https://[a-z0-9.-]+(:[0-9]{1,5})?",
    },
    "CorsOrigins": {
        "Type": "String",
        "Description": "Single-page apps on other origins that call the API with credentials: "
        "exact https origins, comma-separated (empty: none)",
        "Default": "",
        "AllowedPattern": r"(https://[a-z0-9.-]+(:[0-9]{1,5})?(, ?https://[a-z0-9.-]+(:[0-9]{1,5})?)*)?",
    },
    "CookieSameSite": {
        "Type": "String",
        "Description": "The session cookie's SameSite: lax (also for app. and api. of one "
        "site), strict, or none (an app on another site; prefer the token transport there)",
        "Default": "lax",
        "AllowedValues": ["lax", "strict", "none"],
    },
}


def merge_template() -> dict[str, Any]:
    chalice_policy = json.loads((ROOT / ".chalice" / "policy.json").read_text(encoding="utf-8"))
    table_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SessionsTable",
                "Effect": "Allow",
                "Action": list(IAM_TABLE_ACTIONS),
                "Resource": {"Fn::GetAtt": [TABLE, "Arn"]},
            },
            {
                "Sid": "SessionsByUserIndex",
                "Effect": "Allow",
                "Action": list(IAM_INDEX_ACTIONS),
                "Resource": {"Fn::Sub": f"${{{TABLE}.Arn}}/index/{SESSIONS_BY_USER}"},
            },
        ],
    }
    mail_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SendMailFromOneIdentity",
                "Effect": "Allow",
                "Action": ["ses:SendEmail"],
                "Resource": {
                    "Fn::Sub": (
                        "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}"
                        ":identity/${MailIdentity}"
                    )
                },
            }
        ],
    }
    keys_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadTheTotpKeyring",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter"],
                # The name starts with "/", which the ARN's "parameter" segment then carries.
                "Resource": {
                    "Fn::Sub": (
                        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
                        ":parameter${TotpKeysParameter}"
                    )
                },
            },
            {
                "Sid": "ReadTheOAuthSecrets",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter"],
                "Resource": {
                    "Fn::Sub": (
                        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
                        ":parameter${OAuthSecretsParameter}"
                    )
                },
            },
        ],
    }
    return {
        "Parameters": PARAMETERS,
        "Resources": {
            TABLE: {
                "Type": "AWS::DynamoDB::Table",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {
                    **TABLE_DEFINITION,
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                },
            },
            ROLE: {
                # Lists are replaced, not merged: restate the policy from .chalice/policy.json.
                "Properties": {
                    "Policies": [
                        {"PolicyName": "ApiHandlerRolePolicy", "PolicyDocument": chalice_policy},
                        {"PolicyName": "SessionsTableAccess", "PolicyDocument": table_policy},
                        {"PolicyName": "SendMail", "PolicyDocument": mail_policy},
                        {"PolicyName": "ReadSecrets", "PolicyDocument": keys_policy},
                    ]
                }
            },
            FUNCTION: {
                "Properties": {
                    "Environment": {
                        "Variables": {
                            "TABLE_NAME": {"Ref": TABLE},
                            "MAIL_FROM": {"Ref": "MailFrom"},
                            "PUBLIC_ORIGIN": {"Ref": "PublicOrigin"},
                            "CORS_ORIGINS": {"Ref": "CorsOrigins"},
                            "COOKIE_SAMESITE": {"Ref": "CookieSameSite"},
                            "TOTP_KEYS_PARAMETER": {"Ref": "TotpKeysParameter"},
                            "OAUTH_SECRETS_PARAMETER": {"Ref": "OAuthSecretsParameter"},
                        }
                    }
                },
            },
        },
        "Outputs": {"SessionsTableName": {"Value": {"Ref": TABLE}}},
    }


def package(stage: str, out: Path, arch: str = "x86_64") -> Path:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}: one of {', '.join(ARCHITECTURES)}")
    out = out.resolve()  # Chalice runs in the staged project, not here
    out.mkdir(parents=True, exist_ok=True)
    merge_file = out.parent / f"merge-template-{stage}.json"
    merge_file.write_text(json.dumps(merge_template(), indent=2) + "\n", encoding="utf-8")
    bin_dir = Path(sys.executable).parent
    # Chalice insists on a region even to package; the template itself is region-neutral.
    env = {"AWS_DEFAULT_REGION": "us-east-1", **os.environ}
    with tempfile.TemporaryDirectory() as folder:
        project = stage_project(Path(folder), arch)
        subprocess.run(
            [str(bin_dir / "chalice"), "--project-dir", str(project), "package",
             "--stage", stage, "--merge-template", str(merge_file), str(out)],
            env=env, check=True,
        )  # fmt: skip
    template = out / "sam.json"
    subprocess.run([str(bin_dir / "cfn-lint"), str(template)], check=True)
    add_bytecode(out / "deployment.zip")
    return template


def stage_project(folder: Path, arch: str) -> Path:
    """A copy of what `chalice package` reads (the app, chalicelib, requirements.txt and the
    config), with `lambda_architecture` set: Chalice takes the architecture from its config
    only, and the one in git stays the default. Chalice's cache of built dependencies
    (.chalice/deployments, one zip per requirements, runtime and architecture) is shared with
    the checkout's, so a second build downloads nothing."""
    project = folder / "project"
    shutil.copytree(
        ROOT / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("app.py", "requirements.txt", ".chalice/policy.json"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, project / name)
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    config["lambda_architecture"] = arch
    (project / ".chalice" / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    cache = ROOT / ".chalice" / "deployments"
    cache.mkdir(exist_ok=True)
    (project / ".chalice" / "deployments").symlink_to(cache, target_is_directory=True)
    return project


def add_bytecode(archive: Path) -> None:
    """Add __pycache__/*.cpython-313.pyc for every module in the zip.

    Chalice picks the Lambda runtime from the Python that runs it, so this interpreter's
    bytecode is the runtime's, on either architecture. Unchecked-hash pycs: Python loads them
    without comparing source timestamps, which a zip keeps only to two seconds.
    """
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder)
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(tree)
        compileall.compile_dir(
            tree, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
        )
        rebuilt = archive.with_suffix(".tmp")
        with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in sorted(tree.rglob("*")):
                if path.is_file():
                    zipped.write(path, path.relative_to(tree).as_posix())
        rebuilt.replace(archive)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--arch", choices=ARCHITECTURES, default="x86_64")
    args = parser.parse_args()
    template = package(args.stage, args.out or ROOT / "build" / args.stage, args.arch)
    print(f"{template} and {template.with_name('deployment.zip')} are ready (cfn-lint passed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
