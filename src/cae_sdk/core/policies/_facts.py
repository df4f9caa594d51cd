"""The request facts every policy reads, worked out once per evaluation (not once per policy):
the client's named locations, device platform, account kind and authentication methods."""

from __future__ import annotations

from functools import cached_property

from ..locations import CountryNamedLocation, NamedLocation, parse_ip
from ._context import PolicyContext
from ._guests import AccountKinds, classify_account
from ._platforms import platform_from_user_agent
from ._tri import Tri, Undecided, undecided

__all__ = ["RequestFacts"]

# Access token claims reference, "amr claim": ``mfa`` and ``ngcmfa`` prove a second factor;
# ``wiaormfa`` means "Windows or an MFA credential" and proves neither.
_MFA = frozenset({"mfa", "ngcmfa"})
_AMBIGUOUS = frozenset({"wiaormfa"})


class RequestFacts:
    """Facts about one request, each computed on first use."""

    def __init__(self, context: PolicyContext) -> None:
        self.context = context
        self.claims = context.claims
        self._locations: dict[str, Tri] = {}
        self._held: dict[str, frozenset[str] | None] = {}

    @cached_property
    def platform(self) -> str | None:
        return platform_from_user_agent(self.context.user_agent)

    @cached_property
    def account(self) -> AccountKinds:
        return classify_account(self.claims)

    def held(self, claim: str) -> frozenset[str] | None:
        """The lower-cased values of a list claim (``groups``, ``wids``); None when the token
        has no such list."""
        if claim not in self._held:
            values = self.claims.get(claim)
            ok = isinstance(values, list) and all(isinstance(v, str) for v in values)
            self._held[claim] = frozenset(v.lower() for v in values) if ok else None
        return self._held[claim]

    @cached_property
    def acrs(self) -> frozenset[str]:
        return frozenset(a.lower() for a in self.claims.acrs)

    @cached_property
    def amr_shows_mfa(self) -> Tri:
        """What ``amr`` says about a second factor. Entra puts ``amr`` in v1.0 access tokens
        only (access token claims reference): a token without it shows nothing."""
        amr = self.claims.get("amr")
        if not isinstance(amr, list) or not all(isinstance(v, str) for v in amr):
            return undecided(
                "grantControls.mfa: the token has no amr claim (Microsoft Entra issues amr "
                "in v1.0 access tokens only)"
            )
        methods = frozenset(v.lower() for v in amr)
        if methods & _MFA:
            return True
        if methods & _AMBIGUOUS:
            return undecided("grantControls.mfa: amr 'wiaormfa' does not tell MFA apart")
        return False

    @cached_property
    def _address(self) -> str | None:
        text = self.context.client_ip
        address = parse_ip(text) if text else None
        return str(address) if address is not None else None

    @cached_property
    def _by_id(self) -> dict[str, NamedLocation | CountryNamedLocation]:
        return {location.id.lower(): location for location in self.context.named_locations}

    @cached_property
    def _country(self) -> str | Undecided | None:
        """The client's country (ISO 3166 alpha-2), None for "no country", or undecided."""
        source = self.context.geolocation
        if source is None:
            return undecided("no geolocation source is configured for country locations")
        if self._address is None:
            return undecided("the client IP is not known")
        try:
            country = source(self._address)
        except Exception:  # noqa: BLE001 - an operator's plug-in: its failure decides nothing
            return undecided("the geolocation source failed")
        if country is None:
            return None
        if not isinstance(country, str) or len(country.strip()) != 2:
            return undecided(f"the geolocation source answered {country!r}, not a country code")
        return country.strip().upper()

    def _inside_ip(self, locations: list[NamedLocation], what: str) -> Tri:
        if self._address is None:
            return undecided(f"locations: {what}: the client IP is not known")
        address = parse_ip(self._address)
        assert address is not None  # parsed once already
        return any(location.contains(address) for location in locations)

    def _inside_country(self, location: CountryNamedLocation) -> Tri:
        if not location.by_client_ip:
            return undecided(
                f"locations: {location.name!r} is found by {location.lookup}, not by client IP"
            )
        country = self._country
        if isinstance(country, Undecided):
            return undecided(*(f"locations: {location.name!r}: {r}" for r in country.reasons))
        return location.contains_country(country)

    def location(self, location_id: str) -> Tri:
        """Whether the client is inside the named location ``location_id`` (lower-case id,
        ``all`` or ``alltrusted``)."""
        if location_id == "all":
            return True
        known = self._locations.get(location_id)
        if known is not None:
            return known
        if location_id == "alltrusted":
            # Trusted IP named locations. Entra also counts the legacy "MFA trusted IPs" of
            # the MFA service settings, which a resource cannot read: list them as a trusted
            # named location.
            trusted = [
                loc
                for loc in self.context.named_locations
                if isinstance(loc, NamedLocation) and loc.trusted
            ]
            result = self._inside_ip(trusted, "AllTrusted")
        else:
            location = self._by_id.get(location_id)
            if location is None:
                result = undecided(f"locations: named location {location_id} is not known here")
            elif isinstance(location, NamedLocation):
                result = self._inside_ip([location], repr(location.name))
            else:
                result = self._inside_country(location)
        self._locations[location_id] = result
        return result
