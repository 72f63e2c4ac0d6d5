"""`make dev`: DynamoDB Local (persistent), the table, a local OpenID Provider, `chalice local
--stage local`, and the event pipeline: the table's stream read through the consumer's handler
and the delivery queue (moto's SQS) through the delivery's (devtools.event_workers), printing
one line per event and per delivery.

Honours PORT (default 8000) for the API, DYNAMODB_DATA_DIR (default .dynamodb/) for the data,
AWS_ENDPOINT_URL_DYNAMODB (when set, its DynamoDB is used and none is started) and
OAUTH_PROVIDERS (when set, those providers are used and no local one is started; otherwise
the provider `local`, "Local test provider": panva's oidc-provider, whose login form takes any
email) and CORS_ORIGINS (default: the example single-page app's http://localhost:5173).
Ctrl-C, SIGTERM (an IDE's stop button) and SIGHUP stop everything this started: the server
first, then the provider and DynamoDB Local, so its data is flushed. If any of them dies on its
own, this says which, stops the others and exits non-zero.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from chalicelib.store import create_table
from devtools.dynamodb_local import (
    ROOT,
    DynamoDBLocal,
    MotoServer,
    die_with_parent,
    java_available,
    local_aws_env,
    local_client,
    stop_process,
)
from devtools.oidc_local import PROVIDER_ID, LocalOpenIDProvider
from devtools.stage import ENDPOINT_FILE, local_dev_environment, stage_environment

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
EXAMPLE_SPA_ORIGIN = "http://localhost:5173"  # examples/spa, served as its README says
SERVER = "the chalice local server"
WORKERS = "the event workers"


def event_queues(endpoint: str) -> dict[str, str]:
    """The delivery queue and its dead letters on a local SQS (moto's) at `endpoint`, made now;
    the settings that name them."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=endpoint, **_credentials())
    fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "false", "VisibilityTimeout": "30"}
    made = {
        name: sqs.create_queue(QueueName=f"{name}.fifo", Attributes=fifo)["QueueUrl"]
        for name in ("webhook-deliveries", "webhook-dead-letters")
    }
    return {
        "AWS_ENDPOINT_URL_SQS": endpoint,
        "WEBHOOK_QUEUE_URL": made["webhook-deliveries"],
        "WEBHOOK_DEAD_LETTER_QUEUE_URL": made["webhook-dead-letters"],
    }


def _credentials() -> dict[str, str]:
    env = local_aws_env()
    return {
        "region_name": env["AWS_DEFAULT_REGION"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }


def _handle_stop_signals(
    handler: Callable[[int, FrameType | None], object] | signal.Handlers,
) -> None:
    # A signal ignored from the start stays ignored: `nohup make dev` must survive a hangup.
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, handler)


def _describe(code: int) -> str:
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:  # a real-time signal has no name
        return f"killed by signal {-code}"


def _supervise(children: dict[str, Callable[[], int | None]]) -> int:
    """Return 1 as soon as a child exits on its own; a stop signal interrupts the wait instead."""
    while True:
        for name, poll in children.items():
            if (code := poll()) is not None:
                rest = " and ".join(other for other in children if other != name)
                print(
                    f"make dev: {name} exited unexpectedly ({_describe(code)})"
                    + (f"; stopping {rest}" if rest else ""),
                    file=sys.stderr,
                    flush=True,
                )
                return 1
        time.sleep(0.2)


