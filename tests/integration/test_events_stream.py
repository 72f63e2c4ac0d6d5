"""Events on DynamoDB Local: its real stream, read as Lambda reads it and handed to the
consumer's own handler; the delivery queue on moto's SQS server, read through the delivery's
own handler, to a real receiver whose signatures the Standard Webhooks verifier checks.
Under load, every sign-in is one event delivered once; under faults, a sign-up that failed has
no event and a consumer that crashed mid-batch loses none."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
import requests
from chalice.test import Client
from standardwebhooks import Webhook

from chalicelib import runtime
from chalicelib.events import EVENT_TYPES
from devtools.dev import event_queues
from devtools.dynamodb_local import ROOT, MotoServer
from devtools.faults import FaultInjector
from devtools.queues import QueueReader
from devtools.streams import StreamReader
from tests import helpers
from tests.helpers import PASSWORD

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local: make test

ANN = "ann@example.com"


@pytest.fixture(scope="module")
def sqs_server():
    with_server = MotoServer().start()
    yield with_server
    with_server.stop()


@pytest.fixture
def pipeline(live_server, configure, sqs_server, receiver, monkeypatch):
    """The live server's stage with one webhook for every event type and its queues on moto's
    SQS server; the stream and the queue read through the functions' own handlers."""
    queues = event_queues(sqs_server.endpoint)
    for name, value in queues.items():
        monkeypatch.setenv(name, value)
    configure(WEBHOOKS=json.dumps([{"url": receiver.url, "events": list(EVENT_TYPES)}]))
    services = runtime.get()
    stream = StreamReader(live_server.table, dynamodb=live_server.client)
    sqs = boto3.client("sqs", endpoint_url=sqs_server.endpoint)
    return services, stream, QueueReader(sqs, queues["WEBHOOK_QUEUE_URL"])


def events_of(live_server, user_id=None):
    found = [
        (item["event_user_id"]["S"], int(item["event_seq"]["N"]), item["event_type"]["S"])
        for item in live_server.items("EVENT#")
    ]
    return sorted(e for e in found if user_id is None or e[0] == user_id)


def drain(stream, queue):
    while stream.poll() or queue.poll():
        pass


