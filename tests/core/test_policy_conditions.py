"""Conditions decided from what the token and the request show: guests and external users,
client app types, the Office365 application group, country named locations, user actions."""

from __future__ import annotations

from typing import Any

import pytest

from cae_sdk.core.decisions import Outcome
from cae_sdk.core.locations import CountryNamedLocation, NamedLocation
from cae_sdk.core.policies import (
    OFFICE365_APPLICATIONS,
    PolicyContext,
    PolicyOptions,
    PolicyVerdict,
    evaluate,
    load_policies,
)
from cae_sdk.core.tokens import TokenClaims

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
HOME = "0b2f14e2-91f9-4876-9f59-3cb09b4ec310"
OID = "aaaaaaaa-0000-0000-0000-000000000001"
V2_ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"
API = "11111111-2222-3333-4444-555555555555"
EXO = "00000002-0000-0ff1-ce00-000000000000"


def block(users: dict[str, Any] | None = None, **conditions: Any) -> dict[str, Any]:
    return {
        "id": "P",
        "state": "enabled",
        "conditions": {
            "users": users if users is not None else {"includeUsers": ["All"]},
            "applications": {"includeApplications": ["All"]},
            **conditions,
        },
        "grantControls": {"operator": "OR", "builtInControls": ["block"]},
    }


def verdict(policy: dict[str, Any], **context: Any) -> PolicyVerdict:
    claims = context.pop("claims", {})
    base = {"iss": V2_ISSUER, "tid": TENANT, "oid": OID, "scp": "x", **claims}
    ctx = PolicyContext(
        claims=TokenClaims({k: v for k, v in base.items() if v is not None}),
        app_ids=context.pop("app_ids", frozenset({API})),
        **context,
    )
    return evaluate(load_policies([policy]), ctx).result("P").verdict


BLOCK, NOT_APPLIED, UNDECIDED = (
    PolicyVerdict.BLOCK,
    PolicyVerdict.NOT_APPLIED,
    PolicyVerdict.UNDECIDED,
)
MEMBER = {"acct": 0}
LOCAL_GUEST = {"acct": 1}
B2B_GUEST = {"acct": 1, "idp": f"https://sts.windows.net/{HOME}/"}
B2B_MEMBER = {"acct": 0, "idp": f"https://sts.windows.net/{HOME}/"}
EXTERNAL_NO_ACCT = {"idp": f"https://sts.windows.net/{HOME}/"}
NO_CLAIMS: dict[str, Any] = {}
SAME_ISSUER_IDP = {"acct": 0, "idp": V2_ISSUER}


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        (MEMBER, NOT_APPLIED),
        (SAME_ISSUER_IDP, NOT_APPLIED),
        (LOCAL_GUEST, BLOCK),
        (B2B_GUEST, BLOCK),
        (B2B_MEMBER, BLOCK),
        (EXTERNAL_NO_ACCT, BLOCK),  # every external type is selected
        (NO_CLAIMS, UNDECIDED),  # a member or a local guest: acct would tell
    ],
)
def test_guests_or_external_users_keyword(claims: dict[str, Any], expected: PolicyVerdict) -> None:
    policy = block({"includeUsers": ["GuestsOrExternalUsers"]})
    assert verdict(policy, claims=claims) is expected


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        (MEMBER, BLOCK),
        (LOCAL_GUEST, NOT_APPLIED),
        (B2B_GUEST, NOT_APPLIED),
        (NO_CLAIMS, UNDECIDED),
    ],
)
def test_a_policy_excluding_guests_does_not_block_them(
    claims: dict[str, Any], expected: PolicyVerdict
) -> None:
    # Graph "Create conditionalAccessPolicy" example 3 excludes "GuestsOrExternalUsers".
    policy = block({"includeUsers": ["All"], "excludeUsers": ["GuestsOrExternalUsers"]})
    assert verdict(policy, claims=claims) is expected


