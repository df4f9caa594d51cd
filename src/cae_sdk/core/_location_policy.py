"""IP location enforcement: standard and strict mode (Entra docs "Continuous access evaluation",
IP address variation, and "Strictly enforce location policies using continuous access
evaluation").

* **standard**: the IP the resource sees must be in an allowed range, *or* the token's ``ipaddr``
  (the IP the identity provider saw at issuance) must be: Entra treats a client that was on an
  allowed network when it signed in leniently when the resource sees another address (split
  tunnels, IPv6 vs IPv4 paths).
* **strict**: only the IP the resource sees counts.

Which ranges are allowed is the caller's choice, made in one place (the resource's
``AccessEvaluator.locations``): an operator's explicit list, else the named locations marked
trusted (:func:`trusted_locations`). No allowed ranges means nothing to enforce. Pure: ``now``
is an argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import Enum

from .claims import nbf_claims
from .decisions import ALLOW, Decision, Outcome, Reason
from .locations import AnyNamedLocation, IPAddress, NamedLocation, parse_ip

__all__ = ["LocationMode", "evaluate_location", "locations_containing", "trusted_locations"]


class LocationMode(str, Enum):
    """IP location enforcement: off; standard (the address the resource sees, or the one the
    identity provider saw at issuance, must be allowed); strict (only the address the resource
    sees counts)."""

    OFF = "off"
    STANDARD = "standard"
    STRICT = "strict"


def locations_containing(
    address: IPAddress, locations: Sequence[NamedLocation]
) -> tuple[NamedLocation, ...]:
    """The named locations whose ranges contain ``address``."""
    return tuple(location for location in locations if location.contains(address))


def trusted_locations(locations: Iterable[AnyNamedLocation]) -> tuple[NamedLocation, ...]:
    """The IP named locations marked trusted (Graph ``ipNamedLocation.isTrusted``: "true if this
    location is explicitly trusted", default false).

    A tenant's named locations are not a list of allowed networks: Entra holds "headquarters
    network ranges, VPN network ranges, or ranges that you wish to block" there, and what a
    location means comes from the Conditional Access policies that name it (Microsoft Entra,
    "Conditional Access: Network assignment"). Marked trusted is the one thing a location says
    of itself: these are the networks a location step without a policy may allow. An untrusted
    location - a block list, a range a policy demands MFA from - never allows anything; country
    locations carry no trust flag."""
    return tuple(loc for loc in locations if isinstance(loc, NamedLocation) and loc.trusted)


def evaluate_location(
    client_ip: str | None,
    token_ip: str | None,
    allowed: Sequence[NamedLocation],
    *,
    mode: LocationMode,
    now: int,
) -> Decision:
    """Allow, or challenge with ``LocationConditionViolation`` and ``nbf`` = ``now``.

    The challenge asks for a token issued from now on, so the identity provider evaluates the
    client's current network again. An unparseable or absent client IP is outside every range.
    """
    if mode is LocationMode.OFF or not allowed:
        return ALLOW
    seen = parse_ip(client_ip) if client_ip else None
    if seen is not None and locations_containing(seen, allowed):
        return ALLOW
    if mode is LocationMode.STANDARD and token_ip:
        issued_from = parse_ip(token_ip)
        if issued_from is not None and locations_containing(issued_from, allowed):
            return ALLOW
    return Decision(
        Outcome.CHALLENGE,
        Reason.LOCATION_VIOLATION,
        f"client IP {client_ip or 'unknown'} is outside the allowed locations ({mode.value} mode)",
        claims=nbf_claims(now),
        details={"client_ip": client_ip, "token_ip": token_ip, "mode": mode.value},
    )
