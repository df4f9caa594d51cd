"""The client IP a request came from: the connection's peer, or the address a trusted proxy
reports in the ONE forwarding header the operator names.

* ``header="x-forwarded-for"`` (default): a comma-separated list of hops, each an IPv4 or IPv6
  address, optionally with a port (``198.51.100.7:4711``, ``[2001:db8::7]:443``: Azure
  Application Gateway writes ``IP:port``). Any other header name (``x-azure-clientip``...) is
  read with the same grammar.
* ``header="forwarded"``: RFC 7239 section 4; each element's ``for=`` node (section 6).

No other forwarding header is ever read. The header is read only when the connection's peer is a
configured trusted proxy, and walked from the right (the nearest hop) skipping trusted proxies:
the first untrusted address is the client; anything a client wrote further left is ignored.

A forwarding header from a trusted proxy that cannot be read in full - several copies (which
copy did the proxy write?), longer than :data:`MAX_FORWARDED_BYTES`, bad syntax, or a hop on the
walk that is not an address (``unknown``, an obfuscated node, garbage) - raises
:class:`ForwardingHeaderError`: the request is refused (400), never answered with the proxy's own
address, which is often inside the allowed ranges.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from ..core.errors import CAEError, ConfigurationError
from ..core.locations import IPAddress, IPNetwork, parse_ip

__all__ = [
    "FORWARDED",
    "MAX_FORWARDED_BYTES",
    "X_FORWARDED_FOR",
    "ClientIPResolver",
    "ForwardingHeaderError",
]

MAX_FORWARDED_BYTES = 8 * 1024
X_FORWARDED_FOR = "x-forwarded-for"
FORWARDED = "forwarded"

_TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_OWS = b" \t"


class ForwardingHeaderError(CAEError, ValueError):
    """A trusted proxy's forwarding header cannot be read in full (the request is refused)."""


def _network(text: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(text, strict=False)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"trusted_proxies entry {text!r} is not an IP address or CIDR range"
        ) from None


def header_name(name: str) -> bytes:
    """A forwarding header name as ASGI carries it (lower-case bytes); ConfigurationError if it
    is not an RFC 9110 field name."""
    raw = name.strip().lower().encode("ascii", "replace") if isinstance(name, str) else b""
    if not raw or any(byte not in _TCHAR for byte in raw):
        raise ConfigurationError(f"forwarded_header {name!r} is not an HTTP header field name")
    return raw


def _node_address(node: str) -> IPAddress | None:
    """An address from ``IPv4``, ``IPv4:port``, ``IPv6``, ``[IPv6]`` or ``[IPv6]:port``."""
    if "%" in node:  # a zone id names an interface of the proxy, not a client
        return None
    if node.startswith("["):
        end = node.find("]")
        rest = node[end + 1 :] if end > 0 else "x"
        if rest and not (rest[0] == ":" and rest[1:].isdigit()):
            return None
        inner = node[1:end]
        return parse_ip(inner) if ":" in inner else None  # brackets hold IPv6 only
    if node.count(":") == 1:  # IPv4 with a port
        host, _, port = node.partition(":")
        address = parse_ip(host) if port.isdigit() else None
        return address if address is not None and address.version == 4 else None
    if not node or node != node.strip(" \t"):
        return None
    return parse_ip(node)


def _list_hops(value: str) -> list[str]:
    # RFC 9110 section 5.6.1: OWS around commas; empty list elements are ignored.
    return [hop for hop in (part.strip(" \t") for part in value.split(",")) if hop]