@pytest.mark.parametrize(
    ("types", "tenants", "claims", "expected"),
    [
        ("b2bCollaborationGuest", None, B2B_GUEST, BLOCK),
        ("b2bCollaborationGuest", None, B2B_MEMBER, NOT_APPLIED),
        ("b2bCollaborationGuest", None, LOCAL_GUEST, NOT_APPLIED),
        ("b2bCollaborationGuest", None, MEMBER, NOT_APPLIED),
        ("b2bCollaborationGuest", None, EXTERNAL_NO_ACCT, UNDECIDED),
        ("internalGuest,b2bCollaborationGuest", None, LOCAL_GUEST, BLOCK),
        ("b2bCollaborationGuest", [HOME], B2B_GUEST, BLOCK),
        ("b2bCollaborationGuest", ["99999999-0000-0000-0000-000000000000"], B2B_GUEST, NOT_APPLIED),
        ("b2bCollaborationGuest", [HOME], {"acct": 1, "idp": "google.com"}, UNDECIDED),
        ("otherExternalUser", None, {"acct": 1, "idp": "live.com"}, NOT_APPLIED),
        ("none", None, B2B_GUEST, NOT_APPLIED),
    ],
)
def test_include_guests_or_external_users_by_type_and_tenant(
    types: str, tenants: list[str] | None, claims: dict[str, Any], expected: PolicyVerdict
) -> None:
    selection: dict[str, Any] = {"guestOrExternalUserTypes": types}
    if tenants is None:
        selection["externalTenants"] = {
            "@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants",
            "membershipKind": "all",
        }
    else:
        selection["externalTenants"] = {
            "@odata.type": "#microsoft.graph.conditionalAccessEnumeratedExternalTenants",
            "membershipKind": "enumerated",
            "members": tenants,
        }
    policy = block({"includeGuestsOrExternalUsers": selection})
    assert verdict(policy, claims=claims) is expected


def test_a_guest_selection_the_engine_cannot_read_is_undecided() -> None:
    policy = block(
        {
            "includeGuestsOrExternalUsers": {
                "guestOrExternalUserTypes": "b2bCollaborationGuest",
                "externalTenants": {"membershipKind": "unknownFutureValue"},
            }
        }
    )
    assert verdict(policy, claims=B2B_GUEST) is UNDECIDED
    assert verdict(policy, claims=MEMBER) is NOT_APPLIED  # not of the selected type anyway


def test_exclude_guests_object_with_enumerated_tenants() -> None:
    policy = block(
        {
            "includeUsers": ["All"],
            "excludeGuestsOrExternalUsers": {
                "guestOrExternalUserTypes": "b2bCollaborationGuest,b2bCollaborationMember",
                "externalTenants": {"membershipKind": "enumerated", "members": [HOME]},
            },
        }
    )
    assert verdict(policy, claims=B2B_GUEST) is NOT_APPLIED
    other = {"acct": 1, "idp": "https://sts.windows.net/99999999-0000-0000-0000-000000000000/"}
    assert verdict(policy, claims=other) is BLOCK
    assert verdict(policy, claims=MEMBER) is BLOCK


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        (["mobileAppsAndDesktopClients", "browser"], BLOCK),  # every modern client
        (["all"], BLOCK),
        ([], BLOCK),
        (["exchangeActiveSync", "other"], NOT_APPLIED),  # legacy only: no bearer token
        (["easSupported"], NOT_APPLIED),
        (["browser"], UNDECIDED),
        (["mobileAppsAndDesktopClients", "exchangeActiveSync", "other"], UNDECIDED),
        (["modern", "browser"], BLOCK),  # "modern" is the former mobileAppsAndDesktopClients
        (["unknownFutureValue"], UNDECIDED),
    ],
)
def test_client_app_types(types: list[str], expected: PolicyVerdict) -> None:
    assert verdict(block(clientAppTypes=types)) is expected


# Entra docs "Conditional Access: Conditions", client apps: "Browser - These include
# web-based applications that use protocols like SAML, WS-Federation, OpenID Connect, or
# services registered as an OAuth confidential client." azpacr (v2.0) / appidacr (v1.0) 1 or 2
# is a confidential client (access token claims reference); 0, a public client, may be a
# mobile or desktop app or a single-page app in a browser.
@pytest.mark.parametrize(
    ("types", "claims", "expected"),
    [
        (["browser"], {"azpacr": "1"}, BLOCK),
        (["browser"], {"appidacr": "2"}, BLOCK),
        (["mobileAppsAndDesktopClients"], {"azpacr": "2"}, NOT_APPLIED),
        (["mobileAppsAndDesktopClients", "other"], {"azpacr": "1"}, NOT_APPLIED),
        (["browser"], {"azpacr": "0"}, UNDECIDED),
        (["mobileAppsAndDesktopClients"], {"azpacr": "0"}, UNDECIDED),
        (["browser"], {"azpacr": True}, UNDECIDED),
    ],
)
def test_a_confidential_client_is_a_browser(
    types: list[str], claims: dict[str, Any], expected: PolicyVerdict
) -> None:
    assert verdict(block(clientAppTypes=types), claims=claims) is expected


