"""Conditional Access named locations: IP ranges and countries (Graph ``ipNamedLocation`` and
``countryNamedLocation``), read with typed members.

A resource sees the client IP, so IP-range locations are decided here. A country location is
decided only through a :class:`GeolocationSource` the operator plugs in (IP -> ISO 3166 country
code); without one, or when the location is found by the Authenticator app's GPS
(``countryLookupMethod: authenticatorAppGps``), the resource cannot tell and says so.

Graph reference: ``ipNamedLocation``, ``countryNamedLocation`` resource types and the
"Create namedLocation" examples (Microsoft Graph v1.0).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._document import graph_collection, graph_object, parse_json_document
from ._members import Members
from .errors import ConfigurationError

__all__ = [
    "AnyNamedLocation",
    "CountryNamedLocation",
    "GeolocationSource",
    "IPNetwork",
    "NamedLocation",
    "load_named_locations",
    "parse_ip",
    "parse_named_location",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
"""An IPv4 or IPv6 network."""
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

GeolocationSource = Callable[[str], "str | None"]
"""IP address (text) -> ISO 3166-1 alpha-2 country code, or None when the address maps to no
country (Entra's "unknown countries and regions"). Called on the request path: it must answer
from local data (a GeoIP database), never over a network. An exception leaves the country
location undecided."""

_IP_TYPE = "#microsoft.graph.ipNamedLocation"
_COUNTRY_TYPE = "#microsoft.graph.countryNamedLocation"


def parse_ip(text: str) -> IPAddress | None:
    """Parse an IP address (IPv6 zone ids and IPv4-mapped IPv6 are normalised); None if bad."""
    try:
        address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def _ipv4_form(net: IPNetwork) -> IPNetwork:
    """``net`` as IPv4 when it lies inside ``::ffff:0:0/96`` (RFC 4291 section 2.5.5.2)."""
    if isinstance(net, ipaddress.IPv6Network) and net.subnet_of(_IPV4_MAPPED):
        address = int(net.network_address) & 0xFFFFFFFF
        return ipaddress.IPv4Network((address, net.prefixlen - 96))
    return net


@dataclass(frozen=True, slots=True)
class NamedLocation:
    """A named location made of IPv4 and IPv6 ranges. ``trusted`` (Graph ``isTrusted``, false
    unless set) feeds ``AllTrusted`` in policies and makes the location one the resource's
    location step allows; an untrusted one (a block list) matters only to policies naming it."""

    id: str
    name: str
    ranges: tuple[IPNetwork, ...]
    trusted: bool = False

    def __post_init__(self) -> None:
        # Addresses are compared in IPv4 form (parse_ip): a range written as IPv4-mapped IPv6
        # (a valid cidrAddress) is kept as the IPv4 range it holds, or it would hold no client.
        ranges = tuple(_ipv4_form(net) for net in self.ranges)
        if ranges != self.ranges:
            object.__setattr__(self, "ranges", ranges)

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
            "@odata.type": _IP_TYPE,
            "id": self.id,
            "displayName": self.name,
            "isTrusted": self.trusted,
            "ipRanges": [{"cidrAddress": str(net)} for net in self.ranges],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NamedLocation:
        """Read Graph's ``ipNamedLocation`` (``id``, ``displayName``, ``ipRanges``,
        ``isTrusted``); a wrong type is a :class:`ConfigurationError` naming the member."""
        members, location_id, name = _identity(data)
        cidrs = []
        for index, item in enumerate(_list(members, "ipRanges")):
            entry = Members(item, members.owner, f"ipRanges[{index}]")
            cidr = entry.text("cidrAddress")
            if cidr is None:
                raise ConfigurationError(f"{members.owner}: ipRanges[{index}] has no cidrAddress")
            cidrs.append(cidr)
        trusted = members.flag("isTrusted")
        return cls.from_cidrs(location_id, name, cidrs, trusted=bool(trusted))


@dataclass(frozen=True, slots=True)
class CountryNamedLocation:
    """A named location made of countries and regions (ISO 3166-1 alpha-2, upper-case)."""

    id: str
    name: str
    countries: frozenset[str]
    include_unknown: bool = False
    """``includeUnknownCountriesAndRegions``: addresses that map to no country are inside."""
    lookup: str = "clientIpAddress"
    """``countryLookupMethod``: ``clientIpAddress`` (default) or ``authenticatorAppGps``."""

    @property
    def by_client_ip(self) -> bool:
        """Whether the client IP decides membership (GPS locations cannot be seen here)."""
        return self.lookup.lower() == "clientipaddress"

    def contains_country(self, country: str | None) -> bool:
        """Whether a client whose IP maps to ``country`` (None: to no country) is inside."""
        if country is None:
            return self.include_unknown
        return country.strip().upper() in self.countries

    def to_dict(self) -> dict[str, Any]:
        return {
            "@odata.type": _COUNTRY_TYPE,
            "id": self.id,
            "displayName": self.name,
            "countriesAndRegions": sorted(self.countries),
            "includeUnknownCountriesAndRegions": self.include_unknown,
            "countryLookupMethod": self.lookup,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CountryNamedLocation:
        """Read Graph's ``countryNamedLocation``; a wrong type is a ConfigurationError."""
        members, location_id, name = _identity(data)
        countries = frozenset(c.strip().upper() for c in members.strings("countriesAndRegions"))
        # Any other lookup method (a future one) is kept as is: only clientIpAddress is
        # something the resource can observe.
        lookup = (members.text("countryLookupMethod") or "clientIpAddress").strip()
        include_unknown = members.flag("includeUnknownCountriesAndRegions")
        return cls(location_id, name, countries, bool(include_unknown), lookup)