def _forwarded_hops(value: bytes) -> list[str]:
    """The ``for=`` node of every RFC 7239 forwarded-element, in order (``""`` for an element
    without one). Raises ForwardingHeaderError on anything the grammar does not allow."""
    hops: list[str] = []
    pos, end = 0, len(value)
    params: dict[bytes, str] = {}
    while True:
        while pos < end and value[pos] in _OWS:
            pos += 1
        start = pos
        while pos < end and value[pos] in _TCHAR:
            pos += 1
        name = value[start:pos].lower()
        if name:
            if pos >= end or value[pos] != 0x3D:  # "="
                raise ForwardingHeaderError("Forwarded: a parameter has no value")
            pos += 1
            text, pos = _forwarded_value(value, pos)
            if name in params:  # RFC 7239 section 4: at most once per element
                raise ForwardingHeaderError(f"Forwarded: {name.decode()} repeats in an element")
            params[name] = text
        while pos < end and value[pos] in _OWS:
            pos += 1
        if pos < end and value[pos] == 0x3B:  # ";" another pair of this element
            pos += 1
            continue
        if params or name:
            hops.append(params.get(b"for", ""))
        params = {}
        if pos >= end:
            return hops
        if value[pos] != 0x2C:  # ","
            raise ForwardingHeaderError("Forwarded: unexpected character")
        pos += 1


def _forwarded_value(value: bytes, pos: int) -> tuple[str, int]:
    """A token or a quoted-string (RFC 9110 section 5.6.4) at ``pos``."""
    end = len(value)
    if pos < end and value[pos] == 0x22:  # '"'
        out = bytearray()
        pos += 1
        while pos < end:
            byte = value[pos]
            if byte == 0x22:
                return out.decode("latin-1"), pos + 1
            if byte == 0x5C and pos + 1 < end:  # "\" quoted-pair
                pos += 1
                byte = value[pos]
            if (byte < 0x20 and byte != 0x09) or byte == 0x7F:
                raise ForwardingHeaderError("Forwarded: control character in a quoted value")
            out.append(byte)
            pos += 1
        raise ForwardingHeaderError("Forwarded: unterminated quoted value")
    start = pos
    while pos < end and value[pos] in _TCHAR:
        pos += 1
    if pos == start:
        raise ForwardingHeaderError("Forwarded: a parameter has no value")
    return value[start:pos].decode("latin-1"), pos


class ClientIPResolver:
    """Resolve the client IP of a request (see the module docstring).

    ``trusted_proxies``: IP addresses or CIDR ranges of the proxies in front of the API.
    ``header``: the one forwarding header those proxies write.
    """

    def __init__(
        self, trusted_proxies: Iterable[str] = (), *, header: str = X_FORWARDED_FOR
    ) -> None:
        self.trusted: tuple[IPNetwork, ...] = tuple(_network(p) for p in trusted_proxies)
        self.header = header_name(header)

    def _is_trusted(self, address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in self.trusted)

    def resolve(self, peer: str | None, headers: Sequence[tuple[bytes, bytes]]) -> str | None:
        """The client IP as text, or None when the peer is unknown.

        Raises :class:`ForwardingHeaderError` when the peer is a trusted proxy whose
        forwarding header cannot be read in full."""
        peer_ip = parse_ip(peer) if peer else None
        if peer_ip is None or not self.trusted or not self._is_trusted(peer_ip):
            return str(peer_ip) if peer_ip is not None else None
        value = self._header_value(headers)
        if value is None:
            # The trusted proxy sent no forwarding header: it made the request itself (a
            # health probe), there is no hop to read.
            return str(peer_ip)
        hops = (
            _forwarded_hops(value)
            if self.header == b"forwarded"
            else _list_hops(value.decode("latin-1"))
        )
        if not hops:
            raise ForwardingHeaderError(f"{self._name}: no hop in the header")
        for hop in reversed(hops):
            address = _node_address(hop)
            if address is None:
                raise ForwardingHeaderError(f"{self._name}: a hop is not an IP address")
            if not self._is_trusted(address):
                return str(address)
        # Every hop is a trusted proxy: the request started at the leftmost one.
        return str(_node_address(hops[0]))

    @property
    def _name(self) -> str:
        return self.header.decode("ascii")

    def _header_value(self, headers: Sequence[tuple[bytes, bytes]]) -> bytes | None:
        found: bytes | None = None
        name = self.header
        for key, value in headers:
            # ASGI servers lower-case names; other adapters might not: compare without case.
            if key == name or key.lower() == name:
                if found is not None:
                    raise ForwardingHeaderError(f"{self._name}: the header appears more than once")
                found = value
        if found is not None and len(found) > MAX_FORWARDED_BYTES:
            raise ForwardingHeaderError(f"{self._name}: the header is too long")
        return found