def applications_verdict(
    include: list[str], exclude: list[str], app_ids: set[str]
) -> PolicyVerdict:
    policy = block()
    policy["conditions"]["applications"] = {
        "includeApplications": include,
        "excludeApplications": exclude,
    }
    return verdict(policy, app_ids=frozenset(app_ids))


@pytest.mark.parametrize(
    ("include", "exclude", "app_ids", "expected"),
    [
        (["Office365"], [], {EXO}, BLOCK),
        (["Office365"], [], {"00000003-0000-0ff1-ce00-000000000000"}, BLOCK),
        (["Office365"], [], {API}, NOT_APPLIED),
        (["All"], ["Office365"], {EXO}, NOT_APPLIED),
        (["All"], ["Office365"], {API}, BLOCK),
        (["MicrosoftAdminPortals"], [], {API}, UNDECIDED),
        (["None"], [], {API}, NOT_APPLIED),
    ],
)
def test_application_groups(
    include: list[str], exclude: list[str], app_ids: set[str], expected: PolicyVerdict
) -> None:
    assert applications_verdict(include, exclude, app_ids) is expected


OTHER_API = "99999999-8888-7777-6666-555555555555"


# Access token claims reference, aud: "In v1.0 tokens, it can be the client ID or the resource
# URI used in the request". A resource known only by its App ID URI cannot tell whether an
# application id a policy lists is its own (Graph conditionalAccessApplications lists ids):
# undecided, never "not applied" (the policy may target this very API).
@pytest.mark.parametrize(
    ("include", "exclude", "app_ids", "expected"),
    [
        ([OTHER_API], [], {"my-api"}, UNDECIDED),
        ([OTHER_API], [], {"my-api", API}, NOT_APPLIED),
        ([API], [], {"my-api", API}, BLOCK),
        (["All"], [OTHER_API], {"my-api"}, UNDECIDED),
        (["All"], [OTHER_API], {API}, BLOCK),
        ([EXO], [], {"my-api"}, NOT_APPLIED),  # one of Microsoft's own apps: never this API
        (["All"], [EXO], {"my-api"}, BLOCK),
    ],
)
def test_a_resource_known_only_by_uri_cannot_rule_out_an_application_id(
    include: list[str], exclude: list[str], app_ids: set[str], expected: PolicyVerdict
) -> None:
    assert applications_verdict(include, exclude, app_ids) is expected


CURL = "curl/8.5.0"
WINDOWS_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"


# Graph conditionalAccessUsers / conditionalAccessPlatforms: "All" is a value of every
# include and exclude list; excluding it excludes everyone (the exclude action overrides the
# include action, Entra docs "Conditional Access: Users, groups, and workload identities").
# A platform value the engine does not detect (Graph's evolvable enum grows) may be the
# unknown platform: undecided for it.
@pytest.mark.parametrize(
    ("policy", "user_agent", "expected"),
    [
        (block({"includeUsers": ["All"], "excludeUsers": ["All"]}), CURL, NOT_APPLIED),
        (
            block(platforms={"includePlatforms": ["all"], "excludePlatforms": ["all"]}),
            WINDOWS_UA,
            NOT_APPLIED,
        ),
        (
            block(platforms={"includePlatforms": ["all"], "excludePlatforms": ["all"]}),
            CURL,
            NOT_APPLIED,
        ),
        (block(platforms={"includePlatforms": ["visionOS"]}), CURL, UNDECIDED),
        (block(platforms={"includePlatforms": ["visionOS"]}), WINDOWS_UA, NOT_APPLIED),
        (
            block(platforms={"includePlatforms": ["all"], "excludePlatforms": ["visionOS"]}),
            CURL,
            UNDECIDED,
        ),
        (
            block(platforms={"includePlatforms": ["all"], "excludePlatforms": ["windows"]}),
            CURL,
            BLOCK,
        ),
    ],
)
def test_all_in_every_exclude_list_and_platforms_not_detected(
    policy: dict[str, Any], user_agent: str, expected: PolicyVerdict
) -> None:
    assert verdict(policy, user_agent=user_agent) is expected


