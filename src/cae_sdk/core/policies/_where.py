"""Where a request comes from, as two parties saw it: the IP address this resource sees, and
the one the identity provider saw when it issued the token (``ipaddr``, "the IP address the
user authenticated from", access token claims reference).

Which of the two decides a location condition is the session's continuous access evaluation
(CAE) location enforcement (Entra docs "Continuous access evaluation", section "Exception for
IP address variations", and "Strictly enforce location policies using continuous access
evaluation"):

* **standard** (the default): when the resource sees an address that is not allowed but the
  identity provider saw an allowed one (split tunnels, IPv6 next to IPv4, proxies), Entra
  grants access. A location condition therefore holds only when it holds for both addresses
  (for the resource's alone when the token has no ``ipaddr``);
* **strict** (``continuousAccessEvaluation.mode`` ``strictEnforcement``, or the operator's
  ``PolicyOptions.strict_locations``): only the address the resource sees counts;
* **disabled** (``continuousAccessEvaluation.mode`` ``disabled``): no instant location
  enforcement: the location is the one the identity provider evaluated at issuance
  (``ipaddr``), undecided without it.

Country locations are decided through the operator's geolocation source, for either address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cached_property

from ..locations import CountryNamedLocation, IPAddress, NamedLocation, parse_ip
from ._context import PolicyContext
from ._model import Enforcement, Selection
from ._tri import Tri, Undecided, all_of, any_of, negate, undecided

__all__ = ["Whereabouts", "agree"]


_SEEN = {"resource": "the client IP", "issuer": "the token's ipaddr"}


class Whereabouts:
    """The request's addresses and the named locations holding them, computed on first use."""

    def __init__(self, context: PolicyContext) -> None:
        self.context = context
        self._inside: dict[tuple[str, str], Tri] = {}
        self._conditions: dict[tuple[Selection, Enforcement], Tri] = {}
        self._countries: dict[str, str | Undecided | None] = {}

    @cached_property
    def addresses(self) -> dict[str, IPAddress | None]:
        """``resource``: the client IP this resource sees; ``issuer``: the token's ``ipaddr``."""
        seen = self.context.client_ip
        issued = self.context.claims.ip_address
        return {
            "resource": parse_ip(seen) if seen else None,
            "issuer": parse_ip(issued) if issued else None,
        }

    @cached_property
    def _by_id(self) -> dict[str, NamedLocation | CountryNamedLocation]:
        return {location.id.lower(): location for location in self.context.named_locations}

    def _country(self, which: str) -> str | Undecided | None:
        """The country (ISO 3166 alpha-2) of an address, None for "no country", or undecided."""
        if which not in self._countries:
            self._countries[which] = self._look_up_country(which)
        return self._countries[which]

    def _look_up_country(self, which: str) -> str | Undecided | None:
        source = self.context.geolocation
        if source is None:
            return undecided("no geolocation source is configured for country locations")
        address = self.addresses[which]
        if address is None:
            return undecided(f"{_SEEN[which]} is not known")
        try:
            country = source(str(address))
        except Exception:  # noqa: BLE001 - an operator's plug-in: its failure decides nothing
            return undecided("the geolocation source failed")
        if country is None:
            return None
        if not isinstance(country, str) or len(country.strip()) != 2:
            return undecided(f"the geolocation source answered {country!r}, not a country code")
        return country.strip().upper()

    def _inside_ip(self, locations: Iterable[NamedLocation], what: str, which: str) -> Tri:
        address = self.addresses[which]
        if address is None:
            return undecided(f"locations: {what}: {_SEEN[which]} is not known")
        return any(location.contains(address) for location in locations)

    def _inside_country(self, location: CountryNamedLocation, which: str) -> Tri:
        if not location.by_client_ip:
            return undecided(
                f"locations: {location.name!r} is found by {location.lookup}, not by client IP"
            )
        country = self._country(which)
        if isinstance(country, Undecided):
            return undecided(*(f"locations: {location.name!r}: {r}" for r in country.reasons))
        return location.contains_country(country)

    def inside(self, location_id: str, which: str = "resource") -> Tri:
        """Whether an address (``resource`` or ``issuer``) is inside the named location
        ``location_id`` (lower-case id, ``all`` or ``alltrusted``)."""
        if location_id == "all":
            return True
        key = (location_id, which)
        known = self._inside.get(key)
        if known is not None:
            return known
        result: Tri
        if location_id == "alltrusted":
            # Trusted IP named locations. Entra also counts the legacy "MFA trusted IPs" of
            # the MFA service settings, which a resource cannot read: list them as a trusted
            # named location. A resource given no IP named locations at all knows none of the
            # trusted ones: undecided, never "outside every trusted location".
            ip_locations = [
                loc for loc in self.context.named_locations if isinstance(loc, NamedLocation)
            ]
            if not ip_locations:
                result = undecided("locations: AllTrusted: no IP named locations are known here")
            else:
                trusted = (loc for loc in ip_locations if loc.trusted)
                result = self._inside_ip(trusted, "AllTrusted", which)
        else:
            location = self._by_id.get(location_id)
            if location is None:
                result = undecided(f"locations: named location {location_id} is not known here")
            elif isinstance(location, NamedLocation):
                result = self._inside_ip([location], repr(location.name), which)
            else:
                result = self._inside_country(location, which)
        self._inside[key] = result
        return result

    def _condition(self, selection: Selection, which: str) -> Tri:
        included = any_of(self.inside(i, which) for i in sorted(selection.include))
        excluded = any_of(self.inside(i, which) for i in sorted(selection.exclude))
        return all_of([included, negate(excluded)])

    def condition(self, selection: Selection, mode: Enforcement) -> Tri:
        """A policy's location condition under one CAE location enforcement mode (policies
        sharing a selection, ``All`` but ``AllTrusted`` say, share the answer)."""
        key = (selection, mode)
        known = self._conditions.get(key)
        if known is None:
            known = self._conditions[key] = self._mode_condition(selection, mode)
        return known

    def _mode_condition(self, selection: Selection, mode: Enforcement) -> Tri:
        seen = self._condition(selection, "resource")
        if mode is Enforcement.STRICT:
            return seen
        if self.addresses["issuer"] is None:
            if mode is Enforcement.DISABLED:
                return undecided(
                    "locations: CAE is disabled for this session, so the location is the one "
                    "the identity provider saw, and the token has no ipaddr"
                )
            return seen
        issued = self._condition(selection, "issuer")
        if mode is Enforcement.DISABLED:
            return issued
        # Standard: a location the identity provider saw as allowed is honoured.
        return all_of([seen, issued])

    def baseline(self) -> Enforcement:
        """The operator's choice: strict (``strict_locations``), else standard."""
        return Enforcement.STRICT if self.context.strict_locations else Enforcement.STANDARD


def agree(values: Iterable[Tri], disagreement: Callable[[], str]) -> Tri:
    """The one value every possible mode gives, or undecided when they differ."""
    values = list(values)
    if len(values) == 1:
        return values[0]
    decided = {v for v in values if not isinstance(v, Undecided)}
    open_values = [v for v in values if isinstance(v, Undecided)]
    if (decided and open_values) or len(decided) > 1:
        return undecided(disagreement())
    if open_values:
        return undecided(*(r for v in open_values for r in v.reasons))
    return decided.pop()
