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


def _tenant(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError("tenant_id must be a tenant id (a non-empty string)")
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
    groups_claim_complete: bool = False
    """Whether the token's ``groups`` claim lists every group the user is a member of (see
    :attr:`PolicyOptions.groups_claim_complete`). When False, a group missing from the claim
    leaves a group condition undecided: only a listed group decides."""
    tenant_id: str | None = None
    """The tenant the policies belong to (see :attr:`PolicyOptions.tenant_id`); None: every
    token's tenant."""
    strict_locations: bool = False
    """Decide every location condition by the client IP alone (see
    :attr:`PolicyOptions.strict_locations`)."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "mfa_auth_context", _auth_context(self.mfa_auth_context, "mfa_auth_context")
        )
        object.__setattr__(self, "tenant_id", _tenant(self.tenant_id))


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
    groups_claim_complete: bool = False
    """Set when this API's app registration puts *every* group of the user in the ``groups``
    claim as object ids: ``groupMembershipClaims: All`` (security groups and distribution
    lists, nested groups included), group ids as emitted by default, no group filter, and not
    "groups assigned to the application". Conditional Access counts any group type, nested
    membership included (Entra docs "Conditional Access: Users, groups, and workload
    identities"), while a ``groups`` claim configured otherwise leaves groups out (Entra docs
    "Configure group claims for applications"): by default a group missing from the claim
    leaves a group condition undecided, never "not a member"."""
    strict_locations: bool = False
    """CAE strict location enforcement for every session: a location condition is decided by
    the IP address this resource sees alone. By default (standard enforcement) a location the
    identity provider saw as allowed when it issued the token (``ipaddr``) is honoured, as
    Entra does for split tunnels and other network paths that differ ("Continuous access
    evaluation", "Exception for IP address variations"); a policy's own
    ``continuousAccessEvaluation`` session control (``strictEnforcement``) makes the sessions
    it applies to strict ("Strictly enforce location policies using continuous access
    evaluation")."""
    tenant_id: str | None = None
    """The tenant whose Conditional Access policies these are. A token's ``tid`` names the
    tenant the user signed in to (access token claims reference), and only that tenant's
    policies apply to the sign-in: a multitenant API must set this, or the policies of its
    own tenant are applied to users of other tenants. None: every token is of this tenant
    (a single-tenant API)."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "mfa_auth_context", _auth_context(self.mfa_auth_context, "mfa_auth_context")
        )
        for location in self.country_locations:
            if not isinstance(location, CountryNamedLocation):
                raise ConfigurationError("country_locations holds CountryNamedLocation values")
        object.__setattr__(self, "tenant_id", _tenant(self.tenant_id))

    def context(
        self,
        claims: TokenClaims,
        *,
        client_ip: str | None = None,
        user_agent: str | None = None,
        app_ids: frozenset[str] = frozenset(),
        auth_contexts: frozenset[str] = frozenset(),
        named_locations: Sequence[AnyNamedLocation] = (),
        user_risk: str | None = None,
        service_principal_risk: str | None = None,
    ) -> PolicyContext:
        """The :class:`PolicyContext` of one request under these options: the one way the
        middleware and ``cae whatif`` build it, so that an option reaches every adapter."""
        return PolicyContext(
            claims=claims,
            client_ip=client_ip,
            user_agent=user_agent,
            app_ids=app_ids,
            auth_contexts=auth_contexts,
            named_locations=(*named_locations, *self.country_locations),
            user_risk=user_risk,
            service_principal_risk=service_principal_risk,
            mfa_auth_context=self.mfa_auth_context,
            geolocation=self.geolocation,
            groups_claim_complete=self.groups_claim_complete,
            tenant_id=self.tenant_id,
            strict_locations=self.strict_locations,
        )
