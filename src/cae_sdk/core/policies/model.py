"""Conditional Access policies: the subset of Microsoft Graph's ``conditionalAccessPolicy``
resource that a resource server can evaluate, parsed from its JSON as exported.

Graph reference: ``conditionalAccessPolicy``, ``conditionalAccessConditionSet``,
``conditionalAccessGrantControls``. Members outside the subset are kept by name in
:attr:`Policy.unobservable` so evaluation can report them instead of guessing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..errors import ConfigurationError

__all__ = [
    "GrantControls",
    "Policy",
    "PolicyState",
    "Selection",
    "load_policies",
    "parse_policy",
]

MAX_POLICIES_JSON = 4 * 1024 * 1024


class PolicyState(str, Enum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    REPORT_ONLY = "enabledForReportingButNotEnforced"


@dataclass(frozen=True, slots=True)
class Selection:
    """An include/exclude pair (``includeUsers``/``excludeUsers`` and the like).

    Values are compared case-insensitively (GUIDs and Graph keywords such as ``All``).
    """

    include: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()

    @property
    def configured(self) -> bool:
        return bool(self.include or self.exclude)

    @classmethod
    def read(cls, data: Mapping[str, Any], include: str, exclude: str) -> Selection:
        return cls(_lower_set(data, include), _lower_set(data, exclude))


@dataclass(frozen=True, slots=True)
class GrantControls:
    operator: str = "OR"
    built_in: frozenset[str] = frozenset()
    """Lower-cased ``builtInControls``: ``block``, ``mfa``, ``compliantdevice``..."""
    others: tuple[str, ...] = ()
    """Controls the resource cannot check (terms of use, custom factors, auth strength)."""


@dataclass(frozen=True, slots=True)
class Policy:
    id: str
    name: str
    state: PolicyState
    users: Selection
    groups: Selection
    roles: Selection
    guests_included: bool
    applications: Selection
    auth_contexts: frozenset[str]
    client_apps: Selection
    platforms: Selection
    locations: Selection
    user_risk_levels: frozenset[str]
    service_principal_risk_levels: frozenset[str]
    grant: GrantControls
    unobservable: tuple[str, ...]
    """Configured conditions the resource cannot observe (``signInRiskLevels``, device filters,
    client app types other than ``all``...)."""

    @property
    def targets_workload_identities(self) -> bool:
        """A workload-identity policy: service principals selected, no users."""
        no_users = not (self.users.include - {"none"}) and not self.groups.include
        return bool(self.client_apps.include) and no_users and not self.roles.include


# Graph's keyword for every service principal of the tenant in
# conditionalAccessClientApplications.includeServicePrincipals (Graph v1.0 resource type page).
_ALL_SERVICE_PRINCIPALS = "serviceprincipalsinmytenant"


def _service_principal_selection(data: Mapping[str, Any]) -> Selection:
    selection = Selection.read(data, "includeServicePrincipals", "excludeServicePrincipals")
    if _ALL_SERVICE_PRINCIPALS not in selection.include:
        return selection
    return Selection((selection.include - {_ALL_SERVICE_PRINCIPALS}) | {"all"}, selection.exclude)


def _list(data: Mapping[str, Any], key: str) -> Sequence[Any]:
    """A list member (absent or null: empty); anything else is a ``ConfigurationError``."""
    values = data.get(key) or ()
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ConfigurationError(f"policy member {key!r} must be a list")
    return values


def _lower_set(data: Mapping[str, Any], key: str) -> frozenset[str]:
    values = _list(data, key)
    if not all(isinstance(v, str) for v in values):
        raise ConfigurationError(f"policy member {key!r} must be a list of strings")
    return frozenset(v.lower() for v in values)


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"policy member {key!r} must be an object")
    return value


_UNOBSERVABLE_CONDITIONS = (
    "signInRiskLevels",
    "insiderRiskLevels",
    "devices",
    "authenticationFlows",
    "clientApplications.agentIdServicePrincipalFilter",
)


def _unobservable(conditions: Mapping[str, Any]) -> list[str]:
    found = []
    for name in _UNOBSERVABLE_CONDITIONS:
        head, _, tail = name.partition(".")
        value = conditions.get(head)
        if tail and isinstance(value, Mapping):
            value = value.get(tail)
        elif tail:
            value = None
        if value:
            found.append(name)
    client_app_types = _list(conditions, "clientAppTypes") or ["all"]
    if [str(t).lower() for t in client_app_types] != ["all"]:
        # Browser vs. public client is known to the identity provider, not to the resource.
        found.append("clientAppTypes")
    users = _section(conditions, "users")
    if users.get("includeGuestsOrExternalUsers") or users.get("excludeGuestsOrExternalUsers"):
        found.append("users.guestsOrExternalUsers")
    return found


def parse_policy(data: Mapping[str, Any]) -> Policy:
    """Parse one ``conditionalAccessPolicy`` object; raises :class:`ConfigurationError`."""
    if not isinstance(data, Mapping):
        raise ConfigurationError("a policy must be a JSON object")
    policy_id = data.get("id") or data.get("displayName")
    if not isinstance(policy_id, str) or not policy_id:
        raise ConfigurationError("a policy needs an 'id' or a 'displayName'")
    try:
        state = PolicyState(data.get("state", "enabled"))
    except ValueError:
        raise ConfigurationError(
            f"policy {policy_id}: unknown state {data.get('state')!r}"
        ) from None
    conditions = _section(data, "conditions")
    users = _section(conditions, "users")
    applications = _section(conditions, "applications")
    client_apps = _section(conditions, "clientApplications")
    platforms = _section(conditions, "platforms")
    locations = _section(conditions, "locations")
    grant_data = _section(data, "grantControls")
    operator = str(grant_data.get("operator") or "OR").upper()
    if operator not in ("OR", "AND"):
        raise ConfigurationError(f"policy {policy_id}: grant operator must be OR or AND")
    built_in = _lower_set(grant_data, "builtInControls")
    others = [f"termsOfUse:{t}" for t in _list(grant_data, "termsOfUse")]
    others += [f"custom:{c}" for c in _list(grant_data, "customAuthenticationFactors")]
    if grant_data.get("authenticationStrength"):
        others.append("authenticationStrength")
    include_users = _lower_set(users, "includeUsers")
    return Policy(
        id=policy_id,
        name=str(data.get("displayName") or policy_id),
        state=state,
        users=Selection(include_users, _lower_set(users, "excludeUsers")),
        groups=Selection.read(users, "includeGroups", "excludeGroups"),
        roles=Selection.read(users, "includeRoles", "excludeRoles"),
        guests_included="guestsorexternalusers" in include_users,
        applications=Selection.read(applications, "includeApplications", "excludeApplications"),
        auth_contexts=_lower_set(applications, "includeAuthenticationContextClassReferences"),
        client_apps=_service_principal_selection(client_apps),
        platforms=Selection.read(platforms, "includePlatforms", "excludePlatforms"),
        locations=Selection.read(locations, "includeLocations", "excludeLocations"),
        user_risk_levels=_lower_set(conditions, "userRiskLevels"),
        service_principal_risk_levels=_lower_set(conditions, "servicePrincipalRiskLevels"),
        grant=GrantControls(operator, built_in, tuple(others)),
        unobservable=tuple(_unobservable(conditions)),
    )


def load_policies(source: str | bytes | Mapping[str, Any] | Sequence[Any]) -> list[Policy]:
    """Load policies from JSON text or parsed JSON: a list of policies, one policy, or Graph's
    list response ``{"value": [...]}`` (as ``GET /identity/conditionalAccess/policies``
    returns). Raises :class:`ConfigurationError` on anything else."""
    data: Any = source
    if isinstance(source, (str, bytes)):
        if len(source) > MAX_POLICIES_JSON:
            raise ConfigurationError("policy document is too large")
        try:
            data = json.loads(source)
        except (ValueError, RecursionError):
            raise ConfigurationError("policy document is not valid JSON") from None
    if isinstance(data, Mapping):
        data = data.get("value", [data])
    if not isinstance(data, Sequence) or isinstance(data, (str, bytes)):
        raise ConfigurationError("policy document must be a list of policies")
    policies = [parse_policy(item) for item in data]
    ids = [p.id for p in policies]
    if len(set(ids)) != len(ids):
        raise ConfigurationError("policy ids must be unique")
    return policies