def test_a_sign_up_over_http_is_read_from_the_real_stream_and_delivered_signed(
    live_server, pipeline, receiver
):
    services, stream, queue = pipeline
    browser = helpers.Browser()
    response = browser.post(
        f"{live_server.url}/auth/signup", json={"email": ANN, "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    user_id = response.json()["user"]["id"]
    drain(stream, queue)
    assert events_of(live_server) == [
        (user_id, 1, "user.created"),
        (user_id, 2, "session.created"),
    ]
    assert [(e["type"], e["seq"]) for e in receiver.accepted()] == [
        ("user.created", 1),
        ("session.created", 2),
    ]
    secrets_file = Path(services.settings.webhook_secrets_file)
    (secret,) = json.loads(secrets_file.read_text())["secrets"]
    for _, headers, body in receiver.requests:
        Webhook(secret).verify(body, headers)
    # The user's own log, over HTTP.
    log = browser.get(f"{live_server.url}/auth/events").json()["events"]
    assert [e["type"] for e in log] == ["session.created", "user.created"]


def test_a_hundred_parallel_sign_ins_are_a_hundred_events_each_delivered_once(
    live_server, pipeline, receiver
):
    _, stream, queue = pipeline
    created = requests.post(
        f"{live_server.url}/auth/signup", json={"email": ANN, "password": PASSWORD}, timeout=30
    )
    user_id = created.json()["user"]["id"]

    def sign_in(_):
        return requests.post(
            f"{live_server.url}/auth/login", json={"email": ANN, "password": PASSWORD}, timeout=60
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(sign_in, range(100))) == {200}
    drain(stream, queue)
    events = events_of(live_server, user_id)
    assert [seq for _, seq, _ in events] == list(range(1, 103))  # no gap, no repeat
    assert sum(1 for *_, kind in events if kind == "session.created") == 101
    delivered = [e for e in receiver.accepted() if e["type"] == "session.created"]
    assert len(delivered) == 101
    assert len({e["id"] for e in delivered}) == 101
    assert [e["seq"] for e in receiver.accepted()] == list(range(1, 103))  # in the user's order


def test_a_sign_up_the_store_fails_writes_no_event(live_server, pipeline):
    _, stream, queue = pipeline
    faults = FaultInjector(live_server.client)
    try:
        from app import app

        with Client(app) as client:
            faults.inject("internal", "TransactWriteItems")
            response = helpers.call(
                client, "POST", "/auth/signup", {"email": ANN, "password": PASSWORD}
            )
            assert response.status_code == 503
    finally:
        faults.clear()
    drain(stream, queue)
    assert live_server.items("USER#") == []
    assert events_of(live_server) == []


def test_a_consumer_that_crashes_mid_batch_loses_nothing(live_server, pipeline, receiver):
    _, _, queue = pipeline
    from chalicelib.store.events import EventItems

    real = EventItems.record
    crashes = {"left": 1, "calls": 0}

    def crash_once_on_the_third(self, event, expires_at, with_it=()):
        crashes["calls"] += 1
        if crashes["calls"] == 3 and crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("the container died")
        return real(self, event, expires_at, with_it)

    EventItems.record = crash_once_on_the_third
    try:
        stream = StreamReader(live_server.table, dynamodb=live_server.client)
        for email in (ANN, "bob@example.com"):  # two browsers
            answer = helpers.Browser().post(
                f"{live_server.url}/auth/signup", json={"email": email, "password": PASSWORD}
            )
            assert answer.status_code == 201
        stream.poll()  # the batch fails at its third event; Lambda would retry from there
        assert crashes["left"] == 0
        drain(stream, queue)
    finally:
        EventItems.record = real
    events = events_of(live_server)
    assert sorted(kind for *_, kind in events) == sorted(["user.created", "session.created"] * 2)
    for user in {user for user, *_ in events}:
        assert [seq for u, seq, _ in events if u == user] == [1, 2]
    assert len(receiver.accepted()) == 4
    assert len({e["id"] for e in receiver.accepted()}) == 4


def test_nodes_reference_verifier_accepts_our_deliveries(tmp_path):
    """What a receiver in Node does (docs/events.md): the npm `standardwebhooks` package,
    verifying a delivery signed during a rotation, and refusing a tampered one."""
    import subprocess

    from chalicelib.webhooks.signing import WebhookSecret, headers, new_secret

    new, old = new_secret(), new_secret()
    body = json.dumps({"id": "01KBX5S4G0F7Q4Z1W6J3N8R2TA", "type": "user.created"}).encode()
    import time

    signed = headers(
        [WebhookSecret.parse(new), WebhookSecret.parse(old)], "01KBX5S4G0F7Q4Z1W6J3N8R2TA",
        int(time.time()), body,
    )  # fmt: skip
    script = tmp_path / "verify.cjs"
    script.write_text(
        'const { Webhook } = require("standardwebhooks");\n'
        "const [secret, body, headers] = JSON.parse(process.argv[2]);\n"
        "for (const [text, expect] of [[body, 'ok'], [body + ' ', 'refused']]) {\n"
        "  try { new Webhook(secret).verify(text, headers); console.log('ok'); }\n"
        "  catch (error) { console.log('refused'); }\n"
        "}\n"
    )
    results = []
    for secret in (new, old):
        argument = json.dumps([secret, body.decode(), signed])
        done = subprocess.run(
            ["node", str(script), argument],
            capture_output=True, text=True, check=True, timeout=30,
            env={**os.environ, "NODE_PATH": str(ROOT / "node_modules")},
        )  # fmt: skip
        results.append(done.stdout.split())
    assert results == [["ok", "refused"], ["ok", "refused"]]


def test_consumers_racing_on_one_users_events_take_every_number_once(live_server):
    """Two shards' consumers numbering one user's events at once (a session's record and the
    account's, in two shards), and the same record handled twice at once (a retried batch
    overlapping its first try): no number taken twice, none skipped, no event stored twice."""
    from chalicelib.events.derive import event_id
    from chalicelib.store.events import EventRecord

    events = runtime.get().store.events
    drafts = [
        EventRecord(event_id(1_800_000_000_000 + n, f"race-{n}"), "session.created",
                    1_800_000_000_000 + n, "racer", 0, {"n": n})
        for n in range(24)
    ]  # fmt: skip
    work = [*drafts, *drafts]  # each event twice, the copies in flight at the same time

    with ThreadPoolExecutor(max_workers=8) as pool:
        stored = list(pool.map(lambda draft: events.record(draft, 1_900_000_000), work))
    by_id: dict[str, set[int]] = {}
    for event in stored:
        by_id.setdefault(event.id, set()).add(event.seq)
    assert all(len(seqs) == 1 for seqs in by_id.values())  # both copies got the same number
    assert sorted(seq for (seq,) in by_id.values()) == list(range(1, 25))
    assert [e.seq for e in events.of_user("racer", limit=100)] == list(range(24, 0, -1))


def test_six_parallel_first_sign_ins_upgrade_an_imported_hash_once(
    live_server, pipeline, monkeypatch, capsys, tmp_path
):
    """A user imported with bcrypt signs in from six tabs at once: every tab signs in, the hash
    becomes our Argon2id once (one write of it, one event), and the format's count goes down
    once."""
    import bcrypt

    from devtools import users

    _, stream, queue = pipeline
    record = {
        "email": ANN,
        "email_verified": True,
        "source_id": "auth0|6",
        "password": {
            "format": "bcrypt",
            "hash": bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode(),
        },
    }
    incoming = tmp_path / "users.jsonl"
    incoming.write_text(json.dumps(record) + "\n", encoding="utf-8")
    monkeypatch.setenv("TABLE_NAME", live_server.table)
    assert users.main(["import", str(incoming), "--stage", "local"]) == 0, capsys.readouterr()
    drain(stream, queue)
    (formats,) = live_server.items("HASHFORMATS")
    assert formats["n_bcrypt"] == {"N": "1"}

    def sign_in(_):
        return requests.post(
            f"{live_server.url}/auth/login", json={"email": ANN, "password": PASSWORD}, timeout=60
        ).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(sign_in, range(6))) == [200] * 6
    (claim,) = live_server.items(f"EMAIL#{ANN}")
    assert claim["password_hash"]["S"].startswith("$argon2id$")
    drain(stream, queue)
    kinds = [kind for *_, kind in events_of(live_server, claim["user_id"]["S"])]
    assert kinds.count("session.created") == 6
    assert kinds.count("user.password_upgraded") == 1
    assert "user.password_changed" not in kinds
    (formats,) = live_server.items("HASHFORMATS")
    assert formats["n_bcrypt"] == {"N": "0"}
