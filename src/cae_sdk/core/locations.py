"""IP-range named locations (Conditional Access "named locations")."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError

__all__ = ["IPNetwork", "NamedLocation", "parse_ip"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(text: str) -> IPAddress | None:
    """Parse an IP address (IPv6 zone ids and IPv4-mapped IPv6 are normalised); None if bad."""
    try:
        address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True, slots=True)
class NamedLocation:
    """A named location made of IPv4 and IPv6 ranges; ``trusted`` feeds ``AllTrusted``."""

    id: str
    name: str
    ranges: tuple[IPNetwork, ...]
    trusted: bool = False

    @classmethod
    def from_cidrs(
        cls, id: str, name: str, cidrs: Iterable[str], *, trusted: bool = False
    ) -> NamedLocation:
        """Raises :class:`ConfigurationError` (a ``ValueError``) naming the bad range."""
        ranges = []
        for cidr in cidrs:
            try:
                ranges.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
            except ValueError:
                raise ConfigurationError(
                    f"named location {name!r}: {cidr!r} is not an IPv4 or IPv6 range"
                ) from None
        return cls(id, name, tuple(ranges), trusted)

    def contains(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self.ranges)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayName": self.name,
            "isTrusted": self.trusted,
            "ipRanges": [{"cidrAddress": str(net)} for net in self.ranges],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NamedLocation:
        """Read Graph's ``ipNamedLocation`` shape (``displayName``, ``ipRanges``, ``isTrusted``)."""
        ranges = [r["cidrAddress"] for r in data.get("ipRanges", ())]
        return cls.from_cidrs(
            str(data["id"]),
            str(data.get("displayName", data["id"])),
            ranges,
            trusted=bool(data.get("isTrusted", False)),
        )
