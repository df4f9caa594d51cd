"""What the resource knows about one request (:class:`PolicyContext`) and the operator's
choices for the policy engine (:class:`PolicyOptions`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ConfigurationError
from ..locations import AnyNamedLocation, CountryNamedLocation, GeolocationSource
from ..tokens import TokenClaims

__all__ = ["PolicyContext", "PolicyOptions"]

# Graph authenticationContextClassReference ids are c1..c99.
_AUTH_CONTEXT = re.compile(r"c([1-9][0-9]?)")


def _auth_context(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _AUTH_CONTEXT.fullmatch(value.strip().lower()):
        raise ConfigurationError(f"{name} must be an authentication context id c1..c99")
    return value.strip().lower()


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """Everything the engine reads about one request. The engine is pure: nothing else."""

    claims: TokenClaims
    client_ip: str | None = None
    user_agent: str | None = None
    app_ids: frozenset[str] = frozenset()
    """This resource's application ids (lower-case); matched by ``includeApplications``."""
    auth_contexts: frozenset[str] = frozenset()
    """Authentication contexts the requested route requires (``c1``..``c99``, lower-case)."""
    named_locations: Sequence[AnyNamedLocation] = ()
    """IP and country named locations; a policy naming a location not listed here is
    undecided for its location condition."""
    user_risk: str | None = None
    """The user's risk level (``none``..``high``); None when it is not known here, which
    leaves policies with a ``userRiskLevels`` condition undecided."""
    service_principal_risk: str | None = None
    """Likewise for ``servicePrincipalRiskLevels``."""
    mfa_auth_context: str | None = None
    """An authentication context the tenant ties to multifactor authentication: a token
    carrying it in ``acrs`` shows MFA, and a token that shows no MFA is challenged for it. When
    None, "require MFA" is decided from ``amr`` only (v1.0 tokens) and is otherwise
    undecided."""
    geolocation: GeolocationSource | None = None
    """Decides country named locations from the client IP; None leaves them undecided."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "mfa_auth_context", _auth_context(self.mfa_auth_context, "mfa_auth_context")
        )


@dataclass(frozen=True, slots=True)
class PolicyOptions:
    """The operator's choices for the policy engine (``CAESettings.policy_options``)."""

    mfa_auth_context: str | None = None
    """Enforce "require MFA" through this authentication context (``c1``..``c99``): the tenant
    must have a Conditional Access policy that requires MFA for it. See
    :attr:`PolicyContext.mfa_auth_context`."""
    geolocation: GeolocationSource | None = None
    """IP -> ISO 3166 country code, for country named locations (local data only)."""
    country_locations: Sequence[CountryNamedLocation] = ()
    """Country named locations the policies name (IP locations come from the resource's
    ``named_locations``)."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "mfa_auth_context", _auth_context(self.mfa_auth_context, "mfa_auth_context")
        )
        for location in self.country_locations:
            if not isinstance(location, CountryNamedLocation):
                raise ConfigurationError("country_locations holds CountryNamedLocation values")
