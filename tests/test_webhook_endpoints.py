"""WEBHOOKS as a stage writes it, and one delivery as a receiver sees it: real HTTP (and TLS)
to servers on 127.0.0.1, with the resolver replaced where a test needs a name or an address."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from chalicelib.config import ConfigError, Settings
from chalicelib.webhooks import endpoints
from chalicelib.webhooks.endpoints import (
    Endpoint,
    deliver,
    parse_webhooks,
    public_address,
    webhook_endpoints,
)
from chalicelib.webhooks.signing import WebhookSecret, headers, new_secret

KNOWN = ("user.created", "user.deleted", "session.created")
BODY = json.dumps({"type": "user.created", "data": {"user_id": "u1"}}).encode()


# -- WEBHOOKS ------------------------------------------------------------------------------------


def parse(entries: Any, *, local: bool = False) -> tuple[Endpoint, ...]:
    text = entries if isinstance(entries, str) else json.dumps(entries)
    return parse_webhooks(text, local=local, known_types=KNOWN)


def test_webhooks_are_a_json_list_of_urls_and_the_event_types_each_wants():
    found = parse(
        [
            {"url": "https://hooks.example.com/auth?tenant=7", "events": ["user.created"]},
            {"url": "https://crm.example.com:8443/in", "events": ["user.deleted", "user.created"]},
        ]
    )
    assert found == (
        Endpoint("https://hooks.example.com/auth?tenant=7", frozenset({"user.created"})),
        Endpoint("https://crm.example.com:8443/in", frozenset({"user.created", "user.deleted"})),
    )
    assert parse("") == ()
    assert parse("  \n") == ()
    assert parse([]) == ()


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:9000/hooks",
        "http://127.0.0.1:9000/",
        "http://[::1]:9000",
        "http://localhost/x",
    ],
)
def test_the_local_stage_may_deliver_over_http_to_this_machine(url):
    assert parse([{"url": url, "events": ["user.created"]}], local=True)[0].url == url
    with pytest.raises(ConfigError, match="must be https"):
        parse([{"url": url, "events": ["user.created"]}], local=False)


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ("not json", "not JSON"),
        ({"url": "https://a.example"}, "JSON list"),
        (["https://a.example"], 'exactly "url" and "events"'),
        ([{"url": "https://a.example", "events": ["user.created"], "x": 1}], '"url" and "events"'),
        ([{"url": "https://a.example", "event": ["user.created"]}], '"url" and "events"'),
        ([{"url": 7, "events": ["user.created"]}], "url must be a string"),
        ([{"url": "http://hooks.example.com", "events": ["user.created"]}], "must be https"),
        ([{"url": "http://localhost.example.com", "events": ["user.created"]}], "must be https"),
        ([{"url": "ftp://hooks.example.com", "events": ["user.created"]}], "must be https"),
        ([{"url": "https:///path", "events": ["user.created"]}], "no valid host"),
        ([{"url": "https://hooks_example.com/", "events": ["user.created"]}], "no valid host"),
        ([{"url": "https://a.example:99999/", "events": ["user.created"]}], "no valid port"),
        ([{"url": "https://a.example/ x", "events": ["user.created"]}], "spaces"),
        ([{"url": "https://a.example/#top", "events": ["user.created"]}], "#fragment"),
        ([{"url": "https://u:p@a.example/", "events": ["user.created"]}], "user:password@"),
        ([{"url": "https://10.0.0.1/", "events": ["user.created"]}], "not a public address"),
        ([{"url": "https://[fd00::1]/", "events": ["user.created"]}], "not a public address"),
        ([{"url": "https://a.example", "events": []}], "one or more event types"),
        ([{"url": "https://a.example", "events": "user.created"}], "one or more event types"),
        ([{"url": "https://a.example", "events": ["user.*"]}], "'user.*' is not an event type"),
        ([{"url": "https://a.example", "events": ["*"]}], "not an event type; known: session"),
        ([{"url": "https://a.example", "events": [1]}], "1 is not an event type"),
        (
            [
                {"url": "https://a.example/x", "events": ["user.created"]},
                {"url": "https://a.example/x", "events": ["user.deleted"]},
            ],
            r"WEBHOOKS\[1\]: https://a.example/x is listed twice",
        ),
    ],
)
def test_a_malformed_webhooks_setting_fails_at_start_up_naming_the_problem(entries, problem):
    with pytest.raises(ConfigError, match=problem) as raised:
        parse(entries)
    assert str(raised.value).startswith("WEBHOOKS")


def test_a_webhooks_error_never_shows_a_urls_query_or_password():
    for url in ("http://hooks.example.com/in?token=s3cret", "https://me:s3cret@a.example/in"):
        with pytest.raises(ConfigError) as raised:
            parse([{"url": url, "events": ["user.created"]}])
        assert "s3cret" not in str(raised.value)
        assert "example" in str(raised.value)


def test_the_stage_settings_decide_whether_http_to_this_machine_is_allowed():
    text = json.dumps([{"url": "http://localhost:9000/", "events": ["session.created"]}])
    local = replace(Settings(), cookie_secure=False, webhooks_json=text)
    assert webhook_endpoints(local, KNOWN) == (
        Endpoint("http://localhost:9000/", frozenset({"session.created"})),
    )
    with pytest.raises(ConfigError, match="must be https"):
        webhook_endpoints(replace(local, cookie_secure=True), KNOWN)
    assert webhook_endpoints(Settings(), KNOWN) == ()


# -- which addresses a deployed stage may reach ----------------------------------------------------

NOT_PUBLIC = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # the instance metadata service
    "169.254.170.2",  # Lambda and ECS credentials endpoint
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",  # noqa: S104 (an address refused, not bound)
    "192.0.2.1",  # documentation
    "198.18.0.1",  # benchmarking
    "224.0.1.1",  # multicast, though is_global says yes
    "255.255.255.255",
    "240.0.0.1",
    "::1",
    "::",
    "fe80::1",
    "fe80::1%1",
    "fd00::1",
    "fd00:ec2::254",  # the metadata service over IPv6
    "fc00::1",
    "fec0::1",  # site-local, deprecated, though is_global says yes
    "ff0e::1",  # multicast, though is_global says yes
    "2001:db8::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "::127.0.0.1",  # IPv4-compatible, deprecated
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:808:808::",  # 6to4 at all
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "not an address",
]
PUBLIC = ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_private_loopback_link_local_and_tunnelled_addresses_are_not_public(address):
    assert public_address(address) is False


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_public_in_either_family(address):
    assert public_address(address) is True


# -- a receiver on this machine --------------------------------------------------------------------


class Receiver:
    """An HTTP server in a thread that notes what it got and answers as told."""

    def __init__(self, answer: str = "ok", tls: ssl.SSLContext | None = None) -> None:
        self.got: list[tuple[str, dict[str, str], bytes]] = []
        self.server_names: list[str | None] = []
        self.release = threading.Event()
        self.location = ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if answer == "drip":  # a status line a byte at a time, never quite idle
                    for byte in b"HTTP/1.1 200 OK\r\nX: " + b"y" * 100:
                        if receiver.release.wait(0.05):
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    return
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append(
                    (self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                if answer == "silent":
                    receiver.release.wait(10)
                    return
                if answer == "slow body":  # the status at once, then most of the body never
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b"x" * 10)
                    self.wfile.flush()
                    receiver.release.wait(10)
                    return
                if answer == "redirect":
                    self.send_response(302)
                    self.send_header("Location", receiver.location)
                    self.send_header("Content-Length", "0")
                elif answer == "fail":
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                else:
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            tls.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Any]:
    started: list[Receiver] = []

    def start(answer: str = "ok", tls: ssl.SSLContext | None = None) -> Receiver:
        started.append(Receiver(answer, tls))
        return started[-1]

    yield start
    for each in started:
        each.close()


def resolving(monkeypatch: pytest.MonkeyPatch, *answers: list[tuple[str, int]]) -> list[str]:
    """Replace the resolver: each call gives the next answer (the last one again after that).
    Returns the names it was asked for."""
    asked: list[str] = []

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        asked.append(host)
        answer = answers[min(len(asked), len(answers)) - 1]
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, p, 0, 0))
            if ":" in ip
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, p))
            for ip, p in answer
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def signed(msg_id: str = "msg_1") -> dict[str, str]:
    return headers([WebhookSecret.parse(new_secret())], msg_id, int(time.time()), BODY)


# -- deliveries ------------------------------------------------------------------------------------


def test_a_receiver_gets_the_exact_body_and_headers(receiver):
    local = receiver()
    sent = signed()
    delivery = deliver(local.url("/hook?tenant=7"), sent, BODY, allow_private=True)
    assert delivery[:3] == (True, 204, "")
    [(path, got, body)] = local.got
    assert path == "/hook?tenant=7"
    assert body == BODY
    for name, value in sent.items():
        assert got[name] == value
    assert got["content-length"] == str(len(BODY))
    assert got["host"] == f"127.0.0.1:{local.port}"


def test_an_answer_other_than_2xx_is_a_failure_with_its_status(receiver):
    assert deliver(receiver("fail").url(), signed(), BODY, allow_private=True)[:3] == (
        False,
        500,
        "answered 500",
    )


def test_a_redirect_is_not_followed(receiver):
    moved, target = receiver("redirect"), receiver()
    moved.location = target.url("/elsewhere")
    delivery = deliver(moved.url(), signed(), BODY, allow_private=True)
    assert (delivery.ok, delivery.status) == (False, 302)
    assert "redirect" in delivery.error
    assert len(moved.got) == 1
    assert target.got == []


def test_a_receiver_that_does_not_answer_times_out(receiver):
    delivery = deliver(receiver("silent").url(), signed(), BODY, allow_private=True, timeout=0.5)
    assert (delivery.ok, delivery.status) == (False, None)
    assert "timed out" in delivery.error


def test_a_receiver_that_answers_a_byte_at_a_time_still_times_out(receiver):
    """Each byte comes well within a socket timeout; only the whole exchange's deadline ends
    it."""
    delivery = deliver(receiver("drip").url(), signed(), BODY, allow_private=True, timeout=0.5)
    assert (delivery.ok, delivery.status) == (False, None)
    assert "timed out" in delivery.error


def test_a_2xx_counts_though_the_rest_of_its_body_never_comes(receiver):
    """Received is received: retrying would deliver it twice."""
    local = receiver("slow body")
    assert deliver(local.url(), signed(), BODY, allow_private=True, timeout=0.5)[:3] == (
        True,
        200,
        "",
    )
    assert len(local.got) == 1


def test_a_refused_connection_is_a_failure_with_a_reason():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free, and nobody listens once it closes
    delivery = deliver(f"http://127.0.0.1:{port}/", signed(), BODY, allow_private=True)
    assert delivery[:3] == (False, None, "connection refused")


def test_deployed_stages_send_nothing_over_plain_http(receiver):
    local = receiver()
    delivery = deliver(local.url(), signed(), BODY, allow_private=False)
    assert delivery.ok is False
    assert local.got == []


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["169.254.169.254"],
        ["10.1.2.3"],
        ["fd00:ec2::254"],
        ["::1"],
        ["::ffff:127.0.0.1"],
        ["fe80::1"],
        ["93.184.215.14", "10.1.2.3"],  # one bad answer among good ones is enough
        ["2606:4700::1111", "::ffff:169.254.169.254"],
    ],
)
def test_deployed_stages_refuse_a_host_that_resolves_to_any_private_address(
    monkeypatch, receiver, addresses
):
    local = receiver()
    resolving(monkeypatch, [(ip, local.port) for ip in addresses])
    delivery = deliver("https://hooks.example.com/in", signed(), BODY, allow_private=False)
    assert delivery[:3] == (
        False,
        None,
        "refused: hooks.example.com resolves to a non-public address",
    )
    assert local.got == []


def test_the_local_stage_may_reach_a_name_that_resolves_to_this_machine(monkeypatch, receiver):
    local = receiver()
    asked = resolving(monkeypatch, [("127.0.0.1", local.port)])
    url = f"http://hooks.example.test:{local.port}/in"
    assert deliver(url, signed(), BODY, allow_private=True).ok
    assert asked == ["hooks.example.test"]
    [(_, got, _)] = local.got
    assert got["host"] == f"hooks.example.test:{local.port}"  # the name, though we dialled the IP


def test_the_address_checked_is_the_address_connected_to(monkeypatch, receiver):
    """DNS rebinding: a name that resolves to a public address for the check and to an internal
    one a moment later must not reach the internal one. We resolve once and dial what we
    checked."""
    checked, internal = receiver(), receiver()
    monkeypatch.setattr(endpoints, "public_address", lambda address: True)
    asked = resolving(monkeypatch, [("127.0.0.1", checked.port)], [("127.0.0.1", internal.port)])
    assert deliver("http://rebind.example.test/", signed(), BODY, allow_private=True).ok
    assert len(asked) == 1
    assert len(checked.got) == 1
    assert internal.got == []


# -- TLS -----------------------------------------------------------------------------------------


def _certificates(tmp_path: Path, name: str) -> tuple[Path, Path, Path]:
    """A test CA, and a server certificate it issued for `name`: (CA, certificate, key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhook test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch, receiver) -> Receiver:
    """An https receiver for hooks.example.test, trusted through a test CA, reached on
    127.0.0.1 whatever name is asked."""
    ca, certificate, key = _certificates(tmp_path, "hooks.example.test")
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(certificate, key)
    secure = receiver("ok", server_side)
    # The deliverer's own context, its checks as in production, trusting the test CA alone.
    monkeypatch.setattr(endpoints, "_tls_context", lambda: ssl.create_default_context(cafile=ca))
    resolving(monkeypatch, [("127.0.0.1", secure.port)])
    return secure


def test_tls_names_the_real_host_while_dialling_the_checked_address(tls_receiver):
    url = f"https://hooks.example.test:{tls_receiver.port}/in"
    assert deliver(url, signed(), BODY, allow_private=True)[:3] == (True, 204, "")
    assert tls_receiver.server_names == ["hooks.example.test"]  # SNI
    [(path, got, body)] = tls_receiver.got
    assert (path, body) == ("/in", BODY)
    assert got["host"] == f"hooks.example.test:{tls_receiver.port}"


def test_a_certificate_for_another_name_is_refused(tls_receiver):
    url = f"https://other.example.test:{tls_receiver.port}/in"
    delivery = deliver(url, signed(), BODY, allow_private=True)
    assert (delivery.ok, delivery.status) == (False, None)
    assert delivery.error.startswith("TLS certificate not valid for other.example.test")
    assert tls_receiver.got == []
