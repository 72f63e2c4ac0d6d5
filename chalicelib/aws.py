"""Clients of AWS services (DynamoDB, SES, SSM), made by botocore alone.

Two imports that every cold start paid for nothing are kept out:

- boto3. Its clients are botocore's, yet `import boto3` also imports s3transfer (and with it
  multiprocessing), for S3 helpers we never use.
- pyOpenSSL. When it is installed (py_webauthn needs it, so it is in our package) botocore's
  HTTP layer imports `urllib3.contrib.pyopenssl` only to take back out of it the standard
  library's `SSLContext`, which it then uses; that import loads pyOpenSSL and cryptography.
  Marking the module absent sends botocore down its other branch, to the same `SSLContext`
  (`urllib3.util.ssl_.SSLContext`). This has to run before botocore's HTTP layer is first
  imported, so this is the one module of chalicelib that imports botocore (the others take its
  config and errors from here), and it does so below that line. Nothing else of ours or of our
  libraries imports `urllib3.contrib.pyopenssl` (py_webauthn imports `OpenSSL.crypto` directly).

Together they were about 45 ms of CPU and 12 MiB of each cold start (`make bench`, 2026-12-02:
551 to 507 ms; docs/performance.md). `tests/test_cold_start.py` keeps both out.
"""

from __future__ import annotations

import sys
from typing import Any

sys.modules.setdefault("urllib3.contrib.pyopenssl", None)  # type: ignore[arg-type]

import botocore.session  # noqa: E402 (after the line above, on purpose)
from botocore.config import Config  # noqa: E402
from botocore.exceptions import BotoCoreError, ClientError  # noqa: E402

__all__ = ["BOUNDED", "BotoCoreError", "ClientError", "Config", "client"]

# For SES and SSM, called while a request waits: like the table's client (store.table), bounded,
# so a slow service cannot hold a request past its limit (botocore's default waits 60 s).
BOUNDED = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=3,
)


def client(service: str, config: Config) -> Any:
    """A client of `service`, resolving credentials, region and endpoint
    (`AWS_ENDPOINT_URL_<SERVICE>` included) as boto3 would. Each from a botocore session of its
    own: a container makes one client per service it uses, so little is repeated, and no
    session is shared between threads (`chalice local` serves on several). Made on first use,
    never at import (a SnapStart snapshot must hold no client)."""
    return botocore.session.get_session().create_client(service, config=config)
