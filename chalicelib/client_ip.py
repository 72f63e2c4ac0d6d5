"""The client's address as this service sees it, and the key its per-IP limits count under.

- `source_address`: the address API Gateway saw (`sourceIp`), or, with CLIENT_IP_HEADER, the
  one a proxy in front of it (CloudFront, a load balancer) puts in that header: behind a proxy
  every client would otherwise share the proxy's address, and 20 failures by anyone would lock
  out everyone. The header is read only when the setting names it, and its last entry counts
  (the one the nearest proxy wrote); a missing or malformed one falls back to `sourceIp`.
- `limit_key`: an IPv4 address as it is; an IPv6 address as its /64, which one customer
  usually holds whole (2^64 addresses: keyed by address, every guess could come from a new one).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

_IPV6_PREFIX = 64


# Headers whose value always ends in the client's port: an unbracketed IPv6 address with its
# port (2001:db8::5:443) can read as an address of its own, so the port is cut, never guessed.
_WITH_PORT = frozenset({"cloudfront-viewer-address"})


def source_address(peer: str, headers: Mapping[str, str], header: str | None) -> str:
    if header:
        value = headers.get(header.lower())
        if value:
            last = value.split(",")[-1].strip()
            parsed = _address(last, with_port=header.lower() in _WITH_PORT)
            if parsed is not None:
                return parsed
    return peer


def limit_key(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, _IPV6_PREFIX), strict=False))
    return str(ip)


def _address(text: str, *, with_port: bool) -> str | None:
    """An address alone (`192.0.2.1`, `2001:db8::1`), or, `with_port`, one with its port
    (`192.0.2.1:443`, CloudFront's `2001:db8::1:443`); bracketed (`[2001:db8::1]:443`) either
    way. None for anything else."""
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif with_port:
        text, _, port = text.rpartition(":")
        if not port.isdigit():
            return None
    elif text.count(":") == 1:  # an IPv4 address with a port
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
