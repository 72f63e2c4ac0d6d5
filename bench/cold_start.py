"""One cold start, run in a fresh process by the benchmark.

    python -m bench.cold_start app        # import the app, serve one authenticated request
    python -m bench.cold_start baseline   # import chalice and boto3, one GetItem
                                          # (as without pyOpenSSL installed)

Reads BENCH_TABLE, BENCH_TOKEN and BENCH_DIGEST_KEY from the environment (DynamoDB's endpoint
comes from AWS_ENDPOINT_URL_DYNAMODB as usual) and prints its peak RSS in KiB as JSON. The
peak comes from /proc (VmHWM): getrusage's ru_maxrss survives exec, so a child would report
the benchmark's own, larger peak.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path


def app() -> None:
    from app import app as chalice_app
    from bench.events import api_event

    cookie = f"auth_session={os.environ['BENCH_TOKEN']}"
    response = chalice_app(api_event("GET", "/auth/session", {"cookie": cookie}), None)
    if response["statusCode"] != 200:
        raise SystemExit(f"the app answered {response['statusCode']}: {response['body']}")


def baseline() -> None:
    # What a Chalice sample on DynamoDB loads, in a venv without pyOpenSSL: that is here only
    # because py_webauthn needs it, and botocore would import it (and cryptography) if found.
    sys.modules["urllib3.contrib.pyopenssl"] = None  # type: ignore[assignment]
    import boto3
    import chalice  # noqa: F401 (the framework is part of the baseline)

    client = boto3.client("dynamodb")
    item = client.get_item(
        TableName=os.environ["BENCH_TABLE"],
        Key={"pk": {"S": os.environ["BENCH_DIGEST_KEY"]}},
        ConsistentRead=True,
    )
    if "Item" not in item:
        raise SystemExit("the session item is missing")


if __name__ == "__main__":
    {"app": app, "baseline": baseline}[sys.argv[1]]()
    status = Path("/proc/self/status").read_text()
    peak_kib = int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE).group(1))
    print(json.dumps({"max_rss_kib": peak_kib}))
