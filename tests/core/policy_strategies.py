"""Hypothesis strategies: Graph-shaped Conditional Access policies, request contexts, the
conditions a resource cannot observe, and policy documents with one member broken."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from cae_sdk.core.locations import CountryNamedLocation, NamedLocation
from cae_sdk.core.policies import PolicyContext
from cae_sdk.core.tokens import TokenClaims

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
HOME = "0b2f14e2-91f9-4876-9f59-3cb09b4ec310"
OID = "aaaaaaaa-0000-0000-0000-000000000001"
API = "11111111-2222-3333-4444-555555555555"
APP = "cccccccc-0000-0000-0000-000000000002"
G1 = "a1a1a1a1-0000-4000-8000-000000000001"
G2 = "a2a2a2a2-0000-4000-8000-000000000002"
LOCATIONS = (
    NamedLocation.from_cidrs("hq", "HQ", ["10.0.0.0/8", "2001:db8::/48"], trusted=True),
    NamedLocation.from_cidrs("lab", "Lab", ["192.0.2.0/24"]),
    CountryNamedLocation("eu", "EU", frozenset({"NL", "DE"})),
    CountryNamedLocation("gps", "GPS", frozenset({"NL"}), lookup="authenticatorAppGps"),
)


def _subset(values: list[str], max_size: int = 3) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), max_size=max_size, unique=True)


_GUEST_TYPES = [
    "internalGuest",
    "b2bCollaborationGuest",
    "b2bCollaborationMember",
    "b2bDirectConnectUser",
    "otherExternalUser",
    "serviceProvider",
]


@st.composite
def guest_selections(draw: st.DrawFn) -> dict[str, Any]:
    types = draw(st.lists(st.sampled_from(_GUEST_TYPES), min_size=1, max_size=3, unique=True))
    tenants: dict[str, Any] = {"membershipKind": "all"}
    if draw(st.booleans()):
        tenants = {"membershipKind": "enumerated", "members": draw(_subset([HOME, TENANT], 2))}
    return {"guestOrExternalUserTypes": ",".join(types), "externalTenants": tenants}


_CLIENT_APP_TYPES = ["all", "browser", "mobileAppsAndDesktopClients", "exchangeActiveSync", "other"]


@st.composite
def policies(draw: st.DrawFn, index: int = 0) -> dict[str, Any]:
    workload = draw(st.integers(0, 5)) == 0
    conditions: dict[str, Any] = {
        "applications": {
            "includeApplications": draw(_subset(["All", API, "other-api", "Office365"])),
            "excludeApplications": draw(_subset([API, "Office365"], 1)),
        },
        "clientAppTypes": draw(_subset(_CLIENT_APP_TYPES)),
    }
    if workload:
        conditions["users"] = {"includeUsers": ["None"]}
        conditions["clientApplications"] = {
            "includeServicePrincipals": draw(
                st.lists(st.sampled_from(["ServicePrincipalsInMyTenant", APP]), min_size=1)
            ),
            "excludeServicePrincipals": draw(_subset([APP], 1)),
        }
        conditions["servicePrincipalRiskLevels"] = draw(_subset(["low", "medium", "high"]))
    else:
        users: dict[str, Any] = {
            "includeUsers": draw(_subset(["All", OID, "someone", "GuestsOrExternalUsers"])),
            "excludeUsers": draw(_subset([OID, "GuestsOrExternalUsers"], 1)),
            "includeGroups": draw(_subset([G1, G2])),
            "excludeGroups": draw(_subset([G1, G2], 1)),
            "includeRoles": draw(_subset(["r1"], 1)),
        }
        if draw(st.booleans()):
            users["includeGuestsOrExternalUsers"] = draw(guest_selections())
        if draw(st.booleans()):
            users["excludeGuestsOrExternalUsers"] = draw(guest_selections())
        conditions["users"] = users
        conditions["userRiskLevels"] = draw(_subset(["low", "medium", "high"]))
    if draw(st.booleans()):
        conditions["platforms"] = {
            "includePlatforms": draw(_subset(["all", "iOS", "android", "windows"])),
            "excludePlatforms": draw(_subset(["iOS", "windows", "linux"], 2)),
        }
    if draw(st.booleans()):
        ids = ["All", "AllTrusted", "hq", "lab", "eu", "gps", "unknown-id"]
        conditions["locations"] = {
            "includeLocations": draw(_subset(ids)),
            "excludeLocations": draw(_subset(ids[1:], 2)),
        }
    session: dict[str, Any] | None = None
    if draw(st.integers(0, 4)) == 0:
        mode = draw(st.sampled_from(["strictEnforcement", "disabled", "strictLocation"]))
        session = {"continuousAccessEvaluation": {"mode": mode}}
    return {
        "id": f"P{index}",
        "displayName": f"P{index}",
        "sessionControls": session,
        "state": draw(st.sampled_from(["enabled", "enabledForReportingButNotEnforced"])),
        "conditions": conditions,
        "grantControls": {
            "operator": draw(st.sampled_from(["OR", "AND"])),
            "builtInControls": draw(
                st.lists(
                    st.sampled_from(["block", "mfa", "compliantDevice"]), max_size=2, unique=True
                )
            ),
        },
    }


@st.composite
def contexts(draw: st.DrawFn) -> PolicyContext:
    app_only = draw(st.integers(0, 4)) == 0
    claims: dict[str, Any] = {
        "iss": f"https://login.microsoftonline.com/{TENANT}/v2.0",
        "tid": TENANT,
        "oid": draw(st.sampled_from([OID, "another", None])),
        "azp": APP,
    }
    if app_only:
        claims["idtyp"] = "app"
    else:
        claims["scp"] = "access_as_user"
        if draw(st.booleans()):
            claims["amr"] = draw(_subset(["pwd", "mfa", "rsa", "wiaormfa"]))
        claims["acrs"] = draw(_subset(["c1", "c2"]))
        for name, values in (("groups", [G1, G2, "CONTOSO\\Sales"]), ("wids", ["r1"])):
            if draw(st.booleans()):
                claims[name] = draw(_subset(values))
        if draw(st.booleans()):
            claims["acct"] = draw(st.sampled_from([0, 1]))
        if draw(st.booleans()):
            claims["idp"] = draw(st.sampled_from([f"https://sts.windows.net/{HOME}/", "live.com"]))
    claims["ipaddr"] = draw(st.sampled_from([None, "10.9.9.9", "198.51.100.3"]))
    country = draw(st.sampled_from([None, "NL", "US", "none"]))
    geolocation = None
    if country is not None:
        geolocation = (lambda _ip: None) if country == "none" else (lambda _ip: country)
    return PolicyContext(
        claims=TokenClaims({k: v for k, v in claims.items() if v is not None}),
        client_ip=draw(st.sampled_from([None, "10.1.2.3", "192.0.2.9", "203.0.113.5", "::1"])),
        user_agent=draw(
            st.sampled_from([None, "curl/8", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"])
        ),
        app_ids=frozenset({API.lower()}),
        auth_contexts=frozenset(draw(_subset(["c1"], 1))),
        named_locations=LOCATIONS,
        user_risk=draw(st.sampled_from([None, "none", "high"])),
        service_principal_risk=draw(st.sampled_from([None, "none", "high"])),
        mfa_auth_context=draw(st.sampled_from([None, "c2"])),
        geolocation=geolocation,
        groups_claim_complete=draw(st.booleans()),
        strict_locations=draw(st.integers(0, 3)) == 0,
    )


def _add(policy: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(policy)
    target = changed
    for key in path[:-1]:
        if target.get(key) is None:
            target[key] = {}
        target = target[key]
    target[path[-1]] = value
    return changed


UNOBSERVABLE = [
    (("conditions", "signInRiskLevels"), ["high", "medium"]),
    (("conditions", "insiderRiskLevels"), "elevated"),
    (("conditions", "devices"), {"deviceFilter": {"mode": "include", "rule": "device.x -eq 1"}}),
    (("conditions", "deviceStates"), {"includeStates": ["All"], "excludeStates": ["Compliant"]}),
    (("conditions", "authenticationFlows"), {"transferMethods": "deviceCodeFlow"}),
    (("conditions", "aConditionFromTheFuture"), {"enabled": True}),
    (("conditions", "applications", "applicationFilter"), {"mode": "include", "rule": "x"}),
    (("conditions", "users", "includeFutureKind"), ["x"]),
    (("conditions", "locations", "futureLocationKind"), ["x"]),
    (("conditions", "clientApplications", "servicePrincipalFilter"), {"mode": "include"}),
    (("sessionControls", "aControlFromTheFuture"), {"isEnabled": True}),
    (("sessionControls", "continuousAccessEvaluation"), {"mode": "aModeFromTheFuture"}),
    (("partialEnablementStrategy",), {"mode": "gradual"}),
    (("grantControls", "aControlFromTheFuture"), ["x"]),
]


@st.composite
def with_unobservable_condition(draw: st.DrawFn, policy: dict[str, Any]) -> dict[str, Any]:
    path, value = draw(st.sampled_from(UNOBSERVABLE))
    return _add(policy, path, value)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def broken_policies(draw: st.DrawFn) -> Any:
    """A valid policy with one member (at any depth) replaced by arbitrary JSON."""
    policy = draw(policies())
    paths: list[tuple[str, ...]] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append((*path, key))
                walk(value, (*path, key))

    walk(policy, ())
    path = draw(st.sampled_from(paths))
    return _add(policy, path, draw(JSON))
