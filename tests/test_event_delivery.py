"""Webhook delivery on moto (the table, its stream, SQS FIFO) to a real HTTP receiver on this
machine, every signature checked by the Standard Webhooks project's own verifier: a receiver
that is down for an hour gets everything once it is back, each user's events in order, with the
same webhook-id on every try; a delivery that keeps failing is given up after WEBHOOK_GIVE_UP
into the dead-letter queue, never dropped."""

from __future__ import annotations

import json
from dataclasses import replace

import boto3
import pytest
from standardwebhooks import Webhook

from chalicelib import runtime
from chalicelib.clock import isoformat
from chalicelib.events import delivery
from chalicelib.webhooks.signing import new_secrets_json
from devtools.queues import QueueReader
from tests.conftest import table_items
from tests.helpers import BOB, MotoStream, assert_error, call, log_in, sign_up
from tests.test_admin import admin_session, reauthenticate, user_id_of


@pytest.fixture
def pipeline(services, receiver, tmp_path, clock, settings):
    """The stage with one webhook (every event type) and its queues; returns what the test
    drives: the services, the stream, the queue's reader, and the waits the delivery asked."""
    sqs = boto3.client("sqs")
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "false"}
    queue = sqs.create_queue(QueueName="deliveries.fifo", Attributes=attributes)["QueueUrl"]
    dead = sqs.create_queue(QueueName="dead.fifo", Attributes=attributes)["QueueUrl"]
    secrets = tmp_path / "webhook-secrets.json"
    secrets.write_text(new_secrets_json())
    from chalicelib.events import EVENT_TYPES

    built = replace(
        services,
        settings=replace(
            services.settings,
            webhooks_json=json.dumps([{"url": receiver.url, "events": list(EVENT_TYPES)}]),
            webhook_secrets_file=str(secrets),
            webhook_queue_url=queue,
            webhook_dead_letter_queue_url=dead,
        ),
        queue_client=sqs,
    )
    runtime.use(built)
    waits: list[int] = []

    def wait_in_no_time(services, record, seconds):
        # moto's SQS keeps real time; the schedule is the fake clock's: ask, then wake now.
        waits.append(seconds)
        sqs.change_message_visibility(
            QueueUrl=queue, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
        )

    original = delivery._wait
    delivery._wait = wait_in_no_time
    reader = QueueReader(
        sqs, queue, lambda event, _: delivery.deliver_batch(built, event["Records"])
    )
    yield built, MotoStream(settings.table_name, clock), reader, waits, secrets, dead
    delivery._wait = original


def drain(reader, receiver) -> None:
    """Poll until what is due has been done: a poll that tries and finishes nothing ends it
    (the fake clock, not SQS's, says when a retry is due)."""
    for _ in range(100):
        tried, done = len(receiver.requests), reader.done
        if not reader.poll() or (len(receiver.requests), reader.done) == (tried, done):
            return
    raise AssertionError("the queue never settled")


def verified(receiver, secrets_file) -> None:
    """Every request the receiver got verifies with the reference verifier, under each secret."""
    (secret,) = json.loads(secrets_file.read_text())["secrets"]
    for _, headers, body in receiver.requests:
        Webhook(secret).verify(body, headers)


def test_a_receiver_down_for_an_hour_gets_everything_in_order_with_stable_ids(
    client, pipeline, receiver, clock
):
    services, stream, reader, waits, secrets, _ = pipeline
    ann = user_id_of(client, sign_up(client))
    bob = user_id_of(client, sign_up(client, BOB))
    log_in(client)
    stream.consume(services)
    receiver.status = 503
    for _ in range(6):  # an hour of tries, each when due
        drain(reader, receiver)
        clock.advance(minutes=10)
    assert receiver.requests
    assert not receiver.accepted()
    receiver.status = 204
    stored = {
        e.id: e.seq for user in (ann, bob) for e in services.store.events.of_user(user, limit=100)
    }
    back_for = 0
    while len(receiver.accepted()) < len(stored):  # each user's retry, when it comes due
        assert back_for < 3 * 60, "not delivered within 3 hours of coming back"
        clock.advance(minutes=10)
        back_for += 10
        drain(reader, receiver)
    accepted = receiver.accepted()
    for user in (ann, bob):
        mine = [e for e in accepted if e["user_id"] == user]
        assert [e["seq"] for e in mine] == list(range(1, len(mine) + 1))
    assert {e["id"]: e["seq"] for e in accepted} == stored  # each event once, none missing
    # Every try of an event carried its id as webhook-id; each try its own timestamp header.
    for _, headers, body in receiver.requests:
        assert headers["webhook-id"] == json.loads(body)["id"]
    verified(receiver, secrets)
    # The waits grew with each failed try: half a minute, five minutes, half an hour.
    assert sorted(set(waits))[:3] == [0, 30, 300]
    assert 1800 in waits


