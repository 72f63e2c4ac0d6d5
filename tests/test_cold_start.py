"""What a protected request's container loads. Every module costs each cold start its import,
which users wait for and the cost model bills (`make bench`), so the libraries only some routes
need load on those routes, and none of the SDK's extras load at all."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from devtools.stage import local_dev_environment
from tests.conftest import ORIGIN

ROOT = Path(__file__).resolve().parents[1]

NOT_ON_THE_PROTECTED_PATH = {
    "jwt": "PyJWT: signing access tokens and reading ID tokens only",
    "cryptography": "two-factor secrets, access tokens, passkeys and ID tokens only",
    "OpenSSL": "pyOpenSSL (py_webauthn's): botocore would import it, were it not kept out",
    "webauthn": "passkey routes only",
    "argon2": "routes that take a password only",
    "bcrypt": "sign-ins with an imported bcrypt hash only",
    "chalicelib.password_formats": "sign-ins with an imported hash, and imports, only",
    "jinja2": "pages only",
    "email_validator": "routes that take an address only",
    "pyotp": "two-factor routes only",
    "segno": "two-factor set-up only",
    "boto3": "botocore alone makes our clients",
    "s3transfer": "boto3's S3 helpers",
    "chalicelib.user_agents": "the settings page's device names only",
    "chalicelib.hooks": "sign-ups and access tokens only (the team's module, on first use)",
    "chalicelib.events.consumer": "the stream's consumer, a function of its own",
    "chalicelib.events.delivery": "the delivery function, a function of its own",
    "chalicelib.events.derive": "the stream's consumer",
    "chalicelib.webhooks": "the delivery function, and hooks' endpoints",
}


def run_in_a_fresh_process(script: str, tmp_path: Path) -> object:
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "TABLE_NAME": "none",
            **local_dev_environment(ORIGIN, tmp_path / "outbox", tmp_path / "totp-keys.json"),
        },
    )
    return json.loads(result.stdout)


def test_a_protected_request_loads_only_what_validating_a_session_needs(tmp_path):
    """The container is built (settings, store, its DynamoDB client) and answers; none of the
    libraries of other routes, nor boto3, nor pyOpenSSL, is imported."""
    script = (
        "import json, sys; import app; "
        "from bench.events import api_event; "
        "answer = app.app(api_event('GET', '/auth/session'), None); "
        f"print(json.dumps([answer['statusCode'], sorted(set({sorted(NOT_ON_THE_PROTECTED_PATH)!r})"
        " & set(sys.modules))]))"
    )
    assert run_in_a_fresh_process(script, tmp_path) == [401, []]


def test_our_clients_keep_the_standard_librarys_tls(tmp_path):
    """Keeping pyOpenSSL out changes no behaviour: botocore builds its TLS contexts from the
    standard library's SSLContext either way; and the passkey routes still find pyOpenSSL."""
    script = (
        "import json, ssl; from chalicelib import aws; import botocore.httpsession as h; "
        "client = aws.client('dynamodb', aws.BOUNDED); "
        "context = h.create_urllib3_context(); "
        "import OpenSSL.crypto, webauthn; "
        "print(json.dumps([h.SSLContext is ssl.SSLContext, type(context) is ssl.SSLContext, "
        "client.meta.endpoint_url]))"
    )
    assert run_in_a_fresh_process(script, tmp_path) == [
        True,
        True,
        "https://dynamodb.us-east-1.amazonaws.com",
    ]


def test_only_the_aws_module_imports_the_sdk():
    """pyOpenSSL is kept out by a line that must run before botocore's HTTP layer loads: that
    holds only while chalicelib/aws.py is the one module of ours importing botocore (or boto3,
    which would bring s3transfer back)."""
    importers = set()
    for path in [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] in {"boto3", "botocore"} for name in names):
                importers.add(path.relative_to(ROOT).as_posix())
    assert importers == {"chalicelib/aws.py"}
