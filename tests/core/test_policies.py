from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cae_sdk.core.decisions import Outcome, Reason
from cae_sdk.core.errors import ConfigurationError
from cae_sdk.core.locations import NamedLocation
from cae_sdk.core.policies import (
    PolicyContext,
    PolicyOptions,
    PolicyState,
    PolicyVerdict,
    evaluate,
    load_policies,
    platform_from_user_agent,
)
from cae_sdk.core.tokens import TokenClaims

API = "11111111-2222-3333-4444-555555555555"
OID = "aaaaaaaa-0000-0000-0000-000000000001"
WINDOWS_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
IPHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"


def policy(pid: str, *, state: str = "enabled", grant: list[str], **conditions: object) -> dict:
    base: dict[str, object] = {
        "users": {"includeUsers": ["All"]},
        "applications": {"includeApplications": ["All"]},
    }
    base.update(conditions)
    return {
        "id": pid,
        "displayName": f"{pid}-Global-Test",
        "state": state,
        "conditions": base,
        "grantControls": {"operator": "OR", "builtInControls": grant},
    }


def ctx(**claims: object) -> PolicyContext:
    return PolicyContext(
        claims=TokenClaims({"tid": "t", "oid": OID, "scp": "x", **claims}),
        client_ip="10.0.0.1",
        user_agent=WINDOWS_UA,
        app_ids=frozenset({API}),
        named_locations=[NamedLocation.from_cidrs("hq", "HQ", ["10.0.0.0/8"], trusted=True)],
    )


def test_load_graph_list_response_and_single_policy() -> None:
    doc = {"value": [policy("CA001", grant=["mfa"]), policy("CA002", grant=["block"])]}
    assert [p.id for p in load_policies(json.dumps(doc))] == ["CA001", "CA002"]
    assert load_policies(policy("CA003", grant=["mfa"]))[0].state is PolicyState.ENABLED