def test_a_delivery_failing_past_the_give_up_is_set_aside_and_its_endpoint_marked(
    client, pipeline, receiver, clock, services
):
    built, stream, reader, waits, _, dead = pipeline
    sign_up(client, verified=False)
    stream.consume(built)
    receiver.status = 500
    for _ in range(12):
        drain(reader, receiver)
        clock.advance(hours=8)
    assert not receiver.accepted()
    sqs = built.queue
    assert (
        sqs.get_queue_attributes(QueueUrl=built.settings.webhook_queue_url, AttributeNames=["All"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
        == "0"
    )
    set_aside = sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["event"]["type"] for m in set_aside) == [
        "session.created",
        "user.created",
    ]
    (marked,) = [
        i for i in table_items(built.client, built.settings.table_name)
        if i["pk"]["S"].startswith("WEBHOOK#")
    ]  # fmt: skip
    assert marked["target"]["S"] == f"webhook:{receiver.url}"
    assert marked["last_error"]["S"] == "HTTP 500"
    assert int(marked["failing_since"]["N"]) > 0
    # Waits grew up to a day; a wait past 12 hours is taken in two (SQS's longest).
    assert max(waits) == 12 * 3600


def test_the_waits_grow_to_a_day():
    waits = [delivery.wait_after(tries) for tries in range(1, 10)]
    assert waits[:3] == [30, 300, 1800]
    assert waits == sorted(waits)
    assert max(waits) == waits[-1] == 24 * 3600


def test_reactions_run_once_each_and_a_failing_one_is_retried_alone(
    client, pipeline, receiver, clock, settings
):
    import tests.hooks_reactions as team

    built, stream, reader, _, _, _ = pipeline
    built = replace(built, settings=replace(built.settings, hooks_module="tests.hooks_reactions"))
    runtime.use(built)
    team.table, team.tries = settings.table_name, {}
    reader.handler = lambda event, _: delivery.deliver_batch(built, event["Records"])
    user_id = user_id_of(client, sign_up(client, verified=False))
    stream.consume(built)
    drain(reader, receiver)
    # The webhook got everything at once: the flaky reaction held up only itself.
    assert [e["type"] for e in receiver.accepted()] == ["user.created", "session.created"]
    (session_event,) = [e for e in receiver.accepted() if e["type"] == "session.created"]
    assert team.tries == {session_event["id"]: 1}
    clock.advance(minutes=1)
    drain(reader, receiver)
    assert team.tries == {session_event["id"]: 2}  # retried, and done
    # Delivered twice (a replayed copy), the customer is still made once.
    (created,) = [e for e in receiver.accepted() if e["type"] == "user.created"]
    team.create_customer(created)
    items = table_items(built.client, settings.table_name)
    assert [i["pk"]["S"] for i in items if i["pk"]["S"].startswith("CUSTOMER#")] == [
        f"CUSTOMER#{user_id}"
    ]
    assert len([i for i in items if i["pk"]["S"].startswith("HANDLED#")]) == 1


def test_an_admin_replays_what_a_webhook_was_sent_with_the_same_ids(
    client, pipeline, receiver, clock
):
    built, stream, reader, _, _, _ = pipeline
    admin = admin_session(client, clock, built)
    sign_up(client, BOB)
    stream.consume(built)
    drain(reader, receiver)
    first = [(e["id"], e["seq"]) for e in receiver.accepted()]
    since = isoformat(clock.now() - 3600)
    reauthenticate(client, admin)
    body = {"since": since, "url": receiver.url}
    replayed = call(client, "POST", "/admin/events/replay", body, admin)
    assert replayed.status_code == 202, replayed.body
    assert replayed.json_body["replay"]["url"] == receiver.url
    stream.consume(built)
    drain(reader, receiver)
    again = [(e["id"], e["seq"]) for e in receiver.accepted()][len(first) :]
    # Everything sent before is sent again, ids unchanged (receivers de-duplicate by them);
    # the admin's own activity since then too.
    assert set(first) <= set(again)
    assert len(again) == len(set(again))


def test_a_replay_goes_only_to_a_webhook_of_the_stage_and_only_for_its_holders(
    client, pipeline, receiver, clock
):
    built, *_ = pipeline
    admin = admin_session(client, clock, built)
    bob = sign_up(client, BOB)
    reauthenticate(client, admin)
    now = isoformat(clock.now())
    for body in (
        {"since": now, "url": "https://attacker.example/collect"},
        {"since": "yesterday", "url": receiver.url},
        {"since": "2020-01-01T00:00:00Z", "url": receiver.url},  # past EVENT_RETENTION
        {"since": "2999-01-01T00:00:00Z", "url": receiver.url},
        {"since": "2027-01-15T08:00:00", "url": receiver.url},  # no offset
    ):
        assert_error(
            call(client, "POST", "/admin/events/replay", body, admin), 400, "invalid_request"
        )
    body = {"since": now, "url": receiver.url}
    assert_error(
        call(client, "POST", "/admin/events/replay", body, bob), 403, "insufficient_permissions"
    )
    assert "events:replay" in built.roles.permissions(("admin",))
    assert "events:replay" not in built.roles.permissions(("support",))
