"""Where webhooks go (the stage's WEBHOOKS) and one delivery to one endpoint.

WEBHOOKS is a JSON list, `[{"url": "https://hooks.example.com/auth", "events": ["..."]}]`.
URLs are https, with no `user:password@` (credentials belong in the signature) and no
`#fragment` (never sent, so a sign of a mistake); plain http only to this machine, on the
`local` stage. Event types must be ones the service emits: a typo would otherwise be an
endpoint that silently never hears anything. The event types are not this module's to know:
the caller passes them.

A delivery is one POST, and a URL must not become a way into the service's own network
(SSRF), so on deployed stages `deliver`:
- resolves the host itself and refuses it if any address it resolves to is not public
  (private, loopback, link-local such as 169.254.169.254, unique-local, multicast, reserved,
  unspecified; IPv4 inside IPv6 judged as the IPv4 it carries);
- connects to exactly the address it checked, so a second DNS answer (rebinding) cannot send
  it elsewhere, while TLS still sends the real hostname (SNI) and verifies the certificate for
  it, and the Host header names it;
- follows no redirect (a 3xx is a failure: the receiver must give its real URL);
- gives the whole exchange, connect to last byte, one deadline, so a receiver that answers
  slowly, a byte at a time, cannot hold a Lambda;
- reads at most 64 KiB of the answer, and throws it away.

Only the standard library: `requests` is not in the Lambda, and http.client lets us hand it
the socket we connected.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager, suppress
from functools import cache
from typing import Any, NamedTuple
from urllib.parse import SplitResult, urlsplit

from chalicelib.config import ConfigError, Settings

MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "session-auth-webhooks"
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?")
# The NAT64 well-known prefix (RFC 6052): an IPv6-only network's way to an IPv4 address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Endpoint(NamedTuple):
    url: str
    events: frozenset[str]  # the event types it receives


class Delivery(NamedTuple):
    """How one attempt went: `ok` for a 2xx; `status` whenever the receiver answered;
    `error` says why not, in words safe to log (no URL, no secret, no body)."""

    ok: bool
    status: int | None
    error: str
    answer: bytes = b""  # the body answered, up to MAX_ANSWER_BYTES (a hook's decision)


# -- WEBHOOKS ------------------------------------------------------------------------------------


def webhook_endpoints(settings: Settings, known_types: Collection[str]) -> tuple[Endpoint, ...]:
    """The stage's endpoints. Settings keeps WEBHOOKS as text (config sits below this module and
    does not know the event types); call this where the services are built, at start-up."""
    return parse_webhooks(
        settings.webhooks_json, local=not settings.cookie_secure, known_types=known_types
    )


def parse_webhooks(text: str, *, local: bool, known_types: Collection[str]) -> tuple[Endpoint, ...]:
    """WEBHOOKS: a JSON list of `{"url": ..., "events": [...]}`; empty text is no endpoints."""
    if not text.strip():
        return ()
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ConfigError(f"WEBHOOKS is not JSON: {error.args[0]}") from None
    if not isinstance(document, list):
        raise ConfigError('WEBHOOKS must be a JSON list like [{"url": ..., "events": [...]}]')
    endpoints: list[Endpoint] = []
    for index, entry in enumerate(document):
        where = f"WEBHOOKS[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"url", "events"}:
            raise ConfigError(f'{where} must be an object of exactly "url" and "events"')
        url, events = entry["url"], entry["events"]
        if not isinstance(url, str):
            raise ConfigError(f"{where}: url must be a string")
        _check_url(where, url, local=local)
        if url in (e.url for e in endpoints):
            raise ConfigError(f"{where}: {shown(url)} is listed twice")
        if not isinstance(events, list) or not events:
            raise ConfigError(f"{where}: events must be a list of one or more event types")
        for event in events:
            if not isinstance(event, str) or event not in known_types:
                raise ConfigError(
                    f"{where}: {event!r} is not an event type; known: "
                    + ", ".join(sorted(known_types))
                )
        endpoints.append(Endpoint(url, frozenset(events)))
    return tuple(endpoints)


def _check_url(where: str, url: str, *, local: bool) -> None:
    if not url.isprintable() or any(c.isspace() for c in url):
        raise ConfigError(f"{where}: the url holds spaces or control characters")
    parts = urlsplit(url)
    safe = shown(url)
    if "@" in parts.netloc:
        raise ConfigError(f"{where}: {safe} must not hold user:password@")
    if "#" in url:
        raise ConfigError(f"{where}: {safe} must not have a #fragment")
    host = parts.hostname or ""
    try:
        parts.port  # noqa: B018 (raises for a port out of range or not a number)
    except ValueError:
        raise ConfigError(f"{where}: {safe} has no valid port") from None
    if parts.scheme == "http" and host in _LOOPBACK_HOSTS and local:
        return
    if parts.scheme != "https":
        raise ConfigError(
            f"{where}: {safe} must be https (http only to localhost, 127.0.0.1 or [::1] on the "
            "local stage)"
        )
    literal = _ip(host)
    if literal is None and not _HOST.fullmatch(host):
        raise ConfigError(f"{where}: {safe} has no valid host name")
    if literal is not None and not local and not public_address(host):
        raise ConfigError(f"{where}: {safe} is not a public address")


def shown(url: str) -> str:
    """A URL fit for an error message: its query may hold a token, its userinfo a password."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def public_address(address: str) -> bool:
    """Whether a deployed stage may connect to `address` (an IP, as getaddrinfo gives it).

    `is_global` alone is not enough: it is true of some multicast, of deprecated site-local
    IPv6, and of NAT64 addresses that carry a loopback or private IPv4."""
    ip = _ip(address)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return public_address(str(ip.ipv4_mapped))
        if ip in _NAT64:
            return public_address(str(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
        # 6to4 and Teredo tunnel to IPv4 addresses of their own choosing; no receiver needs them.
        if ip.sixtofour is not None or ip.teredo is not None or ip.is_site_local:
            return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


# -- delivery ------------------------------------------------------------------------------------


def deliver(
    url: str,
    headers: dict[str, str],
    body: bytes,
    *,
    allow_private: bool,
    timeout: float = 5.0,
) -> Delivery:
    """POST `body` to `url` once. Never raises for what the network or the receiver does: the
    answer says how it went. `allow_private` is for the local stage only (its receiver is on
    this machine)."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        return Delivery(False, None, "not an http(s) URL")
    if parts.scheme == "http" and not allow_private:
        return Delivery(False, None, "plain http is for the local stage only")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return Delivery(False, None, "not a valid port")
    deadline = _Deadline(timeout)
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return Delivery(False, None, f"cannot resolve {host}")
    if not allow_private and not all(public_address(str(a[4][0])) for a in addresses):
        return Delivery(False, None, f"refused: {host} resolves to a non-public address")
    try:
        return _exchange(parts, host, port, addresses, headers, body, deadline)
    except ssl.SSLCertVerificationError as error:
        reason = error.verify_message
        return Delivery(False, None, f"TLS certificate not valid for {host}: {reason}")
    except (ssl.SSLError, OSError, http.client.HTTPException, ValueError) as error:
        if deadline.passed:
            return Delivery(False, None, f"timed out after {timeout:g}s")
        return Delivery(False, None, _describe(error))


class _Deadline:
    """One budget for the whole exchange. Socket timeouts bound each wait, not their sum (a
    receiver could answer a byte just before each runs out); the watchdog shuts the connection
    when the budget is spent, whatever is waiting on it."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.passed = False

    def left(self) -> float:
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            self.passed = True
            raise TimeoutError("deadline passed")
        return remaining

    @contextmanager
    def watching(self, sock: socket.socket) -> Iterator[None]:
        # A duplicate of the descriptor: shutting it down ends the connection under a TLS
        # socket too, which takes the original over (and detaches it).
        watched = sock.dup()
        lock = threading.Lock()

        def cut() -> None:
            with lock, suppress(OSError):  # closed already, by either side
                self.passed = True
                if watched.fileno() != -1:
                    watched.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(self.left(), cut)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            with lock:
                watched.close()


@cache
def _tls_context() -> ssl.SSLContext:
    """The system's CAs, loaded once per container; certificates and host names checked."""
    return ssl.create_default_context()


def _exchange(
    parts: SplitResult,
    host: str,
    port: int,
    addresses: list[tuple[Any, ...]],
    headers: dict[str, str],
    body: bytes,
    deadline: _Deadline,
) -> Delivery:
    sock = _connect(addresses, deadline)
    connection = http.client.HTTPConnection(host, port)
    try:
        with deadline.watching(sock):
            if parts.scheme == "https":
                sock.settimeout(deadline.left())
                sock = _tls_context().wrap_socket(sock, server_hostname=host)
                connection.default_port = 443  # Host: names the port only when it is not this
            connection.sock = sock  # the vetted address, connected: http.client only talks
            sock.settimeout(deadline.left())
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request(
                "POST",
                target,
                body=body,
                headers={**headers, "user-agent": USER_AGENT, "connection": "close"},
            )
            answer = connection.getresponse()
            status = answer.status
            # Let it finish answering, up to a point: for a webhook the status said it all,
            # and a 2xx whose body is slow or cut short was still received.
            raw = b""
            with suppress(OSError, http.client.HTTPException):
                raw = answer.read(MAX_ANSWER_BYTES)
    finally:
        connection.close()
        sock.close()
    if 200 <= status < 300:
        return Delivery(True, status, "", raw)
    if 300 <= status < 400:
        return Delivery(False, status, f"redirect ({status}) not followed")
    return Delivery(False, status, f"answered {status}")


def _connect(addresses: list[tuple[Any, ...]], deadline: _Deadline) -> socket.socket:
    """A TCP connection to the first of the checked addresses that takes one."""
    failure: OSError = OSError("no address to connect to")
    for family, kind, protocol, _, address in addresses:
        sock = None
        try:
            sock = socket.socket(family, kind, protocol)
            sock.settimeout(deadline.left())
            sock.connect(address)
        except OSError as error:
            if sock is not None:
                sock.close()
            failure = error
            if deadline.passed:
                break
            continue
        return sock
    raise failure


def _describe(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed: {error.reason or type(error).__name__}"
    if isinstance(error, http.client.HTTPException):
        return f"not an HTTP answer ({type(error).__name__})"
    if isinstance(error, ValueError):
        return "the request could not be sent (a header or the URL is malformed)"
    if isinstance(error, OSError) and error.strerror:
        return f"connection failed: {error.strerror}"
    return f"connection failed ({type(error).__name__})"
