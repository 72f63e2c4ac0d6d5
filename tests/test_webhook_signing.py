"""Our webhook signatures as receivers check them: with the Standard Webhooks project's own
verifier (`standardwebhooks` on PyPI), before, during and after a secret's rotation."""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import stat
import sys
import threading
import time
from dataclasses import replace

import boto3
import pytest
from moto import mock_aws
from standardwebhooks import Webhook, WebhookVerificationError

from chalicelib.config import ConfigError, Settings
from chalicelib.webhooks.signing import (
    WebhookSecret,
    headers,
    load_secrets,
    new_secret,
    new_secrets_json,
    parse_secrets,
    sign,
)
from devtools.webhooks import listen, main

BODY = json.dumps({"type": "user.created", "data": {"user_id": "u1"}}).encode()


def now() -> int:
    return int(time.time())  # the reference verifier refuses timestamps 5 minutes off its clock


def test_the_specifications_example_signs_to_its_published_signature():
    secret = WebhookSecret.parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signature = sign([secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_reference_verifier_accepts_our_headers():
    text = new_secret()
    sent = headers([WebhookSecret.parse(text)], "msg_1", now(), BODY)
    assert sent["webhook-id"] == "msg_1"
    assert sent["content-type"] == "application/json"
    assert sent["webhook-signature"].startswith("v1,")
    assert Webhook(text).verify(BODY, sent) == json.loads(BODY)


def test_during_a_rotation_each_secret_verifies_alone_newest_first():
    new, old = new_secret(), new_secret()
    sent = headers([WebhookSecret.parse(new), WebhookSecret.parse(old)], "msg_2", now(), BODY)
    signatures = sent["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert signatures[0] == sign(
        [WebhookSecret.parse(new)], "msg_2", int(sent["webhook-timestamp"]), BODY
    )
    Webhook(new).verify(BODY, sent)  # a receiver that has learnt the new secret
    Webhook(old).verify(BODY, sent)  # one that has not yet
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, sent)  # anyone else


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b + b" "),
        lambda h, b: (h, b.replace(b"u1", b"u2")),
        lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) - 1)}, b),
        lambda h, b: ({**h, "webhook-id": "msg_4"}, b),
        lambda h, b: ({**h, "webhook-signature": h["webhook-signature"][:-2] + "A="}, b),
    ],
    ids=["body-appended", "body-changed", "timestamp", "id", "signature"],
)
def test_the_reference_verifier_refuses_a_tampered_delivery(tamper):
    text = new_secret()
    sent = headers([WebhookSecret.parse(text)], "msg_3", now(), BODY)
    Webhook(text).verify(BODY, sent)
    changed_headers, changed_body = tamper(sent, BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(text).verify(changed_body, changed_headers)


def test_new_secrets_are_32_random_bytes():
    first, second = new_secret(), new_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(WebhookSecret.parse(first).key) == 32


def test_a_secret_keeps_its_key_out_of_its_repr():
    text = new_secret()
    assert text.removeprefix("whsec_") not in repr(WebhookSecret.parse(text))
    assert "key" not in repr(WebhookSecret.parse(text))


SECRET_LOOKING = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ"  # 'secret-secret-secret' unpadded: malformed


@pytest.mark.parametrize(
    "text",
    [
        "",
        SECRET_LOOKING,
        SECRET_LOOKING.removeprefix("whsec_") + "=",  # no prefix
        "whsec_" + "A" * 16,  # 12 bytes: under the specification's 24
        "whsec_" + "A" * 88,  # 66 bytes: over its 64
        "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0!!",
        "whsec_c2VjcmV0LXNlY3JldC1zZW Nyb3QtcmV0",
    ],
)
def test_a_malformed_secret_is_a_config_error_that_never_shows_it(text):
    with pytest.raises(ConfigError) as raised:
        WebhookSecret.parse(text)
    message = str(raised.value)
    assert message
    if text:
        assert text not in message
        assert text.removeprefix("whsec_")[:8] not in message


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        '{"secrets": []}',
        '{"secrets": "whsec_x"}',
        '{"secret": ["x"]}',
        '{"secrets": [42]}',
        json.dumps({"secrets": [new_secret(), SECRET_LOOKING]}),
    ],
)
def test_a_malformed_secrets_document_is_a_config_error_that_never_shows_a_secret(text):
    with pytest.raises(ConfigError) as raised:
        parse_secrets(text)
    assert SECRET_LOOKING.removeprefix("whsec_")[:8] not in str(raised.value)