def test_office365_table_names_the_suite_apps_with_published_ids() -> None:
    assert OFFICE365_APPLICATIONS[EXO] == "Office 365 Exchange Online"
    assert "Microsoft Teams Services" in OFFICE365_APPLICATIONS.values()
    assert all(k == k.lower() for k in OFFICE365_APPLICATIONS)


def test_a_policy_for_user_actions_never_applies_to_resource_access() -> None:
    policy = block()
    policy["conditions"]["applications"] = {
        "includeApplications": [],
        "includeUserActions": ["urn:user:registersecurityinfo"],
    }
    assert verdict(policy) is NOT_APPLIED


ALLOWED = CountryNamedLocation("allowed", "Allowed countries", frozenset({"NL", "DE"}))
GPS = CountryNamedLocation("gps", "GPS", frozenset({"NL"}), lookup="authenticatorAppGps")


def country_policy(include: list[str], exclude: list[str]) -> dict[str, Any]:
    return block(locations={"includeLocations": include, "excludeLocations": exclude})


@pytest.mark.parametrize(
    ("include", "exclude", "country", "expected"),
    [
        (["All"], ["allowed"], None, UNDECIDED),  # no geolocation: never "blocks everyone"
        (["allowed"], [], None, UNDECIDED),
        (["All"], ["allowed"], "NL", NOT_APPLIED),
        (["All"], ["allowed"], "us", BLOCK),
        (["allowed"], [], "DE", BLOCK),
        (["gps"], [], "NL", UNDECIDED),  # found by the Authenticator app's GPS
        (["All"], ["not-listed-here"], "NL", UNDECIDED),
    ],
)
def test_country_named_locations(
    include: list[str], exclude: list[str], country: str | None, expected: PolicyVerdict
) -> None:
    geolocation = None if country is None else (lambda _ip: country)
    result = verdict(
        country_policy(include, exclude),
        client_ip="198.51.100.7",
        named_locations=(ALLOWED, GPS),
        geolocation=geolocation,
    )
    assert result is expected


def test_unknown_countries_and_a_failing_geolocation_source() -> None:
    with_unknown = CountryNamedLocation("u", "U", frozenset({"NL"}), include_unknown=True)

    def no_country(_ip: str) -> None:
        return None

    def broken(_ip: str) -> str:
        raise RuntimeError("database missing")

    policy = country_policy(["u"], [])
    common = {"client_ip": "198.51.100.7", "named_locations": (with_unknown,)}
    assert verdict(policy, geolocation=no_country, **common) is BLOCK
    assert verdict(policy, geolocation=broken, **common) is UNDECIDED
    assert verdict(policy, geolocation=lambda _ip: "Netherlands", **common) is UNDECIDED


def test_is_trusted_decides_all_trusted() -> None:
    policy = country_policy(["All"], ["AllTrusted"])
    trusted = NamedLocation.from_cidrs("hq", "HQ", ["10.0.0.0/8"], trusted=True)
    untrusted = NamedLocation.from_cidrs("hq", "HQ", ["10.0.0.0/8"], trusted=False)
    inside = {"client_ip": "10.1.2.3"}
    assert verdict(policy, named_locations=(trusted,), **inside) is NOT_APPLIED
    assert verdict(policy, named_locations=(untrusted,), **inside) is BLOCK


BREAK_GLASS = "5e3f2b3c-6a1d-4f0e-9d9b-2f1c7a9e0b11"
SALES = "0d7e4a19-2c3b-4e5f-8a6b-7c8d9e0f1a2b"


def test_groups_overage_is_undecided_and_a_listed_group_decides() -> None:
    policy = block({"includeUsers": ["All"], "excludeGroups": [BREAK_GLASS]})
    overage = {"_claim_names": {"groups": "src1"}, "_claim_sources": {"src1": {}}}
    assert verdict(policy, claims=overage) is UNDECIDED
    assert verdict(policy, claims={"groups": [BREAK_GLASS.upper()]}) is NOT_APPLIED
    assert verdict(policy, claims={"groups": "src1"}) is UNDECIDED  # not a list: unread


