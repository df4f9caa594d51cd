"""Configuration of :class:`CAEMiddleware`, in one value."""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from typing import Any, TypeVar

from ..core._location_policy import LocationMode, trusted_locations
from ..core.errors import ConfigurationError
from ..core.locations import NamedLocation
from ..core.policies import Policy, PolicyOptions
from ._client_ip import X_FORWARDED_FOR, ClientIPResolver

__all__ = ["ENTRA_AUTHORIZATION_URI", "CAESettings", "FailMode", "SettingsView"]

ENTRA_AUTHORIZATION_URI = "https://login.microsoftonline.com/{tenantid}/oauth2/authorize"
"""Entra's authorization endpoint, the default ``authorization_uri`` of claims challenges
(``{tenantid}`` becomes the token's ``tid``)."""


class FailMode(str, Enum):
    """What the request path does while the event store is unhealthy (cannot show it is current)."""

    CLOSED = "closed"
    """Store unhealthy: challenge cp1 clients (``nbf`` = now), refuse the others."""
    OPEN = "open"
    """Store unhealthy: serve with the last known state and log a warning."""


@dataclass
class CAESettings:
    """How the request path enforces CAE (:class:`CAEMiddleware` and every adapter over it):
    paths served without a token, what claims challenges carry, the fail mode, IP location
    enforcement, Conditional Access policies, authentication contexts per path, required scopes and
    roles, and the risk levels that challenge or deny. Strings are accepted for the enums; an
    unknown value is a :class:`~cae_sdk.errors.ConfigurationError`, never the permissive default."""

    exclude_paths: Collection[str] = ()
    """Paths served without a token (exact, or a prefix when written with a trailing ``/``)."""
    authorization_uri: str = ENTRA_AUTHORIZATION_URI
    """Put in claims challenges; ``{tenantid}`` becomes the token's ``tid``. For a dev or other
    OIDC issuer use ``f"{authority_host}/{{tenantid}}/oauth2/authorize"`` or its own endpoint."""
    realm: str = ""
    fail_mode: FailMode = FailMode.CLOSED
    location_mode: LocationMode = LocationMode.STANDARD
    named_locations: Sequence[NamedLocation] | None = None
    """The tenant's IP named locations as Graph has them (trusted, untrusted, block lists): the
    catalogue ``policies`` resolve location ids against, trusted or not; and, unless
    ``allowed_locations`` is given, the location step allows the ``trusted`` ones among them,
    never an untrusted one. None reads ``store.named_locations()`` on every request."""
    allowed_locations: Sequence[NamedLocation] | None = None
    """The networks the location step allows, listed by the operator: every one of them,
    whatever its ``trusted`` flag. None: the trusted ones among the named locations. Policies
    never read this list (they name locations of ``named_locations`` or the store)."""
    trusted_proxies: Sequence[str] = ()
    """IP addresses or CIDR ranges of the proxies in front of the API; only their
    ``forwarded_header`` is read (see :class:`cae_sdk.resource.ClientIPResolver`)."""
    forwarded_header: str = X_FORWARDED_FOR
    """The one forwarding header the trusted proxies write: ``x-forwarded-for`` (nginx
    ``$proxy_add_x_forwarded_for``, ingress-nginx, Azure Application Gateway, Azure Front Door)
    or ``forwarded`` (RFC 7239). No other forwarding header is ever read."""
    policies: Sequence[Policy] = ()
    app_ids: Collection[str] = ()
    """This API's application ids, matched by policies' ``includeApplications``; empty means
    the validator's audiences without ``api://``."""
    policy_options: PolicyOptions = field(default_factory=PolicyOptions)
    """How policies decide what a token cannot show: ``mfa_auth_context`` enforces "require
    MFA" through an authentication context, ``geolocation`` and ``country_locations`` decide
    country named locations (docs/policies.md)."""
    auth_contexts: Mapping[str, str] = field(default_factory=dict)
    """Path prefix -> authentication context id (``c1``..``c25``) the route requires."""
    required_scopes: Collection[str] = ()
    required_roles: Collection[str] = ()
    risk_challenge_at: str | None = "high"
    risk_deny_at: str | None = None
    hook_timeout: float = 1.0
    """Seconds the async ``on_decision`` hooks of one request may take together; past it they
    are cancelled (and logged) and the request is answered: a hook that hangs never holds a
    request. A synchronous hook runs to its end: keep it short, or make it async."""
    revision: int = field(default=0, init=False, repr=False, compare=False)
    """Changes whenever a field is set (in place or by the constructor), after the new value is
    in place; one counter for every settings object, so a revision names one state of one
    object. The request path rebuilds what it derives from the settings (proxy ranges, excluded
    paths) when this moves."""

    def __post_init__(self) -> None:
        # Accept the documented strings ("closed", "strict"...) as well as the enums. An
        # unrecognised value must never degrade to the permissive default: a typo in a
        # security setting is a configuration error, not fail-open behaviour.
        # Lists become tuples: the request path derives its proxy ranges and excluded paths
        # when a field is set, so a list changed in place (``exclude_paths.append``) would be
        # silently ignored; a tuple makes that an error at the call instead.
        self.exclude_paths = _strings(self.exclude_paths, "exclude_paths")
        self.trusted_proxies = _strings(self.trusted_proxies, "trusted_proxies")
        self.fail_mode = _coerce(FailMode, self.fail_mode, "fail_mode")
        self.location_mode = _coerce(LocationMode, self.location_mode, "location_mode")
        # A typo in either is a ConfigurationError now (set in place: refused, left unchanged),
        # not on every request that derives the proxy ranges from them (RequestPath).
        ClientIPResolver(self.trusted_proxies, header=self.forwarded_header)
        self.named_locations = _ip_locations(self.named_locations, "named_locations")
        self.allowed_locations = _ip_locations(self.allowed_locations, "allowed_locations")
        if self.allowed_locations == () and self.location_mode is not LocationMode.OFF:
            # Allow nothing, or enforce nothing? Neither is what a list is written for.
            raise ConfigurationError(
                "allowed_locations is empty: list the networks the location step allows, or "
                "leave it None (the trusted named locations)"
            )
        if (
            self.named_locations
            and self.allowed_locations is None
            and self.location_mode is not LocationMode.OFF
            and not trusted_locations(self.named_locations)
        ):
            # Before the location step allowed only trusted locations, a static list was the
            # allowed list whatever its flags: such a configuration would now enforce nothing.
            raise ConfigurationError(
                "named_locations holds no trusted location, so the location step would allow "
                "no network and enforce nothing: mark the networks to allow trusted "
                "(NamedLocation.from_cidrs(..., trusted=True), Graph isTrusted), list them in "
                "allowed_locations, or set location_mode='off' to leave locations to policies"
            )
        timeout = self.hook_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ConfigurationError(f"hook_timeout must be a positive number: {timeout!r}")
        object.__setattr__(self, "_checked", True)

    def __setattr__(self, name: str, value: object) -> None:
        """A field changed in place while serving (``middleware.settings.location_mode =
        "strict"``) is coerced and checked as the constructor does, against the other fields,
        before the next request reads it; a :class:`ConfigurationError` leaves it unchanged.
        Unchecked, ``allowed_locations = []`` turned the location step off and a mode string
        failed every request it reached."""
        if name not in _FIELDS:
            object.__setattr__(self, name, value)
            return
        if self.__dict__.get("_checked"):
            changes: dict[str, Any] = {name: value}
            value = getattr(replace(self, **changes), name)
        # The value first, then the revision: a request (another thread) that reads the new
        # revision finds the new value, so nothing it derives or memoizes under that revision
        # (excluded paths, a reused risk answer) can hold the old one.
        object.__setattr__(self, name, value)
        object.__setattr__(self, "revision", next(_REVISIONS))

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickled (or copied): the fields as they were, under a revision of this process -
        the one it carried was drawn from another process's counter, and could name another
        settings object here."""
        self.__dict__.update(state)
        object.__setattr__(self, "revision", next(_REVISIONS))


_FIELDS = frozenset(f.name for f in fields(CAESettings) if f.init)
_REVISIONS = itertools.count(1)
"""One counter for every settings object: a revision is never shown twice, by any of them."""


def _strings(value: Collection[str], name: str) -> tuple[str, ...]:
    """A tuple of strings; one string alone is a :class:`ConfigurationError` (iterated, it
    would be its characters: ``"/health"`` would exclude ``"/"``)."""
    if isinstance(value, (str, bytes)) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"{name} is a list of strings: {value!r}")
    return tuple(value)


def _ip_locations(
    value: Sequence[NamedLocation] | None, name: str
) -> tuple[NamedLocation, ...] | None:
    """A tuple of IP named locations (read once per request without copying), or None."""
    if value is None:
        return None
    items = tuple(value) if not isinstance(value, (str, bytes)) else (value,)
    if not all(isinstance(item, NamedLocation) for item in items):
        raise ConfigurationError(
            f"{name} holds IP named locations (NamedLocation); country locations go to "
            "policy_options.country_locations"
        )
    return items


_E = TypeVar("_E", FailMode, LocationMode)


def _coerce(enum: type[_E], value: object, name: str) -> _E:
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        try:
            return enum(value.strip().lower())
        except ValueError:
            pass
    choices = ", ".join(repr(member.value) for member in enum)
    raise ConfigurationError(f"{name} must be one of {choices}; got {value!r}")


class SettingsView:
    """What the request path derives from one revision of its settings: the proxy ranges and
    the excluded paths (rebuilt when ``revision`` moves, published as one object)."""

    __slots__ = ("excluded", "excluded_prefixes", "excludes", "ips", "revision")

    def __init__(self, settings: CAESettings) -> None:
        self.revision = settings.revision  # first: the fields below are at least this new
        self.ips = ClientIPResolver(settings.trusted_proxies, header=settings.forwarded_header)
        paths = settings.exclude_paths
        self.excluded = frozenset(p for p in paths if not p.endswith("/"))
        self.excluded_prefixes = tuple(p for p in paths if p.endswith("/"))
        self.excludes = bool(self.excluded or self.excluded_prefixes)