def test_the_secrets_document_lists_secrets_newest_first():
    new, old = new_secret(), new_secret()
    parsed = parse_secrets(json.dumps({"secrets": [new, old]}))
    assert parsed == (WebhookSecret.parse(new), WebhookSecret.parse(old))


def test_signing_refuses_what_would_corrupt_the_headers():
    secret = WebhookSecret.parse(new_secret())
    with pytest.raises(ValueError, match="at least one"):
        sign([], "msg_1", now(), BODY)
    for bad_id in ("", "msg 1", "msg\r\n1"):
        with pytest.raises(ValueError, match="webhook id"):
            sign([secret], bad_id, now(), BODY)


def test_the_local_stage_makes_its_secrets_file_on_first_use_for_this_user_only(tmp_path):
    path = tmp_path / ".secrets" / "webhook-secrets.json"
    settings = replace(Settings(), cookie_secure=False, webhook_secrets_file=str(path))
    first = load_secrets(settings)
    assert len(first) == 1
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secrets(settings) == first  # kept, not made again


def test_deployed_stages_read_the_secrets_from_ssm():
    document = new_secrets_json()
    settings = replace(Settings(), webhook_secrets_parameter="/session-auth/webhook-secrets")
    with mock_aws():
        boto3.client("ssm").put_parameter(
            Name="/session-auth/webhook-secrets", Value=document, Type="SecureString"
        )
        assert load_secrets(settings) == parse_secrets(document)


def test_a_missing_or_malformed_secrets_parameter_names_the_variable():
    settings = replace(Settings(), webhook_secrets_parameter="/session-auth/webhook-secrets")
    with mock_aws():
        with pytest.raises(ConfigError, match="WEBHOOK_SECRETS_PARAMETER: there is no SSM"):
            load_secrets(settings)
        boto3.client("ssm").put_parameter(
            Name="/session-auth/webhook-secrets",
            Value=json.dumps({"secrets": [SECRET_LOOKING]}),
            Type="SecureString",
        )
        with pytest.raises(ConfigError, match="WEBHOOK_SECRETS_PARAMETER: secret 0") as raised:
            load_secrets(settings)
        assert SECRET_LOOKING not in str(raised.value)
    with pytest.raises(ConfigError, match=r"WEBHOOK_SECRETS_PARAMETER \(SSM\) or"):
        load_secrets(Settings())


# -- devtools.webhooks: the local receiver ---------------------------------------------------------


@pytest.mark.parametrize("verifier", ["standardwebhooks", "ours"])
def test_the_local_receiver_prints_good_deliveries_once_and_refuses_bad_ones(monkeypatch, verifier):
    if verifier == "ours":
        monkeypatch.setitem(sys.modules, "standardwebhooks", None)  # as if not installed
    secret = WebhookSecret.parse(new_secret())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stop, out = threading.Event(), io.StringIO()
    thread = threading.Thread(
        target=listen, args=(port, stop), kwargs={"secrets": (secret,), "out": out}
    )
    thread.start()

    def post(sent: dict[str, str], body: bytes = BODY) -> int:
        for _ in range(100):  # until it listens
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                connection.request("POST", "/", body, sent)
                return connection.getresponse().status
            except ConnectionRefusedError:
                time.sleep(0.05)
            finally:
                connection.close()
        raise AssertionError("the receiver never listened")

    try:
        good = headers([secret], "msg_good", now(), BODY)
        assert post(good) == 204
        assert post(good) == 204  # a retry
        forged = headers([WebhookSecret.parse(new_secret())], "msg_forged", now(), BODY)
        assert post(forged) == 401
        assert post(good, BODY + b" ") == 401
    finally:
        stop.set()
        thread.join(5)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"listening on http://127.0.0.1:{port}/"
    assert lines[1] == "✓ msg_good user.created user=u1 seq=-"
    assert lines[2] == "✓ msg_good user.created user=u1 seq=- (duplicate)"
    assert lines[3].startswith("✗ ")
    assert lines[4].startswith("✗ ")
    assert len(lines) == 5


def test_the_secret_command_prints_a_new_secret(capsys):
    assert main(["secret"]) == 0
    printed = capsys.readouterr().out.strip()
    assert WebhookSecret.parse(printed)