# Entra docs "Configure group claims for applications" (how-to-connect-fed-group-claims):
# a groups claim may hold security groups only, only the groups assigned to the application
# ("nested groups are not included"), a filtered list, or on-premises names; Conditional
# Access counts "any type of group ... Policy is applied to nested users and groups" (Entra
# docs "Conditional Access: Users, groups, and workload identities"). A group missing from
# the claim is "not a member" only when the operator vouches the claim lists every group.
@pytest.mark.parametrize(
    ("groups", "complete", "expected"),
    [
        ([], False, UNDECIDED),
        ([SALES], False, UNDECIDED),
        ([], True, BLOCK),
        ([SALES], True, BLOCK),
        (["CONTOSO\\Sales"], True, UNDECIDED),  # sAMAccountName format: not object ids
        ([BREAK_GLASS], False, NOT_APPLIED),
        ([BREAK_GLASS], True, NOT_APPLIED),
    ],
)
def test_a_group_missing_from_the_groups_claim_is_not_a_non_membership(
    groups: list[str], complete: bool, expected: PolicyVerdict
) -> None:
    excluded = block({"includeUsers": ["All"], "excludeGroups": [BREAK_GLASS]})
    assert verdict(excluded, claims={"groups": groups}, groups_claim_complete=complete) is (
        expected
    )
    # The same for an included group: a block for its members only.
    included = block({"includeGroups": [BREAK_GLASS]})
    flipped = {BLOCK: NOT_APPLIED, NOT_APPLIED: BLOCK, UNDECIDED: UNDECIDED}[expected]
    assert verdict(included, claims={"groups": groups}, groups_claim_complete=complete) is (flipped)


def test_wids_lists_every_tenant_wide_role() -> None:
    # Access token claims reference, wids: "the tenant-wide roles assigned to this user".
    policy = block({"includeRoles": ["62e90394-69f5-4237-9190-012177145e10"]})
    assert verdict(policy, claims={"wids": []}) is NOT_APPLIED


def test_a_token_without_oid_is_undecided_for_listed_users() -> None:
    policy = block({"includeUsers": ["All"], "excludeUsers": [OID]})
    assert verdict(policy, claims={"oid": None}) is UNDECIDED
    assert verdict(policy) is NOT_APPLIED


def test_undecided_is_reported_in_the_decision_never_enforced() -> None:
    policies = load_policies([block(clientAppTypes=["browser"])])
    ctx = PolicyContext(claims=TokenClaims({"oid": OID, "scp": "x"}), app_ids=frozenset({API}))
    decision = evaluate(policies, ctx).decision
    assert decision.outcome is Outcome.ALLOW
    assert decision.matched_policies == ()
    assert "P" in decision.details["undecided"]


