"""The client's address behind a proxy (CLIENT_IP_HEADER) and the key its per-IP limits count
under (an IPv6 client's /64), in the module and through the login throttle on moto."""

from __future__ import annotations

import pytest

from chalicelib.client_ip import limit_key, source_address
from tests.helpers import ANN, assert_error, call, sign_up

HEADER = "CloudFront-Viewer-Address"


def wrong_password(client, email=ANN, address=None):
    headers = {} if address is None else {HEADER: address}
    body = {"email": email, "password": "not the password at all"}
    return call(client, "POST", "/auth/login", body, headers=headers)


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:0:0:0:9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 client over IPv6
        ("", ""),
    ],
)
def test_ipv6_clients_are_keyed_by_their_64(address, key):
    assert limit_key(address) == key


# (header, its value, the client's address): CloudFront's header always ends in the port;
# the others hold the address alone.
SEEN = [
    (HEADER, "198.51.100.4:46532", "198.51.100.4"),
    (HEADER, "2001:db8:1:2:3:4:5:6:46532", "2001:db8:1:2:3:4:5:6"),
    (HEADER, "2001:db8::5:6:7:8:443", "2001:db8::5:6:7:8"),  # compressed: the port still cut
    (HEADER, "[2001:db8::4]:443", "2001:db8::4"),
    (HEADER, "198.51.100.9", "192.0.2.1"),  # no port: malformed, the address API Gateway saw
    ("CF-Connecting-IP", "198.51.100.9", "198.51.100.9"),
    ("CF-Connecting-IP", "2001:db8::5:6:7:8", "2001:db8::5:6:7:8"),
    ("X-Forwarded-For", "10.0.0.1, 198.51.100.4", "198.51.100.4"),  # the nearest proxy's
    ("X-Forwarded-For", "198.51.100.4:46532", "198.51.100.4"),
    ("X-Forwarded-For", "not an address", "192.0.2.1"),
    ("X-Forwarded-For", "", "192.0.2.1"),
]


@pytest.mark.parametrize(("header", "value", "seen"), SEEN)
def test_the_configured_header_names_the_client(header, value, seen):
    assert source_address("192.0.2.1", {header.lower(): value}, header) == seen


def test_without_the_setting_the_header_is_never_read():
    assert source_address("192.0.2.1", {HEADER.lower(): "198.51.100.4:1"}, None) == "192.0.2.1"


def test_behind_a_proxy_one_clients_failures_lock_out_no_other(client, stage, audit):
    """Behind CloudFront every client arrives from CloudFront's address: without the setting,
    20 failures by anyone lock out everyone; with it, only the client that failed."""
    sign_up(client)
    stage(client_ip_header=HEADER)
    for n in range(20):
        wrong_password(client, f"user{n}@example.com", "198.51.100.4:40000")
    assert_error(
        wrong_password(client, "zed@example.com", "198.51.100.4:40001"), 429, "too_many_attempts"
    )
    assert_error(
        wrong_password(client, "zed@example.com", "198.51.100.5:40000"), 401, "invalid_credentials"
    )
    assert audit.lines[-1]["ip"] == "198.51.100.5"  # the client's, not the proxy's


def test_without_the_setting_a_sent_header_changes_nothing(client):
    """A client cannot pick its own key by sending the header to a stage that reads none."""
    for n in range(20):
        wrong_password(client, f"user{n}@example.com", f"198.51.100.{n}:1")
    assert_error(
        wrong_password(client, "zed@example.com", "203.0.113.99:1"), 429, "too_many_attempts"
    )


def test_an_ipv6_clients_whole_64_shares_its_limits(client, stage):
    """Keyed by address, one /64 (a home's, a VM's) would give an attacker 2^64 fresh keys."""
    stage(client_ip_header=HEADER, login_ip_max_failures=3)
    for n in range(3):
        wrong_password(client, f"user{n}@example.com", f"[2001:db8:7:1::{n + 1}]:443")
    next_door = "[2001:db8:7:1:ffff::1]:443"  # another address of the same /64
    assert_error(wrong_password(client, "zed@example.com", next_door), 429, "too_many_attempts")
    elsewhere = "[2001:db8:7:2::1]:443"  # another /64
    assert_error(wrong_password(client, "zed@example.com", elsewhere), 401, "invalid_credentials")