def main() -> int:
    # SIGTERM and SIGHUP take Ctrl-C's path (KeyboardInterrupt), so every way of stopping this
    # goes through the `finally` below.
    _handle_stop_signals(signal.default_int_handler)
    port = os.environ.get("PORT", "8000")
    data_dir = Path(os.environ.get("DYNAMODB_DATA_DIR", ROOT / ".dynamodb"))
    outbox = Path(os.environ.get("MAIL_OUTBOX_DIR", ROOT / ".outbox"))
    keys = Path(os.environ.get("TOTP_KEYS_FILE", ROOT / ".secrets" / "totp-keys.json"))
    token_keys = Path(
        os.environ.get("ACCESS_TOKEN_KEYS_FILE", ROOT / ".secrets" / "access-token-keys.json")
    )
    # localhost, not 127.0.0.1: browsers refuse WebAuthn on an IP address.
    origin = os.environ.get("PUBLIC_ORIGIN", f"http://localhost:{port}")
    env = {
        **os.environ,
        **local_aws_env(),
        **stage_environment("local"),
        **local_dev_environment(origin, outbox, keys, token_keys),
    }
    env.setdefault("CORS_ORIGINS", EXAMPLE_SPA_ORIGIN)
    database: DynamoDBLocal | MotoServer | None = None
    provider: LocalOpenIDProvider | None = None
    server: subprocess.Popen[bytes] | None = None
    workers: subprocess.Popen[bytes] | None = None
    queues: MotoServer | None = None
    try:
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
            # For `python -m devtools.admin ... --stage local`, which finds it here.
            ENDPOINT_FILE.parent.mkdir(parents=True, exist_ok=True)
            ENDPOINT_FILE.write_text(database.endpoint + "\n", encoding="utf-8")
        client = local_client(env["AWS_ENDPOINT_URL_DYNAMODB"])
        table = env["TABLE_NAME"]
        created = create_table(client, table)
        print(f"Table {table} {'created' if created else 'already exists'}", flush=True)
        # SQS, for the events' delivery queue; its server's log of every poll is noise here.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        queues = MotoServer().start()
        env.update(event_queues(queues.endpoint))
        print(
            f"Events: the table's stream and a delivery queue (moto's SQS on {queues.endpoint});"
            " one line per event and per delivery below. Webhooks: set WEBHOOKS, and try"
            " `python -m devtools.webhooks listen`.",
            flush=True,
        )
        if "OAUTH_PROVIDERS" in os.environ:
            pass  # the shell's providers, as they are
        elif shutil.which("node") is None:
            print(
                "WARNING: `node` not found; starting no local OpenID Provider (social sign-in"
                " is off: set OAUTH_PROVIDERS to use a provider of your own).",
                file=sys.stderr,
                flush=True,
            )
        else:
            callback = f"{origin}/auth/oauth/{PROVIDER_ID}/callback"
            provider = LocalOpenIDProvider([callback]).start()
            env.update(provider.settings_environment())
            print(
                f'Local OpenID Provider on {provider.issuer} ("Continue with Local test'
                ' provider": any email signs in; one with "+unverified" is unverified)',
                flush=True,
            )
        # Chalice's own CLI, its access log without query strings (devtools.chalice_local). No
        # autoreload: Chalice's reloader polls every file under the project each second, .venv
        # and the DynamoDB data folder included, and restarts on every database write.
        command = [
            sys.executable, "-m", "devtools.chalice_local", "local", "--stage", "local",
            "--no-autoreload", "--host", "localhost", "--port", port,
        ]  # fmt: skip
        # Its own session, like DynamoDB Local's: only this process gets a terminal's Ctrl-C,
        # and stops the server before the database it uses.
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, start_new_session=True, preexec_fn=die_with_parent()
        )
        print(
            f"Open {origin} in a browser. Mail is not sent: each message is written to"
            f" {outbox}/ and summed up here (python -m devtools.outbox shows the latest).",
            flush=True,
        )
        workers = subprocess.Popen(
            [sys.executable, "-m", "devtools.event_workers"],
            cwd=ROOT,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        children: dict[str, Callable[[], int | None]] = {
            SERVER: server.poll,
            WORKERS: workers.poll,
        }
        if isinstance(database, DynamoDBLocal):  # moto runs in a thread of this process
            children["DynamoDB Local"] = database.poll
        if provider is not None:
            children["the local OpenID Provider"] = provider.poll
        return _supervise(children)
    except KeyboardInterrupt:
        return 0
    finally:
        # Each step below is bounded by a timeout; a second Ctrl-C or SIGTERM must not cut it
        # short and leave a child running.
        _handle_stop_signals(signal.SIG_IGN)
        if server is not None:
            stop_process(server)
        if workers is not None:
            stop_process(workers)
        if queues is not None:
            queues.stop()
        if provider is not None:
            provider.stop()
        if database is not None:
            database.stop()
            print("DynamoDB stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