HQ = NamedLocation.from_cidrs("hq", "HQ", ["10.0.0.0/8"], trusted=True)
BLOCK_OUTSIDE = block(locations={"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]})


def cae_session(mode: str, pid: str = "CAE", **users: Any) -> dict[str, Any]:
    """Entra docs "Conditional Access: Session", "Customize continuous access evaluation":
    All resources, no conditions, the mode under Session."""
    return {
        "id": pid,
        "state": "enabled",
        "conditions": {
            "users": users or {"includeUsers": ["All"]},
            "applications": {"includeApplications": ["All"]},
        },
        "sessionControls": {"continuousAccessEvaluation": {"mode": mode}},
    }


def location_verdict(policies: list[dict[str, Any]], **claims: Any) -> PolicyVerdict:
    ip = claims.pop("ip", "203.0.113.9")
    base = {"iss": V2_ISSUER, "tid": TENANT, "oid": OID, "scp": "x", **claims}
    context = PolicyContext(
        claims=TokenClaims(base), client_ip=ip, app_ids=frozenset({API}), named_locations=(HQ,)
    )
    return evaluate(load_policies(policies), context).result("P").verdict


# Entra docs "Continuous access evaluation", "Exception for IP address variations" (standard
# enforcement honours an allowed address the identity provider saw), "Strictly enforce
# location policies using continuous access evaluation" (strict: the resource's address alone)
# and "Conditional Access: Session" (CAE disabled: no instant location enforcement, the
# identity provider's evaluation at issuance stands).
@pytest.mark.parametrize(
    ("session", "ipaddr", "ip", "expected"),
    [
        (None, "10.1.1.1", "203.0.113.9", NOT_APPLIED),  # standard: the IdP saw HQ
        (None, "198.51.100.1", "203.0.113.9", BLOCK),
        (None, "198.51.100.1", "10.1.1.1", NOT_APPLIED),  # the resource sees HQ
        ("strictEnforcement", "10.1.1.1", "203.0.113.9", BLOCK),
        ("strictLocation", "10.1.1.1", "203.0.113.9", BLOCK),
        ("strictEnforcement", "198.51.100.1", "10.1.1.1", NOT_APPLIED),
        ("disabled", "10.1.1.1", "203.0.113.9", NOT_APPLIED),
        ("disabled", "198.51.100.1", "10.1.1.1", BLOCK),  # as the IdP evaluated at issuance
        ("disabled", None, "10.1.1.1", UNDECIDED),  # the IdP's view is not in the token
    ],
)
def test_location_conditions_follow_the_session_cae_enforcement(
    session: str | None, ipaddr: str | None, ip: str, expected: PolicyVerdict
) -> None:
    policies = [BLOCK_OUTSIDE] + ([cae_session(session)] if session else [])
    assert location_verdict(policies, ipaddr=ipaddr, ip=ip) is expected


def test_a_cae_session_control_that_may_apply_leaves_disagreeing_views_undecided() -> None:
    # The strict policy targets a group the token cannot show: strict or standard is open.
    strict = cae_session("strictEnforcement", includeGroups=[BREAK_GLASS])
    split = {"ipaddr": "10.1.1.1", "ip": "203.0.113.9"}
    assert location_verdict([BLOCK_OUTSIDE, strict], **split) is UNDECIDED
    # Both views outside: every mode agrees.
    agreed = {"ipaddr": "198.51.100.1", "ip": "203.0.113.9"}
    assert location_verdict([BLOCK_OUTSIDE, strict], **agreed) is BLOCK
    # Report-only and disabled policies set no mode.
    for state in ("enabledForReportingButNotEnforced", "disabled"):
        quiet = {**cae_session("strictEnforcement"), "state": state}
        assert location_verdict([BLOCK_OUTSIDE, quiet], **split) is NOT_APPLIED


def test_the_operator_strict_mode_wins() -> None:
    policies = load_policies([BLOCK_OUTSIDE, cae_session("disabled")])
    claims = TokenClaims(
        {"iss": V2_ISSUER, "tid": TENANT, "oid": OID, "scp": "x", "ipaddr": "10.1.1.1"}
    )
    context = PolicyOptions(strict_locations=True).context(
        claims, client_ip="203.0.113.9", app_ids=frozenset({API}), named_locations=(HQ,)
    )
    assert evaluate(policies, context).result("P").verdict is BLOCK


def test_an_unknown_cae_mode_is_undecided() -> None:
    odd = {**BLOCK_OUTSIDE, "sessionControls": {"continuousAccessEvaluation": {"mode": "x"}}}
    assert location_verdict([odd]) is UNDECIDED  # outside HQ: applies but for the mode


# Entra docs "Using the location condition in a Conditional Access policy": AllTrusted is the
# named locations marked trusted (and the MFA trusted IPs). A resource that was given no IP
# named locations cannot tell a trusted network from any other: "block outside AllTrusted"
# must not block everyone.
def test_all_trusted_without_any_named_location_is_undecided() -> None:
    assert location_verdict([BLOCK_OUTSIDE], ip="10.1.1.1") is NOT_APPLIED  # HQ is given
    policies = load_policies([BLOCK_OUTSIDE])
    claims = TokenClaims({"iss": V2_ISSUER, "tid": TENANT, "oid": OID, "scp": "x"})
    bare = PolicyContext(claims=claims, client_ip="10.1.1.1", app_ids=frozenset({API}))
    assert evaluate(policies, bare).result("P").verdict is UNDECIDED
    untrusted = NamedLocation.from_cidrs("lab", "Lab", ["192.0.2.0/24"])
    some = PolicyContext(
        claims=claims, client_ip="10.1.1.1", app_ids=frozenset({API}), named_locations=(untrusted,)
    )
    assert evaluate(policies, some).result("P").verdict is BLOCK  # none of those is trusted


def test_an_unknown_cae_mode_may_mean_any_mode_for_the_session() -> None:
    # Graph's continuousAccessEvaluationMode is an evolvable enum: a mode the engine does not
    # know may be strict or not, so a location the two addresses disagree on is undecided.
    future = cae_session("aModeFromTheFuture")
    split = {"ipaddr": "10.1.1.1", "ip": "203.0.113.9"}
    assert location_verdict([BLOCK_OUTSIDE, future], **split) is UNDECIDED
    agreed = {"ipaddr": "198.51.100.1", "ip": "203.0.113.9"}
    assert location_verdict([BLOCK_OUTSIDE, future], **agreed) is BLOCK