AnyNamedLocation = NamedLocation | CountryNamedLocation
"""An IP-range or a country named location."""


def _identity(data: Mapping[str, Any]) -> tuple[Members, str, str]:
    owner_hint = data.get("id") if isinstance(data, Mapping) else None
    members = Members(data, f"named location {owner_hint!r}" if owner_hint else "named location")
    location_id = members.text("id")
    name = members.text("displayName")
    if not location_id:
        raise ConfigurationError(f"{members.owner}: a named location needs an 'id'")
    members.owner = f"named location {name or location_id!r}"
    return members, location_id, name or location_id


def _list(members: Members, key: str) -> list[Any]:
    value = members.raw(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigurationError(f"{members.owner}: {key} must be a list")
    return value


def parse_named_location(data: Mapping[str, Any]) -> AnyNamedLocation:
    """One Graph ``namedLocation``: IP ranges or countries, by ``@odata.type`` (or, when the
    type is absent, by which of ``ipRanges`` / ``countriesAndRegions`` it has). SDK exports
    (PascalCase members, the type's members under ``AdditionalProperties``) read the same."""
    if not isinstance(data, Mapping):
        raise ConfigurationError("a named location must be a JSON object")
    data = graph_object(data, "named location")
    kind = data.get("@odata.type")
    if kind == _IP_TYPE or (kind is None and "ipRanges" in data):
        return NamedLocation.from_dict(data)
    if kind == _COUNTRY_TYPE or (kind is None and "countriesAndRegions" in data):
        return CountryNamedLocation.from_dict(data)
    raise ConfigurationError(
        f"named location {data.get('id')!r}: not an ipNamedLocation or countryNamedLocation"
    )


def load_named_locations(
    source: str | bytes | Mapping[str, Any] | Sequence[Any],
) -> tuple[AnyNamedLocation, ...]:
    """Named locations from JSON text (size-limited like policy documents) or parsed JSON: a
    list, one location, or Graph's list response ``{"value": [...]}`` holding every location
    (a page with ``@odata.nextLink`` is refused)."""
    data: Any = source
    if isinstance(source, (str, bytes)):
        data = parse_json_document(source, "named-location document")
    data = graph_collection(data, "a named-location document")
    locations = tuple(parse_named_location(item) for item in data)
    ids = [location.id for location in locations]
    if len(set(ids)) != len(ids):
        raise ConfigurationError("named location ids must be unique")
    return locations
