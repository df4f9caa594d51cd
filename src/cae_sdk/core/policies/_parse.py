"""Read Graph ``conditionalAccessPolicy`` JSON into :class:`Policy` values, member by member.

Every member the engine reads has one JSON type; a wrong type is a :class:`ConfigurationError`
naming the policy and the member. Members the engine does not evaluate are type-checked where
Graph documents their type, and a *configured* one (not null, not empty) is recorded in
:attr:`Policy.unsupported`: the policy is then undecided, never evaluated without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._document import graph_collection, graph_object, parse_json_document
from .._members import Members
from ..errors import ConfigurationError
from ._model import (
    Enforcement,
    GrantControls,
    GuestSelection,
    Policy,
    PolicyState,
    Selection,
)
from ._session import configured_session_controls

__all__ = ["load_policies", "parse_policy"]

# conditionalAccessConditionSet members the engine evaluates.
_EVALUATED = (
    "users",
    "applications",
    "clientApplications",
    "clientAppTypes",
    "platforms",
    "locations",
    "userRiskLevels",
    "servicePrincipalRiskLevels",
)
# Members Graph documents that the engine does not evaluate (a resource cannot see them):
# lists of strings and objects. Anything else unknown is reported by name when configured.
_UNSUPPORTED_LISTS = ("signInRiskLevels",)
_UNSUPPORTED_OBJECTS = ("devices", "deviceStates", "authenticationFlows", "times")
_KNOWN_CONDITIONS = (*_EVALUATED, *_UNSUPPORTED_LISTS, "insiderRiskLevels")

_USERS = (
    "includeUsers",
    "excludeUsers",
    "includeGroups",
    "excludeGroups",
    "includeRoles",
    "excludeRoles",
    "includeGuestsOrExternalUsers",
    "excludeGuestsOrExternalUsers",
)
_APPLICATIONS = (
    "includeApplications",
    "excludeApplications",
    "includeUserActions",
    "includeAuthenticationContextClassReferences",
)
_POLICY_MEMBERS = (
    "id",
    "displayName",
    "description",
    "state",
    "createdDateTime",
    "modifiedDateTime",
    "deletedDateTime",
    "templateId",
    "conditions",
    "grantControls",
    "sessionControls",
)
_CLIENT_APPLICATIONS = ("includeServicePrincipals", "excludeServicePrincipals")
_GRANT = (
    "operator",
    "builtInControls",
    "customAuthenticationFactors",
    "termsOfUse",
    "authenticationStrength",
)

# Graph's keyword for every service principal of the tenant in
# conditionalAccessClientApplications.includeServicePrincipals (Graph v1.0 resource type page).
_ALL_SERVICE_PRINCIPALS = "serviceprincipalsinmytenant"


def _selection(section: Members | None, include: str, exclude: str) -> Selection:
    if section is None:
        return Selection()
    return Selection(section.lowered(include), section.lowered(exclude))


def _guests(users: Members, key: str) -> GuestSelection | None:
    section = users.section(key)
    if section is None or not users.configured(key):
        return None
    types = section.flags("guestOrExternalUserTypes")
    if not types:
        return None
    tenants = section.section("externalTenants")
    unknown = section.configured_outside(("guestOrExternalUserTypes", "externalTenants"))
    if tenants is not None:
        unknown += tenants.configured_outside(("membershipKind", "members"))
    kind = (tenants.text("membershipKind") or "all").lower() if tenants else "all"
    if kind not in ("all", "enumerated"):
        unknown.append(f"{section.name('externalTenants')} {kind!r}")
    unsupported = ", ".join(unknown) or None
    if kind == "enumerated" and tenants is not None:
        return GuestSelection(types, tenants.lowered("members"), unsupported)
    return GuestSelection(types, None, unsupported)


def _grant(data: Members) -> GrantControls:
    grant = data.section("grantControls")
    if grant is None:
        return GrantControls()
    operator = (grant.text("operator") or "OR").upper()
    if operator not in ("OR", "AND"):
        raise ConfigurationError(f"{data.owner}: grantControls.operator must be OR or AND")
    others = [f"termsOfUse:{t}" for t in grant.strings("termsOfUse")]
    custom = grant.strings("customAuthenticationFactors")
    others += [f"customAuthenticationFactors:{c}" for c in custom]
    grant.check_object_or_null("authenticationStrength")
    if grant.configured("authenticationStrength"):
        others.append("authenticationStrength")
    # A control Graph adds later is still a control: it cannot be shown by a token.
    others += grant.configured_outside(_GRANT)
    return GrantControls(operator, grant.lowered("builtInControls"), tuple(others))


# continuousAccessEvaluationSessionControl.mode (Graph): strictEnforcement, disabled,
# unknownFutureValue, strictLocation.
_CAE_MODES = {
    "strictenforcement": Enforcement.STRICT,
    "strictlocation": Enforcement.STRICT,
    "disabled": Enforcement.DISABLED,
}


def _cae_mode(session: Members, unsupported: list[str]) -> Enforcement | None:
    cae = session.section("continuousAccessEvaluation")
    if cae is None:
        return None
    unsupported += cae.configured_outside(("mode",))
    mode = cae.text("mode")
    if mode is None:
        return None
    known = _CAE_MODES.get(mode.strip().lower())
    if known is None:
        unsupported.append(f"{cae.name('mode')} {mode!r}")
        return Enforcement.UNKNOWN
    return known


def _users(conditions: Members, unsupported: list[str]) -> Members | None:
    users = conditions.section("users")
    if users is not None:
        unsupported += users.configured_outside(_USERS)
    return users


def _applications(conditions: Members, unsupported: list[str]) -> Members | None:
    applications = conditions.section("applications")
    if applications is not None:
        applications.check_object_or_null("applicationFilter")
        unsupported += applications.configured_outside(_APPLICATIONS)
    return applications


def _client_applications(conditions: Members, unsupported: list[str]) -> Selection:
    section = conditions.section("clientApplications")
    if section is None:
        return Selection()
    section.check_object_or_null("servicePrincipalFilter", "agentIdServicePrincipalFilter")
    unsupported += section.configured_outside(_CLIENT_APPLICATIONS)
    selection = _selection(section, "includeServicePrincipals", "excludeServicePrincipals")
    if _ALL_SERVICE_PRINCIPALS not in selection.include:
        return selection
    return Selection((selection.include - {_ALL_SERVICE_PRINCIPALS}) | {"all"}, selection.exclude)


def _identity(data: Any, index: int | None) -> tuple[Members, str]:
    hint = None
    if isinstance(data, Mapping):
        hint = data.get("id") or data.get("displayName")
    owner = f"policy {hint!r}" if isinstance(hint, str) and hint else "policy"
    if owner == "policy" and index is not None:
        owner = f"policy #{index + 1}"
    members = Members(data, owner)
    policy_id = members.text("id") or members.text("displayName")
    if not policy_id:
        raise ConfigurationError(f"{owner}: a policy needs an 'id' or a 'displayName'")
    return members, policy_id


def parse_policy(data: Mapping[str, Any], *, index: int | None = None) -> Policy:
    """Parse one ``conditionalAccessPolicy`` object, as Graph writes it or as an SDK exports
    it (PascalCase members, ``AdditionalProperties``); raises :class:`ConfigurationError`."""
    where = f"policy #{index + 1}" if index is not None else "policy"
    members, policy_id = _identity(graph_object(data, where), index)
    state_text = members.text("state") or "enabled"
    try:
        state = PolicyState(state_text)
    except ValueError:
        raise ConfigurationError(f"{members.owner}: unknown state {state_text!r}") from None
    members.text("description")
    members.text("templateId")
    unsupported: list[str] = []
    # conditionalAccessPolicy members that describe the policy rather than its effect; any
    # other configured member (a beta one such as partialEnablementStrategy, or one Graph
    # adds later) may change when it applies, so the policy is undecided, never read without.
    unsupported += members.configured_outside(_POLICY_MEMBERS)
    members.check_object_or_null("sessionControls")
    conditions = members.section("conditions")
    if conditions is None:
        if members.raw("details") is not None and members.raw("scenarios") is not None:
            # Graph "Get conditionalAccessTemplate": name, scenarios, details.
            raise ConfigurationError(
                f"{members.owner} is a conditionalAccessTemplate, not a policy: create a "
                "policy from its details (conditions, grantControls, sessionControls), with a "
                "displayName and a state"
            )
        raise ConfigurationError(f"{members.owner}: 'conditions' is required")
    users = _users(conditions, unsupported)
    applications = _applications(conditions, unsupported)
    if applications is None:
        raise ConfigurationError(f"{members.owner}: 'conditions.applications' is required")
    if users is None and conditions.section("clientApplications") is None:
        raise ConfigurationError(
            f"{members.owner}: 'conditions.users' or 'conditions.clientApplications' is required"
        )
    client_apps = _client_applications(conditions, unsupported)
    for key in _UNSUPPORTED_LISTS:
        if conditions.strings(key):
            unsupported.append(conditions.name(key))
    if conditions.flags("insiderRiskLevels"):  # a flags enum: "minor,moderate,elevated"
        unsupported.append(conditions.name("insiderRiskLevels"))
    conditions.check_object_or_null(*_UNSUPPORTED_OBJECTS)
    unsupported += conditions.configured_outside(_KNOWN_CONDITIONS)
    session = members.section("sessionControls")
    cae_mode = _cae_mode(session, unsupported) if session is not None else None
    session_controls = configured_session_controls(session, unsupported)
    platforms = conditions.section("platforms")
    if platforms is not None:
        unsupported += platforms.configured_outside(("includePlatforms", "excludePlatforms"))
    locations = conditions.section("locations")
    if locations is not None:
        unsupported += locations.configured_outside(("includeLocations", "excludeLocations"))
    grant = _grant(members)
    return Policy(
        id=policy_id,
        name=members.text("displayName") or policy_id,
        state=state,
        users=_selection(users, "includeUsers", "excludeUsers"),
        groups=_selection(users, "includeGroups", "excludeGroups"),
        roles=_selection(users, "includeRoles", "excludeRoles"),
        applications=_selection(applications, "includeApplications", "excludeApplications"),
        auth_contexts=applications.lowered("includeAuthenticationContextClassReferences"),
        client_apps=client_apps,
        platforms=_selection(platforms, "includePlatforms", "excludePlatforms"),
        locations=_selection(locations, "includeLocations", "excludeLocations"),
        user_risk_levels=conditions.lowered("userRiskLevels"),
        service_principal_risk_levels=conditions.lowered("servicePrincipalRiskLevels"),
        grant=grant,
        unsupported=tuple(dict.fromkeys(unsupported)),
        include_guests=_guests(users, "includeGuestsOrExternalUsers") if users else None,
        exclude_guests=_guests(users, "excludeGuestsOrExternalUsers") if users else None,
        user_actions=applications.lowered("includeUserActions"),
        client_app_types=conditions.lowered("clientAppTypes"),
        sign_in_risk_levels=conditions.lowered("signInRiskLevels"),
        session_controls=session_controls,
        cae_mode=cae_mode,
        modified=members.text("modifiedDateTime") or members.text("createdDateTime"),
        deleted=members.text("deletedDateTime"),
    )


def load_policies(source: str | bytes | Mapping[str, Any] | Sequence[Any]) -> list[Policy]:
    """Load policies from JSON text (at most ``MAX_DOCUMENT_BYTES``) or parsed JSON: a list
    of policies, one policy, or Graph's list response ``{"value": [...]}`` (as
    ``GET /identity/conditionalAccess/policies`` returns) holding every policy: a page with
    ``@odata.nextLink`` is refused, as the policies on the other pages would be skipped.
    Raises :class:`ConfigurationError` on anything else."""
    data: Any = source
    if isinstance(source, (str, bytes)):
        data = parse_json_document(source, "policy document")
    data = graph_collection(data, "a policy document")
    policies = [parse_policy(item, index=index) for index, item in enumerate(data)]
    ids = [p.id for p in policies]
    if len(set(ids)) != len(ids):
        raise ConfigurationError("policy ids must be unique")
    return policies
