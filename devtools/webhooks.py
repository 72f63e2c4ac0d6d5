"""A webhook receiver for the `local` stage, and new signing secrets; never deployed.

    python -m devtools.webhooks listen [--port 9000] [--secrets .secrets/webhook-secrets.json]
    python -m devtools.webhooks secret     # a new whsec_ secret, for a deployed stage's document

`listen` answers on http://127.0.0.1:<port>/ (point WEBHOOKS' url at
http://localhost:<port>/ on the local stage) and checks every delivery as a real receiver
would: the signature against each secret in the file the local stage signs with (made on
first use by whichever of the two starts first), by the Standard Webhooks project's own
verifier when `standardwebhooks` is installed and by ours otherwise. One line per delivery:

    ✓ <webhook-id> <type> user=<user id> seq=<sequence number>
    ✗ <reason>                     (answered 401: the signature does not hold)

A webhook-id seen before is a retry of a delivery that was received: it is answered 204 again,
and its line says `(duplicate)`, which is what a receiver that drops duplicates would do.
"""

from __future__ import annotations

import argparse
import hmac
import json
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, TextIO

from chalicelib.keyring import local_secret_file
from chalicelib.webhooks.signing import (
    WebhookSecret,
    new_secret,
    new_secrets_json,
    parse_secrets,
    sign,
)
from devtools.dynamodb_local import ROOT

SECRETS_FILE = ROOT / ".secrets" / "webhook-secrets.json"
TOLERANCE_SECONDS = 5 * 60  # the Standard Webhooks libraries' own
MAX_BODY_BYTES = 1024 * 1024


def verify(secrets: Sequence[WebhookSecret], body: bytes, headers: Mapping[str, str]) -> str | None:
    """None if one of `secrets` signed this delivery, else why not."""
    headers = {name.lower(): value for name, value in headers.items()}
    try:
        from standardwebhooks import Webhook, WebhookVerificationError
    except ImportError:
        return _verify_ourselves(secrets, body, headers)
    reason = "no secret"
    for secret in secrets:
        try:
            Webhook(secret.key).verify(body, headers)
        except WebhookVerificationError as error:
            reason = str(error)
        except ValueError:  # it parses the body once the signature holds (json_parse is 1.3+)
            return None  # signed, but not JSON: the handler says so
        else:
            return None
    return reason


def _verify_ourselves(
    secrets: Sequence[WebhookSecret], body: bytes, headers: Mapping[str, str]
) -> str | None:
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    presented = headers.get("webhook-signature", "").split(" ")
    if not (msg_id and stamp and presented[0]):
        return "Missing required headers"
    if not stamp.isdigit():
        return "Invalid Signature Headers"
    if abs(time.time() - int(stamp)) > TOLERANCE_SECONDS:
        return "Message timestamp too old or too new"
    for secret in secrets:
        expected = sign([secret], msg_id, int(stamp), body).encode()
        if any(hmac.compare_digest(expected, given.encode()) for given in presented):
            return None
    return "No matching signature found"


def describe(payload: Any) -> str:
    """`<type> user=<id> seq=<n>` from an event, wherever it keeps them (top level or data)."""
    event = payload if isinstance(payload, dict) else {}
    data = event.get("data") if isinstance(event.get("data"), dict) else {}

    def field(name: str) -> Any:
        return event.get(name, data.get(name, "-"))

    return f"{field('type')} user={field('user_id')} seq={field('seq')}"


def listen(
    port: int,
    stop: threading.Event,
    *,
    secrets: Sequence[WebhookSecret],
    out: TextIO = sys.stdout,
) -> None:
    """Receive deliveries on 127.0.0.1:`port` until `stop` is set, a line each on `out`."""
    seen: set[str] = set()

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                say(f"✗ a body of {length} bytes")
                return self._answer(413)
            body = self.rfile.read(length)
            reason = verify(secrets, body, dict(self.headers.items()))
            if reason is not None:
                say(f"✗ {reason}")
                return self._answer(401)
            msg_id = self.headers["webhook-id"]
            try:
                payload = json.loads(body)
            except ValueError:
                say(f"✗ {msg_id}: signed, but the body is not JSON")
                return self._answer(400)
            duplicate = " (duplicate)" if msg_id in seen else ""
            seen.add(msg_id)
            say(f"✓ {msg_id} {describe(payload)}{duplicate}")
            return self._answer(204)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass  # one line per delivery is ours to print

    server = HTTPServer(("127.0.0.1", port), Handler)
    server.timeout = 0.2  # how often `stop` is looked at
    say(f"listening on http://127.0.0.1:{server.server_address[1]}/")
    try:
        while not stop.is_set():
            server.handle_request()
    finally:
        server.server_close()


def load(path: Path) -> tuple[WebhookSecret, ...]:
    """The local stage's secrets, the file made now if the stage has not made it yet."""
    return parse_secrets(local_secret_file(path, new_secrets_json))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.webhooks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    listening = commands.add_parser("listen", help="receive and verify deliveries")
    listening.add_argument("--port", type=int, default=9000)
    listening.add_argument("--secrets", type=Path, default=SECRETS_FILE)
    commands.add_parser("secret", help="print a new whsec_ secret")
    arguments = parser.parse_args(argv)
    if arguments.command == "secret":
        print(new_secret())
        return 0
    with suppress(KeyboardInterrupt):  # Ctrl-C is how it stops
        listen(arguments.port, threading.Event(), secrets=load(arguments.secrets))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
