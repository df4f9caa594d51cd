"""Does a policy apply to this request? Each condition of ``conditionalAccessConditionSet``
evaluated to met, not met or undecided from what the resource observes; a policy applies when
all its configured conditions are met (Entra docs "Building a Conditional Access policy")."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Literal

from .._revocation import risk_text
from ..tokens import TokenClaims
from ._app_groups import applications_selected
from ._facts import RequestFacts
from ._guests import guest_selected
from ._model import EVERY_GUEST, GuestSelection, Policy, Selection
from ._platforms import KNOWN_PLATFORMS
from ._tri import Tri, all_of, any_of, negate, undecided
from ._where import agree

__all__ = ["client_app_types_met", "conditions_met"]

_USER_KEYWORDS = frozenset({"all", "none", "guestsorexternalusers"})
_OBJECT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# conditionalAccessConditionSet.clientAppTypes. A bearer token is issued to a modern
# authentication client, which Entra calls a browser or a mobile app / desktop client
# ("modern" is the deprecated name of mobileAppsAndDesktopClients); Exchange ActiveSync and
# "other clients" are legacy authentication, which never presents an OAuth bearer token.
_MODERN = frozenset({"browser", "mobileappsanddesktopclients"})
_MODERN_ALIASES = {"modern": "mobileappsanddesktopclients"}
_LEGACY = frozenset({"exchangeactivesync", "eassupported", "easunsupported", "other"})


def _confidential_client(claims: TokenClaims) -> bool | None:
    """Whether the client authenticated with a secret or a certificate: ``azpacr`` (v2.0) /
    ``appidacr`` (v1.0) 1 or 2; 0 is a public client (access token claims reference)."""
    value = claims.get("azpacr", claims.get("appidacr"))
    if value in ("1", "2", 1, 2) and not isinstance(value, bool):
        return True
    if value in ("0", 0) and not isinstance(value, bool):
        return False
    return None


def client_app_types_met(types: frozenset[str], claims: TokenClaims | None = None) -> Tri:
    """``clientAppTypes`` for a bearer token. Entra docs "Conditional Access: Conditions",
    client apps: "Browser" includes "services registered as an OAuth confidential client", so
    a token a confidential client obtained is a browser's; a public client may be a mobile or
    desktop app or a single-page app in a browser."""
    if not types or "all" in types:
        return True
    named = frozenset(_MODERN_ALIASES.get(t, t) for t in types)
    if named >= _MODERN:
        return True
    if named <= _LEGACY:
        return False
    if named & _MODERN:
        confidential = _confidential_client(claims) if claims is not None else None
        if confidential:
            return "browser" in named
        return undecided(
            "conditions.clientAppTypes: a resource cannot tell a browser from a mobile or "
            "desktop client (the token shows a public client, or no azpacr / appidacr)"
        )
    return undecided(f"conditions.clientAppTypes: {', '.join(sorted(named - _LEGACY))}")


def _selected(selection: Selection, values: frozenset[str]) -> bool:
    """Graph semantics: included (``all`` or a listed value) and not excluded (``all`` or a
    listed value)."""
    included = "all" in selection.include or bool(selection.include & values)
    return included and not ("all" in selection.exclude or selection.exclude & values)


def _membership(values: frozenset[str], facts: RequestFacts, claim: str, where: str) -> Tri:
    """Whether the token's ``groups`` or ``wids`` claim holds one of ``values``.

    A listed id shows membership. An id missing from ``wids`` (every tenant-wide role of the
    user, access token claims reference) shows none. An id missing from ``groups`` shows
    none only when the operator vouches that the claim lists every group as object ids
    (:attr:`PolicyOptions.groups_claim_complete`): Conditional Access counts any group type
    and nested membership, while a ``groups`` claim may hold security groups only, only the
    groups assigned to the application (no nesting), a filtered list, or on-premises names
    (Entra docs "Configure group claims for applications")."""
    if not values:
        return False
    held = facts.held(claim)
    if held is None:
        names = facts.claims.get("_claim_names")
        if isinstance(names, Mapping) and claim in names:
            return undecided(f"{where}: the {claim} claim is an overage reference")
        return undecided(f"{where}: the token has no {claim} claim")
    if values & held:
        return True
    if claim != "groups":
        return False
    if not facts.context.groups_claim_complete:
        return undecided(
            f"{where}: the groups claim does not list the group, and a groups claim may "
            "leave groups out (see PolicyOptions.groups_claim_complete)"
        )
    if not all(_OBJECT_ID.fullmatch(group) for group in held):
        return undecided(f"{where}: the groups claim holds names, not group object ids")
    return False


def _listed_users(ids: frozenset[str], oid: str, where: str) -> Tri:
    listed = ids - _USER_KEYWORDS
    if not listed:
        return False
    if not oid:
        return undecided(f"{where}: the token has no oid claim")
    return oid in listed


def _user_side(
    policy: Policy, facts: RequestFacts, oid: str, side: Literal["include", "exclude"]
) -> Iterator[Tri]:
    """Whether the user is in the ``include`` or the ``exclude`` side (``side``) of the users
    condition: listed, in a listed group or role, or a selected guest."""
    where = f"conditions.users.{side}"
    users: frozenset[str] = getattr(policy.users, side)
    yield "all" in users
    yield _listed_users(users, oid, f"{where}Users")
    yield _membership(getattr(policy.groups, side), facts, "groups", f"{where}Groups")
    yield _membership(getattr(policy.roles, side), facts, "wids", f"{where}Roles")
    if "guestsorexternalusers" in users:
        yield guest_selected(EVERY_GUEST, facts.account, f"{where}Users")
    guests: GuestSelection | None = getattr(policy, f"{side}_guests")
    if guests is not None:
        yield guest_selected(guests, facts.account, f"{where}GuestsOrExternalUsers")


def _users_met(policy: Policy, facts: RequestFacts) -> Tri:
    oid = (facts.claims.object_id or "").lower()
    included = any_of(_user_side(policy, facts, oid, "include"))
    if included is False:
        return False
    return all_of([included, negate(any_of(_user_side(policy, facts, oid, "exclude")))])


def _tenant_met(tenant: str, tid: str | None) -> Tri:
    """A tenant's policies apply to sign-ins to that tenant: the token's ``tid`` ("the tenant
    that the user is signing in to", access token claims reference)."""
    if not tid:
        return undecided("the token has no tid claim: its tenant is not known")
    return tid.strip().lower() == tenant


def _service_principal_selected(selection: Selection, object_id: str | None) -> Tri:
    """``clientApplications`` for an app-only token. Conditional Access names a service
    principal by its object id, the token's ``oid`` (Entra docs "Conditional Access for
    workload identities", "Finding the objectID"), never by the application id. The policy
    covers single-tenant service principals registered in the tenant only: "Third party SaaS
    and multi-tenanted apps are out of scope. Managed identities are not covered by policy."
    A token does not show which kind of service principal calls, so ``ServicePrincipalsInMyTenant``
    selects a service principal only when it is listed by id."""
    where = "conditions.clientApplications"
    oid = (object_id or "").lower()
    listed = selection.include - {"all"}
    if not oid:
        if listed or selection.exclude:
            return undecided(f"{where}: the token has no oid claim (the service principal id)")
        return undecided(f"{where}: ServicePrincipalsInMyTenant: {_WHICH_KIND}")
    if oid in selection.exclude:
        return False
    if oid in listed:
        return True
    if "all" in selection.include:
        return undecided(f"{where}: ServicePrincipalsInMyTenant: {_WHICH_KIND}")
    return False


_WHICH_KIND = (
    "it covers single-tenant service principals registered in the tenant only (not managed "
    "identities or multitenant apps), and a token does not show which kind calls"
)


def _risk_met(levels: frozenset[str], level: str | None, what: str) -> Tri:
    if not levels:
        return True
    if level is None:
        return undecided(f"conditions.{what}: the risk level is not known here")
    return (risk_text(level) or "none") in levels


def _target_met(policy: Policy, facts: RequestFacts) -> Tri:
    context = facts.context
    if policy.user_actions:
        # A user action (registering security info or a device) is not access to a resource.
        return False
    if policy.auth_contexts:
        return bool(policy.auth_contexts & context.auth_contexts)
    return applications_selected(policy.applications, context.app_ids)


def _locations_met(policy: Policy, facts: RequestFacts) -> Tri:
    selection = policy.locations
    if not selection.configured:
        return True
    modes = sorted(facts.modes_for(policy))
    return agree(
        (facts.where.condition(selection, mode) for mode in modes),
        lambda: (
            "locations: the client IP and the token's ipaddr disagree, and whether this "
            "session's CAE location enforcement is "
            + " or ".join(mode.value for mode in modes)
            + " is undecided"
        ),
    )


def _platforms_met(policy: Policy, facts: RequestFacts) -> Tri:
    selection = policy.platforms
    if not selection.configured:
        return True
    # The unknown platform matches "all" minus the listed ones: that is how a policy set
    # catches spoofed or missing User-Agents (device platform detection is best effort).
    # A platform name the engine does not detect (a value Graph adds later) may be the
    # unknown platform: undecided for it, never "not that platform".
    platform = facts.platform
    if platform is not None:
        return _selected(selection, frozenset({platform}))

    def names_undetected(values: frozenset[str], where: str) -> Tri:
        other = sorted(values - KNOWN_PLATFORMS - {"all"})
        if not other:
            return False
        return undecided(f"conditions.platforms.{where}: {', '.join(other)} is not detected")

    included = "all" in selection.include or names_undetected(selection.include, "include")
    excluded = "all" in selection.exclude or names_undetected(selection.exclude, "exclude")
    return all_of([included, negate(excluded)])


def _checks(policy: Policy, facts: RequestFacts) -> Iterator[Tri]:
    """The conditions of ``policy``, cheapest and most selective first (evaluation stops at
    the first one observed not to match)."""
    claims = facts.claims
    context = facts.context
    if context.tenant_id is not None:
        yield _tenant_met(context.tenant_id, claims.tenant_id)
    workload = policy.targets_workload_identities
    # Workload-identity policies apply only when a service principal asks for a token for
    # itself (Entra docs "Conditional Access for workload identities"); user policies never
    # apply to app-only tokens (workload identities need their own).
    yield claims.is_app_only if workload else not claims.is_app_only
    yield _target_met(policy, facts)
    # Conditions answered once per request (shared by the policies) before the per-policy
    # user and service principal selections, whose undecided answers would not stop early.
    yield client_app_types_met(policy.client_app_types, claims)
    yield _platforms_met(policy, facts)
    yield _locations_met(policy, facts)
    if workload:
        yield _service_principal_selected(policy.client_apps, claims.object_id)
        yield _risk_met(
            policy.service_principal_risk_levels,
            context.service_principal_risk,
            "servicePrincipalRiskLevels",
        )
    else:
        yield _users_met(policy, facts)
        if policy.client_apps.configured:
            # Graph documents clientApplications as service principals (workload identities);
            # what they would select among a user's requests is not documented.
            yield undecided("conditions.clientApplications: service principals on a user policy")
        yield _risk_met(policy.user_risk_levels, context.user_risk, "userRiskLevels")
    for name in policy.unsupported:
        yield undecided(f"{name} is not evaluated by a resource")


def conditions_met(policy: Policy, facts: RequestFacts) -> Tri:
    """Whether every configured condition of ``policy`` holds for the request."""
    return all_of(_checks(policy, facts))
