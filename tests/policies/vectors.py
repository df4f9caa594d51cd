"""Policy vectors built from Microsoft's documented Conditional Access JSON, each with the
decision Microsoft's documentation implies for one request, and the source beside it.

Expected decisions: ``allow``; ``challenge`` (a claims challenge for ``claims``); ``block`` (a
403 refusal: a block control, or MFA the token cannot show and nothing can ask for); and
``undecided`` (allowed at the resource, with the policy reported as undecided because what
decides it is invisible to a resource; the identity provider enforced it at issuance).

Where Microsoft documents a policy as portal steps rather than JSON, the policy is the Graph
JSON those steps produce (``conditionalAccessPolicy`` v1.0 members), noted beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
HOME = "0b2f14e2-91f9-4876-9f59-3cb09b4ec310"  # a guest's home tenant
OID = "a702a13d-a437-4a07-8a7e-8c052de62dfd"
API = "11111111-2222-3333-4444-555555555555"
EXO = "00000002-0000-0ff1-ce00-000000000000"
APP = "cccccccc-0000-0000-0000-000000000002"
SP_OID = "dddddddd-0000-0000-0000-000000000003"
GROUP = "ba8e7ded-8b0f-4836-ba06-8ff1ecc5c8ba"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
V1_ISSUER = f"https://sts.windows.net/{TENANT}/"
V2_ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"
OTHER_TENANT = "3c9b2a1d-5e4f-4a3b-9c8d-7e6f5a4b3c2d"  # signs in to a multitenant API
OTHER_V2_ISSUER = f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0"
WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"
CURL = "curl/8.5.0"

GRAPH_CREATE_POLICY = (
    "https://learn.microsoft.com/graph/api/conditionalaccessroot-post-policies?view=graph-rest-1.0"
)
GRAPH_TEMPLATE = (
    "https://learn.microsoft.com/graph/api/conditionalaccesstemplate-get?view=graph-rest-1.0"
)
GRAPH_CREATE_LOCATION = (
    "https://learn.microsoft.com/graph/api/conditionalaccessroot-post-namedlocations"
    "?view=graph-rest-1.0"
)
ENTRA = "https://learn.microsoft.com/entra/identity/conditional-access/"
TOKEN_CLAIMS = "https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference"

# A trusted corporate network, as a Graph ipNamedLocation ("Create namedLocation" shape).
TRUSTED_NETWORK = {
    "@odata.type": "#microsoft.graph.ipNamedLocation",
    "id": "3f2c1f5e-0000-4000-8000-00000000c0a1",
    "displayName": "Corporate network",
    "isTrusted": True,
    "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "10.0.0.0/8"}],
}
# Graph "Create namedLocation" example 1, with the id of its response.
UNTRUSTED_IP_LOCATION = {
    "@odata.type": "#microsoft.graph.ipNamedLocation",
    "id": "0854951d-5fc0-4eb1-b392-9b2c9d7949c2",
    "displayName": "Untrusted IP named location",
    "isTrusted": False,
    "ipRanges": [
        {"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "12.34.221.11/22"},
        {
            "@odata.type": "#microsoft.graph.iPv6CidrRange",
            "cidrAddress": "2001:0:9d38:90d6:0:0:0:0/63",
        },
    ],
}
# Graph "Create namedLocation" example 2, with the id of its response.
COUNTRIES_WITH_UNKNOWN = {
    "@odata.type": "#microsoft.graph.countryNamedLocation",
    "id": "1c4427fd-0885-4a3d-8b23-09a899ffa959",
    "displayName": "Named location with unknown countries and regions",
    "countriesAndRegions": ["US", "GB"],
    "includeUnknownCountriesAndRegions": True,
}
# The "non-trusted/unknown regions" location Graph's create example 2 refers to by id.
NON_TRUSTED_REGIONS = {
    "@odata.type": "#microsoft.graph.countryNamedLocation",
    "id": "198ad66e-87b3-4157-85a3-8a7b51794ee9",
    "displayName": "Non-trusted regions",
    "countriesAndRegions": ["KP", "IR"],
    "includeUnknownCountriesAndRegions": False,
}


@dataclass(frozen=True)
class Request:
    claims: dict[str, Any] = field(default_factory=dict)
    """Claims on top of a v2.0 user token for :data:`OID` (``None`` removes one)."""
    ip: str = "203.0.113.5"
    user_agent: str = WINDOWS
    app_id: str = API
    country: str | None = None
    """What the geolocation source answers for ``ip``; None: no geolocation source."""
    user_risk: str = "none"
    sp_risk: str = "none"
    mfa_auth_context: str | None = None
    groups_claim_complete: bool = False
    """``PolicyOptions.groups_claim_complete``: the operator vouches that ``groups`` lists
    every group of the user as object ids."""
    tenant_id: str | None = None
    """``PolicyOptions.tenant_id``: the tenant the policies belong to."""
    strict_locations: bool = False
    """``PolicyOptions.strict_locations``: CAE strict location enforcement for every session."""


@dataclass(frozen=True)
class Vector:
    name: str
    source: str
    policy: dict[str, Any]
    request: Request
    expect: str
    why: str
    locations: tuple[dict[str, Any], ...] = (TRUSTED_NETWORK,)
    claims: dict[str, Any] | None = None
    """The claims request of an expected challenge."""


def user_claims(request: Request) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": V2_ISSUER,
        "ver": "2.0",
        "tid": TENANT,
        "oid": OID,
        "sub": "pairwise-subject",
        "azp": APP,
        "scp": "access_as_user",
        "xms_cc": ["cp1"],
    }
    base.update(request.claims)
    return {k: v for k, v in base.items() if v is not None}


V1_MFA = {"iss": V1_ISSUER, "ver": "1.0", "appid": APP, "azp": None, "amr": ["pwd", "mfa"]}
V1_PWD = {"iss": V1_ISSUER, "ver": "1.0", "appid": APP, "azp": None, "amr": ["pwd"]}
APP_ONLY = {"idtyp": "app", "scp": None, "oid": SP_OID, "roles": ["Data.Read"]}
B2B_GUEST = {"acct": 1, "idp": f"https://sts.windows.net/{HOME}/"}
MEMBER = {"acct": 0}


def acrs(context: str) -> dict[str, Any]:
    return {"access_token": {"acrs": {"essential": True, "value": context}}}


# Graph v1.0 "Create conditionalAccessPolicy", example 1 (response id).
EXO_MFA = {
    "id": "7359d0e0-d8a9-4afa-8a93-e23e099d7be8",
    "displayName": "Access to EXO requires MFA",
    "state": "enabled",
    "conditions": {
        "clientAppTypes": ["mobileAppsAndDesktopClients", "browser"],
        "applications": {"includeApplications": [EXO]},
        "users": {"includeGroups": [GROUP]},
        "locations": {"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]},
    },
    "grantControls": {"operator": "OR", "builtInControls": ["mfa"]},
}
# Example 2 (response id).
EXO_BLOCK_REGIONS = {
    "id": "c98e6c3d-f6ca-42ea-a927-773b6f12a0c2",
    "displayName": "Block access to EXO non-trusted regions.",
    "state": "enabled",
    "conditions": {
        "clientAppTypes": ["all"],
        "applications": {"includeApplications": [EXO]},
        "users": {"includeGroups": [GROUP]},
        "locations": {"includeLocations": ["198ad66e-87b3-4157-85a3-8a7b51794ee9"]},
    },
    "grantControls": {"operator": "OR", "builtInControls": ["block"]},
}
# Example 3, "Use all conditions and controls" (response id; documented as disabled).
ALL_CONDITIONS = {
    "id": "6b5e999b-0ba8-4186-a106-e0296c1c4358",
    "displayName": "Demo app for documentation",
    "state": "disabled",
    "conditions": {
        "signInRiskLevels": ["high", "medium"],
        "clientAppTypes": ["mobileAppsAndDesktopClients", "exchangeActiveSync", "other"],
        "applications": {
            "includeApplications": ["All"],
            "excludeApplications": [
                "499b84ac-1321-427f-aa17-267ca6975798",
                "00000007-0000-0000-c000-000000000000",
                "de8bc8b5-d9f9-48b1-a8ad-b748da725064",
                "00000012-0000-0000-c000-000000000000",
                "797f4846-ba00-4fd7-ba43-dac1f8f63013",
                "05a65629-4c1b-48c1-a78b-804c4abdd4af",
                "7df0a125-d3be-4c96-aa54-591f83ff541c",
            ],
            "includeUserActions": [],
        },
        "users": {
            "includeUsers": [OID],
            "excludeUsers": ["124c5b6a-ffa5-483a-9b88-04c3fce5574a", "GuestsOrExternalUsers"],
            "includeGroups": [],
            "excludeGroups": [],
            "includeRoles": [
                "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
                "cf1c38e5-3621-4004-a7cb-879624dced7c",
                "c4e39bd9-1100-46d3-8c65-fb160da0071f",
            ],
            "excludeRoles": ["b0f54661-2d74-4c50-afa3-1ec803f12efe"],
        },
        "platforms": {"includePlatforms": ["all"], "excludePlatforms": ["iOS", "windowsPhone"]},
        "locations": {
            "includeLocations": ["AllTrusted"],
            "excludeLocations": [
                "00000000-0000-0000-0000-000000000000",
                "d2136c9c-b049-47ae-b9cf-316e04ef7198",
            ],
        },
    },
    "grantControls": {
        "operator": "OR",
        "builtInControls": [
            "mfa",
            "compliantDevice",
            "domainJoinedDevice",
            "approvedApplication",
            "compliantApplication",
        ],
        "customAuthenticationFactors": [],
        "termsOfUse": [
            "ce580154-086a-40fd-91df-8a60abac81a0",
            "7f29d675-caff-43e1-8a53-1b8516ed2075",
        ],
    },
    "sessionControls": {
        "applicationEnforcedRestrictions": None,
        "persistentBrowser": None,
        "cloudAppSecurity": {"cloudAppSecurityType": "blockDownloads", "isEnabled": True},
        "signInFrequency": {"value": 4, "type": "hours", "isEnabled": True},
    },
}
# Graph v1.0 "Get conditionalAccessTemplate", example 1: the template's ``details`` as a
# policy (the template id and name as id and displayName, enabled).
ADMIN_MFA_TEMPLATE = {
    "id": "c7503427-338e-4c5e-902d-abe252abfb43",
    "displayName": "Require multifactor authentication for admins",
    "state": "enabled",
    "sessionControls": None,
    "conditions": {
        "userRiskLevels": [],
        "signInRiskLevels": [],
        "clientAppTypes": ["all"],
        "servicePrincipalRiskLevels": [],
        "platforms": None,
        "locations": None,
        "signInRiskDetections": None,
        "times": None,
        "deviceStates": None,
        "devices": None,
        "clientApplications": None,
        "applications": {
            "includeApplications": ["All"],
            "excludeApplications": [],
            "includeUserActions": [],
            "includeAuthenticationContextClassReferences": [],
            "applicationFilter": None,
            "networkAccess": None,
        },
        "users": {
            "includeUsers": [],
            "excludeUsers": ["Current administrator will be excluded"],
            "includeGroups": [],
            "excludeGroups": [],
            "includeRoles": [GLOBAL_ADMIN, "194ae4cb-b126-40b2-bd5b-6091b380977d"],
            "excludeRoles": [],
            "includeGuestsOrExternalUsers": None,
            "excludeGuestsOrExternalUsers": None,
        },
    },
    "grantControls": {
        "operator": "OR",
        "builtInControls": ["mfa"],
        "customAuthenticationFactors": [],
        "termsOfUse": [],
        "authenticationStrength": None,
    },
}


def portal_policy(
    policy_id: str, name: str, grant: list[str], operator: str = "OR", **conditions: Any
) -> dict[str, Any]:
    return {
        "id": policy_id,
        "displayName": name,
        "state": "enabled",
        "conditions": {
            "users": {"includeUsers": ["All"]},
            "applications": {"includeApplications": ["All"]},
            **conditions,
        },
        "grantControls": {"operator": operator, "builtInControls": grant},
    }


# Entra docs "Block legacy authentication": All users, All resources, client apps Exchange
# ActiveSync clients and Other clients, Block.
BLOCK_LEGACY = portal_policy(
    "block-legacy",
    "Block legacy authentication",
    ["block"],
    clientAppTypes=["exchangeActiveSync", "other"],
)
# Entra docs "Require multifactor authentication for guest access": All guest and external
# users (every type, every tenant), All resources, Require MFA.
GUEST_MFA = portal_policy(
    "guest-mfa",
    "Require multifactor authentication for guest access",
    ["mfa"],
    users={
        "includeGuestsOrExternalUsers": {
            "guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest,"
            "b2bCollaborationMember,b2bDirectConnectUser,otherExternalUser,serviceProvider",
            "externalTenants": {
                "@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants",
                "membershipKind": "all",
            },
        }
    },
)
# Entra docs "Block unknown or unsupported device platform": All users, All resources, any
# device except Android, iOS, Windows and macOS, Block.
UNKNOWN_PLATFORM = portal_policy(
    "unknown-platform",
    "Block unknown or unsupported device platform",
    ["block"],
    platforms={
        "includePlatforms": ["all"],
        "excludePlatforms": ["android", "iOS", "windows", "macOS"],
    },
)
# Entra docs "Conditional Access for workload identities", Microsoft Graph sample JSON
# (location-based), with its placeholders filled in ("operator": "and" as written there).
WORKLOAD_LOCATION = {
    "id": "workload-location",
    "displayName": "Name",
    "state": "enabled",
    "conditions": {
        "applications": {"includeApplications": ["All"]},
        "clientApplications": {
            "includeServicePrincipals": [SP_OID],
            "excludeServicePrincipals": [],
        },
        "locations": {"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]},
    },
    "grantControls": {"operator": "and", "builtInControls": ["block"]},
}
WORKLOAD_IN_MY_TENANT = {
    **WORKLOAD_LOCATION,
    "id": "workload-in-my-tenant",
    "conditions": {
        **WORKLOAD_LOCATION["conditions"],
        "clientApplications": {"includeServicePrincipals": ["ServicePrincipalsInMyTenant"]},
    },
}
WORKLOAD_BY_APP_ID = {
    **WORKLOAD_LOCATION,
    "id": "workload-by-app-id",
    "conditions": {
        **WORKLOAD_LOCATION["conditions"],
        "clientApplications": {"includeServicePrincipals": [APP]},
    },
}
# Entra docs "Require password change for high-risk users": All users, All resources, user
# risk High, Require MFA AND Require password change.
USER_RISK = portal_policy(
    "user-risk",
    "User risk-based password change",
    ["mfa", "passwordChange"],
    operator="AND",
    userRiskLevels=["high"],
)
# Entra docs "Require multifactor authentication for elevated sign-in risk": sign-in risk
# High and Medium, Require MFA.
SIGN_IN_RISK = portal_policy(
    "sign-in-risk", "Sign-in risk-based MFA", ["mfa"], signInRiskLevels=["high", "medium"]
)
# A policy blocking the named locations of Graph "Create namedLocation" examples 1 and 2.
BLOCK_UNTRUSTED_IP = portal_policy(
    "block-untrusted-ip",
    "Block the untrusted IP named location",
    ["block"],
    locations={"includeLocations": ["0854951d-5fc0-4eb1-b392-9b2c9d7949c2"]},
)
BLOCK_COUNTRIES = portal_policy(
    "block-countries",
    "Block the country named location",
    ["block"],
    locations={"includeLocations": ["1c4427fd-0885-4a3d-8b23-09a899ffa959"]},
)
_TRUSTED_BUT_NOT = {**TRUSTED_NETWORK, "isTrusted": False}

CAE = ENTRA + "concept-continuous-access-evaluation (Exception for IP address variations)"
CAE_STRICT = ENTRA + "concept-continuous-access-evaluation-strict-enforcement"
CAE_SESSION = ENTRA + "concept-conditional-access-session (Customize continuous access evaluation)"
# Entra docs "Block access by location": All users, All resources, any location except the
# trusted ones, Block.
BLOCK_OUTSIDE_TRUSTED = portal_policy(
    "block-outside-trusted",
    "Block access outside trusted locations",
    ["block"],
    locations={"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]},
)
# The same with "Customize continuous access evaluation: Strictly enforce location policies".
BLOCK_OUTSIDE_TRUSTED_STRICT = {
    **BLOCK_OUTSIDE_TRUSTED,
    "id": "block-outside-trusted-strict",
    "sessionControls": {
        "continuousAccessEvaluation": {
            "@odata.type": "#microsoft.graph.continuousAccessEvaluationSessionControl",
            "mode": "strictEnforcement",
        }
    },
}
# A split tunnel: the identity provider saw the corporate egress (10.x, in ipaddr), the
# resource sees the user's own internet address.
SPLIT_TUNNEL = {"ipaddr": "10.20.30.40"}

IN_GROUP = {"groups": [GROUP]}
OTHER_GROUP = {"groups": ["5e3f2b3c-6a1d-4f0e-9d9b-2f1c7a9e0b11"]}
GROUP_CLAIMS = (
    "https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-fed-group-claims"
)

VECTORS = [
    Vector(
        "exo-mfa/v1-mfa-outside", GRAPH_CREATE_POLICY + " (example 1)", EXO_MFA,
        Request({**V1_MFA, **IN_GROUP}, app_id=EXO), "allow",
        "a group member outside trusted locations whose token shows MFA meets the policy",
    ),
    Vector(
        "exo-mfa/v1-no-mfa-outside", GRAPH_CREATE_POLICY + " (example 1)", EXO_MFA,
        Request({**V1_PWD, **IN_GROUP}, app_id=EXO), "block",
        "the policy applies and requires MFA; a v1.0 token's amr shows none, and no "
        "authentication context is configured to ask for it",
    ),
    Vector(
        "exo-mfa/v2-enforced-by-context", GRAPH_CREATE_POLICY + " (example 1)", EXO_MFA,
        Request(IN_GROUP, app_id=EXO, mfa_auth_context="c1"), "challenge",
        "the policy applies; MFA is enforced through authentication context c1",
        claims=acrs("c1"),
    ),
    Vector(
        "exo-mfa/v2-cannot-show", GRAPH_CREATE_POLICY + " (example 1)", EXO_MFA,
        Request(IN_GROUP, app_id=EXO), "undecided",
        "a v2.0 token carries no amr: whether MFA was done is invisible to the resource",
    ),
    Vector(
        "exo-mfa/inside-trusted", GRAPH_CREATE_POLICY + " (example 1)", EXO_MFA,
        Request({**V1_PWD, **IN_GROUP}, ip="10.1.2.3", app_id=EXO), "allow",
        "a trusted location is excluded: the policy does not apply",
    ),
    Vector(
        "exo-mfa/inside-untrusted", GRAPH_CREATE_POLICY + " (example 1)", EXO_MFA,
        Request({**V1_PWD, **IN_GROUP}, ip="10.1.2.3", app_id=EXO), "block",
        "isTrusted false: the network is not trusted, so the policy applies",
        locations=(_TRUSTED_BUT_NOT,),
    ),
    Vector(
        "exo-mfa/other-group-complete-claim", GRAPH_CREATE_POLICY + " (example 1)", EXO_MFA,
        Request({**V1_PWD, **OTHER_GROUP}, app_id=EXO, groups_claim_complete=True), "allow",
        "the user is not in the included group: the groups claim lists every group",
    ),
    Vector(
        "exo-mfa/other-group", GRAPH_CREATE_POLICY + " (example 1); " + GROUP_CLAIMS,
        EXO_MFA, Request({**V1_PWD, **OTHER_GROUP}, app_id=EXO), "undecided",
        "a groups claim may leave groups out (groups assigned to the application, security "
        "groups only, a filter) while Conditional Access counts every group type and nesting",
    ),
    Vector(
        "exo-mfa/group-names", GRAPH_CREATE_POLICY + " (example 1); " + GROUP_CLAIMS,
        EXO_MFA, Request({**V1_PWD, "groups": ["CONTOSO\\Sales"]}, app_id=EXO,
                         groups_claim_complete=True), "undecided",
        "a groups claim emitting sAMAccountName names cannot show a group object id",
    ),
    Vector(
        "exo-mfa/no-groups-claim", GRAPH_CREATE_POLICY + " (example 1)", EXO_MFA,
        Request(V1_PWD, app_id=EXO), "undecided",
        "without a groups claim group membership is invisible to the resource",
    ),
    Vector(
        "exo-mfa/other-resource", GRAPH_CREATE_POLICY + " (example 1)", EXO_MFA,
        Request({**V1_PWD, **IN_GROUP}), "allow",
        "the policy targets Exchange Online only",
    ),
    Vector(
        "exo-regions/no-geolocation", GRAPH_CREATE_POLICY + " (example 2)", EXO_BLOCK_REGIONS,
        Request(IN_GROUP, app_id=EXO), "undecided",
        "a country location cannot be decided without IP geolocation",
        locations=(NON_TRUSTED_REGIONS,),
    ),
    Vector(
        "exo-regions/inside", GRAPH_CREATE_POLICY + " (example 2)", EXO_BLOCK_REGIONS,
        Request(IN_GROUP, app_id=EXO, country="KP"), "block",
        "the client IP maps to a listed country",
        locations=(NON_TRUSTED_REGIONS,),
    ),
    Vector(
        "exo-regions/outside", GRAPH_CREATE_POLICY + " (example 2)", EXO_BLOCK_REGIONS,
        Request(IN_GROUP, app_id=EXO, country="NL"), "allow",
        "the client IP maps to a country outside the location",
        locations=(NON_TRUSTED_REGIONS,),
    ),
    Vector(
        "exo-regions/location-not-known", GRAPH_CREATE_POLICY + " (example 2)", EXO_BLOCK_REGIONS,
        Request(IN_GROUP, app_id=EXO, country="KP"), "undecided",
        "the policy names a location the resource was not given",
        locations=(),
    ),
    Vector(
        "all-conditions/disabled", GRAPH_CREATE_POLICY + " (example 3)", ALL_CONDITIONS,
        Request(V1_PWD, ip="10.1.2.3"), "allow",
        "a disabled policy is not evaluated",
    ),
    Vector(
        "all-conditions/enabled", GRAPH_CREATE_POLICY + " (example 3, state enabled)",
        {**ALL_CONDITIONS, "state": "enabled"},
        Request({**V1_PWD, **MEMBER}, ip="10.1.2.3"), "undecided",
        "sign-in risk and the excluded named locations are invisible to the resource",
    ),
    Vector(
        "all-conditions/guest-excluded", GRAPH_CREATE_POLICY + " (example 3, state enabled)",
        {**ALL_CONDITIONS, "state": "enabled"},
        Request({**V1_PWD, **B2B_GUEST}, ip="10.1.2.3"), "allow",
        "guests and external users are excluded and the token shows a B2B guest",
    ),
    Vector(
        "admin-mfa/admin-step-up", GRAPH_TEMPLATE, ADMIN_MFA_TEMPLATE,
        Request({"wids": [GLOBAL_ADMIN]}, mfa_auth_context="c3"), "challenge",
        "a Global Administrator must do MFA, enforced through authentication context c3",
        claims=acrs("c3"),
    ),
    Vector(
        "admin-mfa/admin-with-mfa", GRAPH_TEMPLATE, ADMIN_MFA_TEMPLATE,
        Request({**V1_MFA, "wids": [GLOBAL_ADMIN]}), "allow",
        "the token shows MFA",
    ),
    Vector(
        "admin-mfa/not-admin", GRAPH_TEMPLATE, ADMIN_MFA_TEMPLATE,
        Request({**V1_PWD, "wids": []}), "allow",
        "the user holds none of the included roles",
    ),
    Vector(
        "admin-mfa/no-wids", GRAPH_TEMPLATE, ADMIN_MFA_TEMPLATE,
        Request(V1_PWD), "undecided",
        "without a wids claim directory roles are invisible to the resource",
    ),
    Vector(
        "block-legacy/bearer", ENTRA + "howto-conditional-access-policy-block-legacy",
        BLOCK_LEGACY, Request(), "allow",
        "a bearer token comes from a modern authentication client, never a legacy one",
    ),
    Vector(
        "guest-mfa/b2b-guest-with-mfa", ENTRA + "howto-policy-guest-mfa", GUEST_MFA,
        Request({**V1_MFA, **B2B_GUEST}), "allow",
        "a B2B guest whose token shows MFA",
    ),
    Vector(
        "guest-mfa/b2b-guest-step-up", ENTRA + "howto-policy-guest-mfa", GUEST_MFA,
        Request(B2B_GUEST, mfa_auth_context="c1"), "challenge",
        "a B2B guest must do MFA, enforced through authentication context c1",
        claims=acrs("c1"),
    ),
    Vector(
        "guest-mfa/member", ENTRA + "howto-policy-guest-mfa", GUEST_MFA,
        Request({**V1_PWD, **MEMBER}), "allow",
        "a member of the tenant is not a guest",
    ),
    Vector(
        "guest-mfa/account-kind-unknown", ENTRA + "howto-policy-guest-mfa", GUEST_MFA,
        Request(V1_PWD), "undecided",
        "without acct a local guest cannot be told from a member",
    ),
    Vector(
        "unknown-platform/curl", ENTRA + "howto-policy-unknown-unsupported-device",
        UNKNOWN_PLATFORM, Request(user_agent=CURL), "block",
        "an unknown platform is any device minus the excluded ones",
    ),
    Vector(
        "unknown-platform/iphone", ENTRA + "howto-policy-unknown-unsupported-device",
        UNKNOWN_PLATFORM, Request(user_agent=IPHONE), "allow",
        "iOS is excluded",
    ),
    Vector(
        "workload/outside", ENTRA + "workload-identity", WORKLOAD_LOCATION,
        Request(APP_ONLY), "block",
        "the service principal calls from outside the allowed locations",
    ),
    Vector(
        "workload/inside", ENTRA + "workload-identity", WORKLOAD_LOCATION,
        Request(APP_ONLY, ip="10.9.9.9"), "allow",
        "a trusted location is excluded",
    ),
    Vector(
        "workload/in-my-tenant", ENTRA + "workload-identity (ServicePrincipalsInMyTenant)",
        WORKLOAD_IN_MY_TENANT, Request(APP_ONLY), "undecided",
        "the keyword covers single-tenant service principals of the tenant only: managed "
        "identities and multitenant apps are out of scope, and a token does not show which",
    ),
    Vector(
        "workload/named-by-app-id", ENTRA + "workload-identity (Finding the objectID)",
        WORKLOAD_BY_APP_ID, Request(APP_ONLY), "allow",
        "a policy names service principals by object id: the application id selects nothing",
    ),
    Vector(
        "tenant/other-tenant", TOKEN_CLAIMS + " (tid); " + GRAPH_CREATE_POLICY + " (example 1)",
        EXO_MFA,
        Request({**V1_PWD, **IN_GROUP, "tid": OTHER_TENANT, "iss": OTHER_V2_ISSUER},
                app_id=EXO, tenant_id=TENANT),
        "allow",
        "a user signing in to another tenant (a multitenant API) is under that tenant's "
        "policies, not these",
    ),
    Vector(
        "tenant/own-tenant", TOKEN_CLAIMS + " (tid); " + GRAPH_CREATE_POLICY + " (example 1)",
        EXO_MFA, Request({**V1_PWD, **IN_GROUP}, app_id=EXO, tenant_id=TENANT.upper()),
        "block", "the policies' own tenant: the policy applies and the token shows no MFA",
    ),
    Vector(
        "cae-location/standard-split-tunnel", CAE, BLOCK_OUTSIDE_TRUSTED,
        Request(SPLIT_TUNNEL), "allow",
        "standard enforcement: the identity provider saw an allowed IP, so Entra grants access "
        "although the resource sees another",
    ),
    Vector(
        "cae-location/standard-both-outside", CAE, BLOCK_OUTSIDE_TRUSTED,
        Request({"ipaddr": "198.51.100.4"}), "block",
        "both the identity provider and the resource saw an address outside the trusted ones",
    ),
    Vector(
        "cae-location/standard-no-ipaddr", CAE, BLOCK_OUTSIDE_TRUSTED, Request(), "block",
        "a v2.0 token without ipaddr: the address the resource sees decides",
    ),
    Vector(
        "cae-location/strict-operator", CAE_STRICT, BLOCK_OUTSIDE_TRUSTED,
        Request(SPLIT_TUNNEL, strict_locations=True), "block",
        "strict enforcement: the IP the resource sees is not allowed, access is blocked",
    ),
    Vector(
        "cae-location/strict-session-control", CAE_STRICT, BLOCK_OUTSIDE_TRUSTED_STRICT,
        Request(SPLIT_TUNNEL), "block",
        "the policy's own session control strictly enforces its location condition",
    ),
    Vector(
        "cae-location/strict-inside", CAE_STRICT, BLOCK_OUTSIDE_TRUSTED_STRICT,
        Request({"ipaddr": "198.51.100.4"}, ip="10.1.2.3"), "allow",
        "strict enforcement: the IP the resource sees is allowed",
    ),
    Vector(
        "workload/user-token", ENTRA + "workload-identity", WORKLOAD_LOCATION,
        Request(V1_PWD), "allow",
        "a workload-identity policy applies only when a service principal requests a token",
    ),
    Vector(
        "user-risk/high", ENTRA + "howto-conditional-access-policy-risk-user", USER_RISK,
        Request(V1_MFA, user_risk="high"), "undecided",
        "MFA is shown but a password change cannot be seen in a token",
    ),
    Vector(
        "user-risk/none", ENTRA + "howto-conditional-access-policy-risk-user", USER_RISK,
        Request(V1_PWD), "allow",
        "the user's risk is none",
    ),
    Vector(
        "sign-in-risk", ENTRA + "howto-conditional-access-policy-risk", SIGN_IN_RISK,
        Request(V1_PWD), "undecided",
        "sign-in risk is computed by the identity provider for each sign-in",
    ),
    Vector(
        "ip-location/inside", GRAPH_CREATE_LOCATION + " (example 1)", BLOCK_UNTRUSTED_IP,
        Request(ip="12.34.220.7"), "block",
        "12.34.221.11/22 holds 12.34.220.0-12.34.223.255",
        locations=(UNTRUSTED_IP_LOCATION,),
    ),
    Vector(
        "ip-location/ipv6-inside", GRAPH_CREATE_LOCATION + " (example 1)", BLOCK_UNTRUSTED_IP,
        Request(ip="2001:0:9d38:90d7::1"), "block",
        "2001:0:9d38:90d6::/63 holds 2001:0:9d38:90d7::1",
        locations=(UNTRUSTED_IP_LOCATION,),
    ),
    Vector(
        "ip-location/outside", GRAPH_CREATE_LOCATION + " (example 1)", BLOCK_UNTRUSTED_IP,
        Request(ip="12.34.224.1"), "allow",
        "outside the range",
        locations=(UNTRUSTED_IP_LOCATION,),
    ),
    Vector(
        "country-location/listed", GRAPH_CREATE_LOCATION + " (example 2)", BLOCK_COUNTRIES,
        Request(country="GB"), "block",
        "GB is listed",
        locations=(COUNTRIES_WITH_UNKNOWN,),
    ),
    Vector(
        "country-location/unknown-country", GRAPH_CREATE_LOCATION + " (example 2)",
        BLOCK_COUNTRIES, Request(country="none"), "block",
        "includeUnknownCountriesAndRegions: an IP that maps to no country is inside",
        locations=(COUNTRIES_WITH_UNKNOWN,),
    ),
    Vector(
        "country-location/other-country", GRAPH_CREATE_LOCATION + " (example 2)",
        BLOCK_COUNTRIES, Request(country="NL"), "allow",
        "NL is not listed",
        locations=(COUNTRIES_WITH_UNKNOWN,),
    ),
    Vector(
        "country-location/no-geolocation", GRAPH_CREATE_LOCATION + " (example 2)",
        BLOCK_COUNTRIES, Request(), "undecided",
        "without geolocation a country location is invisible to the resource",
        locations=(COUNTRIES_WITH_UNKNOWN,),
    ),
]  # fmt: skip
