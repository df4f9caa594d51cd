"""The client IP a request came from: the connection's peer, or the address a trusted proxy
reports in ``Forwarded`` (RFC 7239) or ``X-Forwarded-For``.

Forwarding headers are read only when the peer is a configured trusted proxy, and walked from
the right (nearest hop) skipping trusted proxies: the first untrusted address is the client.
Anything a client could have written further left is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from ..core.errors import ConfigurationError
from ..core.locations import IPAddress, IPNetwork, parse_ip

__all__ = ["ClientIPResolver"]

MAX_FORWARDED_BYTES = 8 * 1024


def _forwarded_for(value: str) -> list[str]:
    """``for=`` values of a ``Forwarded`` header, in order (RFC 7239 section 4)."""
    found = []
    for element in value.split(","):
        for pair in element.split(";"):
            name, _, raw = pair.strip().partition("=")
            if name.strip().lower() != "for":
                continue
            node = raw.strip().strip('"')
            if node.startswith("["):  # "[2001:db8::1]:4711"
                node = node[1 : node.find("]")] if "]" in node else ""
            elif node.count(":") == 1:  # "192.0.2.1:4711"
                node = node.split(":", 1)[0]
            found.append(node)
    return found


def _network(text: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(text, strict=False)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"trusted_proxies entry {text!r} is not an IP address or CIDR range"
        ) from None


class ClientIPResolver:
    def __init__(self, trusted_proxies: Iterable[str] = (), *, use_forwarded: bool = True) -> None:
        self.trusted: tuple[IPNetwork, ...] = tuple(_network(p) for p in trusted_proxies)
        self.use_forwarded = use_forwarded

    def _is_trusted(self, address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in self.trusted)

    def resolve(self, peer: str | None, headers: Sequence[tuple[bytes, bytes]]) -> str | None:
        """The client IP as text, or None when it cannot be known."""
        peer_ip = parse_ip(peer) if peer else None
        if peer_ip is None or not self.trusted or not self._is_trusted(peer_ip):
            return str(peer_ip) if peer_ip is not None else None
        hops = self._hops(headers)
        for hop in reversed(hops):
            address = parse_ip(hop)
            if address is None:
                return None  # a garbled hop: do not guess past it
            if not self._is_trusted(address):
                return str(address)
        # Every hop is a trusted proxy: the leftmost one is the best we know.
        return str(parse_ip(hops[0])) if hops else str(peer_ip)

    def _hops(self, headers: Sequence[tuple[bytes, bytes]]) -> list[str]:
        forwarded: list[str] = []
        x_forwarded: list[str] = []
        for name, value in headers:
            if len(value) > MAX_FORWARDED_BYTES:
                continue
            if name == b"forwarded" and self.use_forwarded:
                forwarded += _forwarded_for(value.decode("latin-1"))
            elif name == b"x-forwarded-for":
                x_forwarded += [v.strip() for v in value.decode("latin-1").split(",")]
        return forwarded or x_forwarded