@pytest.mark.parametrize(
    "bad",
    [
        "{",
        "42",
        '"x"',
        '[{"state": "enabled"}]',
        '[{"id": "a", "state": "on"}]',
        '[{"id": "a", "conditions": {"users": {"includeUsers": "All"}}}]',
        '[{"id": "a"}, {"id": "a"}]',
        '[{"id": "a", "grantControls": {"operator": "XOR"}}]',
        '[{"id": "a", "grantControls": {"termsOfUse": 5}}]',
        '[{"id": "a", "grantControls": {"customAuthenticationFactors": "factor"}}]',
        '[{"id": "a", "conditions": {"clientAppTypes": 5}}]',
    ],
)
def test_bad_policy_documents_raise_configuration_error(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        load_policies(bad)


def test_block_wins_over_mfa_and_all_matching_apply() -> None:
    policies = load_policies([policy("CA001", grant=["mfa"]), policy("CA002", grant=["block"])])
    result = evaluate(policies, ctx(amr=["pwd"]))
    assert result.decision.outcome is Outcome.DENY
    assert result.decision.reason is Reason.BLOCKED_BY_POLICY
    assert set(result.decision.matched_policies) == {"CA001", "CA002"}


def test_mfa_is_read_from_amr_when_the_token_has_it_and_never_challenged_for() -> None:
    # Access token claims reference: amr is "only present in v1.0 tokens".
    policies = load_policies([policy("CA001", grant=["mfa"])])
    assert evaluate(policies, ctx(ver="1.0", amr=["pwd", "mfa"])).decision.allowed
    assert evaluate(policies, ctx(ver="1.0", amr=["pwd", "ngcmfa"])).decision.allowed
    refused = evaluate(policies, ctx(ver="1.0", amr=["pwd"])).decision
    # The token shows no MFA and no claim can ask for it: refused, not a challenge that
    # the identity provider could never answer (the client would loop).
    assert refused.outcome is Outcome.DENY and refused.reason is Reason.MFA_REQUIRED
    assert refused.claims is None
    ambiguous = evaluate(policies, ctx(ver="1.0", amr=["wiaormfa"]))
    assert ambiguous.decision.allowed and "CA001" in ambiguous.undecided


def test_mfa_without_amr_is_undecided_unless_enforced_through_an_auth_context() -> None:
    policies = load_policies([policy("CA001", grant=["mfa"])])
    v2 = ctx(ver="2.0")  # a v2.0 token: no amr claim at all
    result = evaluate(policies, v2)
    assert result.decision.allowed
    assert result.result("CA001").verdict is PolicyVerdict.UNDECIDED
    assert result.decision.details["undecided"]["CA001"][0].startswith("grantControls.mfa")
    enforced = PolicyContext(**{**_fields(v2), "mfa_auth_context": "C2"})
    challenged = evaluate(policies, enforced).decision
    assert challenged.outcome is Outcome.CHALLENGE and challenged.reason is Reason.MFA_REQUIRED
    assert challenged.claims == {"access_token": {"acrs": {"essential": True, "value": "c2"}}}
    shown = PolicyContext(**{**_fields(ctx(ver="2.0", acrs=["c2"])), "mfa_auth_context": "c2"})
    assert evaluate(policies, shown).decision.allowed
    # A v1.0 token without MFA is challenged for the context too, never for amr.
    v1 = PolicyContext(**{**_fields(ctx(ver="1.0", amr=["pwd"])), "mfa_auth_context": "c2"})
    assert evaluate(policies, v1).decision.claims == challenged.claims


@pytest.mark.parametrize("bad", ["c0", "c100", "x1", "", "c1 c2"])
def test_mfa_auth_context_must_be_an_auth_context_id(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        PolicyContext(claims=TokenClaims({}), mfa_auth_context=bad)


def test_auth_context_policy_steps_up_with_acrs_and_acrs_satisfies_mfa() -> None:
    p = policy(
        "CA010", grant=["mfa"], applications={"includeAuthenticationContextClassReferences": ["c1"]}
    )
    policies = load_policies([p])
    plain = evaluate(policies, ctx(amr=["pwd"]))
    assert plain.result("CA010").verdict is PolicyVerdict.NOT_APPLIED
    route = PolicyContext(**{**_fields(ctx(amr=["pwd"])), "auth_contexts": frozenset({"c1"})})
    stepped = evaluate(policies, route).decision
    assert stepped.claims == {"access_token": {"acrs": {"essential": True, "value": "c1"}}}
    satisfied = PolicyContext(**{**_fields(ctx(acrs=["c1"])), "auth_contexts": frozenset({"c1"})})
    assert evaluate(policies, satisfied).decision.allowed


def _fields(context: PolicyContext) -> dict[str, object]:
    return {name: getattr(context, name) for name in PolicyContext.__slots__}


def test_report_only_is_reported_never_enforced_and_disabled_skipped() -> None:
    policies = load_policies(
        [
            policy("CA001", state="enabledForReportingButNotEnforced", grant=["block"]),
            policy("CA002", state="disabled", grant=["block"]),
        ]
    )
    decision = evaluate(policies, ctx()).decision
    assert decision.allowed
    assert decision.report_only == ("CA001",)
    assert decision.matched_policies == ()


def test_unknown_platform_is_catchable_and_specific_platforms_miss_it() -> None:
    catch_unknown = policy(
        "CA050",
        grant=["block"],
        platforms={
            "includePlatforms": ["all"],
            "excludePlatforms": ["android", "iOS", "windows", "macOS", "linux", "windowsPhone"],
        },
    )
    ios_only = policy("CA051", grant=["block"], platforms={"includePlatforms": ["iOS"]})
    policies = load_policies([catch_unknown, ios_only])
    for ua in (None, "", "curl/8.0", "python-httpx/0.28"):
        context = PolicyContext(**{**_fields(ctx()), "user_agent": ua})
        result = evaluate(policies, context)
        assert result.result("CA050").verdict is PolicyVerdict.BLOCK, ua
        assert result.result("CA051").verdict is PolicyVerdict.NOT_APPLIED, ua
    windows = evaluate(policies, ctx())
    assert windows.decision.allowed
    iphone = evaluate(policies, PolicyContext(**{**_fields(ctx()), "user_agent": IPHONE_UA}))
    assert iphone.decision.matched_policies == ("CA051",)


def test_locations_all_trusted_and_exclusions() -> None:
    outside_trusted = policy(
        "CA060",
        grant=["block"],
        locations={"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]},
    )
    policies = load_policies([outside_trusted])
    assert evaluate(policies, ctx()).decision.allowed  # 10.0.0.1 is trusted
    away = PolicyContext(**{**_fields(ctx()), "client_ip": "8.8.8.8"})
    assert evaluate(policies, away).decision.outcome is Outcome.DENY
    unknown_ip = PolicyContext(**{**_fields(ctx()), "client_ip": None})
    result = evaluate(policies, unknown_ip)
    assert result.decision.allowed
    assert result.undecided == {"CA060": ("locations: AllTrusted: the client IP is not known",)}


def test_unobservable_conditions_and_controls_are_reported_not_guessed() -> None:
    sign_in_risk = policy("CA070", grant=["block"], signInRiskLevels=["high"])
    compliant = policy("CA071", grant=["compliantDevice"])
    groups = policy("CA072", grant=["block"], users={"includeGroups": ["g1"]})
    result = evaluate(load_policies([sign_in_risk, compliant, groups]), ctx())
    assert result.decision.allowed
    assert result.undecided["CA070"] == (
        "conditions.signInRiskLevels is not evaluated by a resource",
    )
    assert result.undecided["CA071"] == ("grantControls.compliantdevice is not visible in a token",)
    assert result.undecided["CA072"] == (
        "conditions.users.includeGroups: the token has no groups claim",
    )
    with_groups = evaluate(load_policies([groups]), ctx(groups=["G1"]))
    assert with_groups.decision.outcome is Outcome.DENY
    # An observed mismatch settles a policy even when another condition is unobservable.
    other_user = policy(
        "CA073",
        grant=["block"],
        users={"includeUsers": ["someone-else"]},
        signInRiskLevels=["high"],
    )
    result = evaluate(
        load_policies([other_user]), PolicyContext(**{**_fields(ctx()), "client_ip": None})
    )
    assert result.result("CA073").verdict is PolicyVerdict.NOT_APPLIED
    assert result.undecided == {}


def test_risk_conditions_are_undecided_when_the_risk_is_not_known() -> None:
    risky = load_policies([policy("CA080", grant=["block"], userRiskLevels=["high"])])
    unknown = evaluate(risky, ctx())  # no user_risk: no risk source
    assert unknown.decision.allowed
    assert unknown.result("CA080").verdict is PolicyVerdict.UNDECIDED
    none = PolicyContext(**{**_fields(ctx()), "user_risk": "none"})
    assert evaluate(risky, none).result("CA080").verdict is PolicyVerdict.NOT_APPLIED


def test_user_risk_and_workload_identity_policies() -> None:
    risky = policy("CA080", grant=["block"], userRiskLevels=["high"])
    workload = {
        "id": "CA900",
        "state": "enabled",
        "conditions": {
            "users": {"includeUsers": ["None"]},
            "applications": {"includeApplications": ["All"]},
            "clientApplications": {"includeServicePrincipals": ["app-1"]},
            "servicePrincipalRiskLevels": ["medium", "high"],
        },
        "grantControls": {"operator": "OR", "builtInControls": ["block"]},
    }
    policies = load_policies([risky, workload])
    high = PolicyContext(**{**_fields(ctx()), "user_risk": "high"})
    assert evaluate(policies, high).decision.matched_policies == ("CA080",)
    app = PolicyContext(
        **{
            **_fields(ctx()),
            "claims": TokenClaims({"tid": "t", "azp": "a", "oid": "APP-1", "idtyp": "app"}),
            "service_principal_risk": "medium",
        }
    )
    assert evaluate(policies, app).decision.matched_policies == ("CA900",)
    assert evaluate(policies, ctx()).decision.allowed  # user token, no risk


# Entra docs "Conditional Access for workload identities"
# (https://learn.microsoft.com/entra/identity/conditional-access/workload-identity): the policy
# names service principals by object id (the token's oid, never the application id), and
# "can be applied to single tenant service principals that have been registered in your
# tenant. Third party SaaS and multi-tenanted apps are out of scope. Managed identities are
# not covered by policy." A token does not show which kind of service principal calls.
@pytest.mark.parametrize(
    ("claims", "verdict"),
    [
        ({"oid": "sp-listed"}, PolicyVerdict.BLOCK),
        ({"oid": "SP-LISTED", "azp": "sp-excluded"}, PolicyVerdict.BLOCK),  # oid decides
        ({"oid": "sp-excluded"}, PolicyVerdict.NOT_APPLIED),
        ({"oid": "sp-other"}, PolicyVerdict.UNDECIDED),  # a managed identity? multitenant?
        ({"azp": "sp-listed"}, PolicyVerdict.UNDECIDED),  # no oid: the id is not shown
    ],
)
def test_service_principals_are_named_by_object_id(
    claims: dict[str, str], verdict: PolicyVerdict
) -> None:
    workload = {
        "id": "CA902",
        "state": "enabled",
        "conditions": {
            "users": {"includeUsers": ["None"]},
            "applications": {"includeApplications": ["All"]},
            "clientApplications": {
                "includeServicePrincipals": ["ServicePrincipalsInMyTenant", "sp-listed"],
                "excludeServicePrincipals": ["sp-excluded"],
            },
        },
        "grantControls": {"operator": "OR", "builtInControls": ["block"]},
    }
    app = PolicyContext(
        **{**_fields(ctx()), "claims": TokenClaims({"tid": "t", "idtyp": "app", **claims})}
    )
    assert evaluate(load_policies([workload]), app).result("CA902").verdict is verdict


def test_a_user_policy_with_service_principals_is_undecided() -> None:
    # Graph conditionalAccessConditionSet: "Either users or clientApplications is required";
    # clientApplications selects service principals, which a user's token does not name.
    both = policy(
        "CA903",
        grant=["block"],
        clientApplications={"includeServicePrincipals": ["sp-1"]},
    )
    assert evaluate(load_policies([both]), ctx()).result("CA903").verdict is (
        PolicyVerdict.UNDECIDED
    )


@pytest.mark.parametrize(
    ("oid", "verdict"),
    [
        ("app-1", PolicyVerdict.UNDECIDED),
        ("APP-2", PolicyVerdict.UNDECIDED),
        ("app-excluded", PolicyVerdict.NOT_APPLIED),
    ],
)
def test_service_principals_in_my_tenant_is_undecided_unless_excluded(
    oid: str, verdict: PolicyVerdict
) -> None:
    # Graph: includeServicePrincipals holds ids "or ServicePrincipalsInMyTenant".
    workload = {
        "id": "CA901",
        "state": "enabled",
        "conditions": {
            "users": {"includeUsers": ["None"]},
            "applications": {"includeApplications": ["All"]},
            "clientApplications": {
                "includeServicePrincipals": ["ServicePrincipalsInMyTenant"],
                "excludeServicePrincipals": ["app-excluded"],
            },
        },
        "grantControls": {"operator": "OR", "builtInControls": ["block"]},
    }
    app = PolicyContext(
        **{**_fields(ctx()), "claims": TokenClaims({"tid": "t", "oid": oid, "idtyp": "app"})}
    )
    result = evaluate(load_policies([workload]), app)
    assert result.result("CA901").verdict is verdict
    assert result.decision.allowed
    assert evaluate(load_policies([workload]), ctx()).decision.allowed  # users untouched


def test_excluded_user_and_other_application() -> None:
    p = policy("CA090", grant=["block"], users={"includeUsers": ["All"], "excludeUsers": [OID]})
    other_app = policy("CA091", grant=["block"], applications={"includeApplications": ["x"]})
    assert evaluate(load_policies([p, other_app]), ctx()).decision.allowed


@given(
    states=st.lists(
        st.sampled_from(["enabled", "disabled", "enabledForReportingButNotEnforced"]),
        min_size=1,
        max_size=6,
    ),
    grants=st.lists(st.sampled_from([["block"], ["mfa"], []]), min_size=6, max_size=6),
    mfa=st.booleans(),
)
def test_block_wins_and_report_only_never_enforced(
    states: list[str], grants: list[list[str]], mfa: bool
) -> None:
    docs = [policy(f"CA{i:03}", state=s, grant=grants[i]) for i, s in enumerate(states)]
    context = PolicyContext(
        **{**_fields(ctx(ver="1.0", amr=["mfa"] if mfa else ["pwd"])), "mfa_auth_context": "c1"}
    )
    decision = evaluate(load_policies(docs), context).decision
    enabled = [grants[i] for i, s in enumerate(states) if s == "enabled"]
    if any(g == ["block"] for g in enabled):
        assert decision.outcome is Outcome.DENY
    elif not mfa and any(g == ["mfa"] for g in enabled):
        assert decision.outcome is Outcome.CHALLENGE
        assert decision.claims == {"access_token": {"acrs": {"essential": True, "value": "c1"}}}
    else:
        assert decision.allowed


@pytest.mark.parametrize(
    ("ua", "platform"),
    [
        (WINDOWS_UA, "windows"),
        (IPHONE_UA, "ios"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8)", "android"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0)", "macos"),
        ("Mozilla/5.0 (X11; Linux x86_64)", "linux"),
        ("Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1)", "windowsphone"),
        ("curl/8.4.0", None),
        (None, None),
    ],
)
def test_platform_from_user_agent(ua: str | None, platform: str | None) -> None:
    assert platform_from_user_agent(ua) == platform


# Access token claims reference, tid: "the tenant that the user is signing in to". A tenant's
# policies apply to sign-ins to that tenant; a multitenant API sets PolicyOptions.tenant_id.
def test_policies_apply_to_tokens_of_their_own_tenant_only() -> None:
    block_all = load_policies([policy("CA001", grant=["block"])])
    options = PolicyOptions(tenant_id=" T ")
    own = options.context(TokenClaims({"tid": "t", "oid": OID, "scp": "x"}))
    other = options.context(TokenClaims({"tid": "other", "oid": OID, "scp": "x"}))
    unknown = options.context(TokenClaims({"oid": OID, "scp": "x"}))
    assert evaluate(block_all, own).result("CA001").verdict is PolicyVerdict.BLOCK
    assert evaluate(block_all, other).result("CA001").verdict is PolicyVerdict.NOT_APPLIED
    assert evaluate(block_all, unknown).result("CA001").verdict is PolicyVerdict.UNDECIDED
    assert evaluate(block_all, ctx()).result("CA001").verdict is PolicyVerdict.BLOCK  # None
    with pytest.raises(ConfigurationError):
        PolicyOptions(tenant_id=" ")
