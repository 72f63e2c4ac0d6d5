"""`make dev`: DynamoDB Local (persistent), the table, and `chalice local --stage local`.

Honours PORT (default 8000) for the API, DYNAMODB_DATA_DIR (default .dynamodb/) for the data,
and AWS_ENDPOINT_URL_DYNAMODB: when that is set, its DynamoDB is used and none is started.
Ctrl-C stops everything this started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3

from chalicelib.store import CLIENT_CONFIG, create_table
from devtools.dynamodb_local import ROOT, DynamoDBLocal, MotoServer, java_available, local_aws_env
from devtools.stage import stage_environment


def main() -> int:
    port = os.environ.get("PORT", "8000")
    data_dir = Path(os.environ.get("DYNAMODB_DATA_DIR", ROOT / ".dynamodb"))
    env = {**os.environ, **local_aws_env(), **stage_environment("local")}
    database: DynamoDBLocal | MotoServer | None = None
    if "AWS_ENDPOINT_URL_DYNAMODB" not in os.environ:
        if java_available():
            database = DynamoDBLocal(data_dir=data_dir).start()
            print(f"DynamoDB Local on {database.endpoint}, data in {data_dir}", flush=True)
        else:
            print(
                "WARNING: `java` not found; using moto's in-memory DynamoDB instead."
                " Nothing will persist when this stops.",
                file=sys.stderr,
                flush=True,
            )
            database = MotoServer().start()
        env["AWS_ENDPOINT_URL_DYNAMODB"] = database.endpoint
    try:
        client = boto3.client(
            "dynamodb",
            endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"],
            region_name=env["AWS_DEFAULT_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            config=CLIENT_CONFIG,
        )
        table = env["TABLE_NAME"]
        created = create_table(client, table)
        print(f"Table {table} {'created' if created else 'already exists'}", flush=True)
        chalice = Path(sys.executable).with_name("chalice")
        # No autoreload: Chalice's reloader polls every file under the project each second,
        # .venv and the DynamoDB data folder included, and restarts on every database write.
        command = [
            str(chalice), "local", "--stage", "local", "--no-autoreload",
            "--host", "127.0.0.1", "--port", port,
        ]  # fmt: skip
        server = subprocess.Popen(command, cwd=ROOT, env=env)
        try:
            return server.wait()
        except KeyboardInterrupt:
            server.terminate()
            server.wait(timeout=10)
            return 0
    finally:
        if database is not None:
            database.stop()
            print("DynamoDB stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
