"""Typed reading of Graph ``conditionalAccessPolicy`` and ``namedLocation`` JSON: a wrong type
is a ConfigurationError naming the policy (or location) and the member; configured members
the engine does not evaluate make the policy undecided; null and empty members are unset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cae_sdk.core.errors import ConfigurationError
from cae_sdk.core.locations import (
    CountryNamedLocation,
    NamedLocation,
    load_named_locations,
)
from cae_sdk.core.policies import (
    MAX_DOCUMENT_BYTES,
    PolicyContext,
    PolicyVerdict,
    evaluate,
    load_policies,
)
from cae_sdk.core.tokens import TokenClaims


def doc(**conditions: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "users": {"includeUsers": ["All"]},
        "applications": {"includeApplications": ["All"]},
    }
    base.update(conditions)
    return {
        "id": "CA001",
        "displayName": "CA001-Global-BaseProtection-AllApps-AnyPlatform-Block",
        "state": "enabled",
        "conditions": base,
        "grantControls": {"operator": "OR", "builtInControls": ["block"]},
    }


@pytest.mark.parametrize(
    ("mutate", "member"),
    [
        (lambda d: d["conditions"].update(signInRiskLevels=5), "conditions.signInRiskLevels"),
        (lambda d: d["conditions"].update(clientAppTypes="all"), "conditions.clientAppTypes"),
        (lambda d: d["conditions"]["users"].update(includeUsers="All"), "includeUsers"),
        (lambda d: d["conditions"]["users"].update(excludeGroups=[1]), "excludeGroups"),
        (lambda d: d["conditions"].update(locations=[]), "conditions.locations"),
        (lambda d: d["conditions"].update(devices="compliant"), "conditions.devices"),
        (
            lambda d: d["conditions"]["applications"].update(applicationFilter=1),
            "applicationFilter",
        ),
        (lambda d: d["grantControls"].update(builtInControls="block"), "builtInControls"),
        (lambda d: d["grantControls"].update(termsOfUse=5), "grantControls.termsOfUse"),
        (lambda d: d["grantControls"].update(authenticationStrength="x"), "authenticationStrength"),
        (lambda d: d.update(sessionControls=[]), "sessionControls"),
        (lambda d: d.update(state=True), "state"),
        (lambda d: d["conditions"].update(insiderRiskLevels=5), "insiderRiskLevels"),
        (lambda d: d.update(displayName=7), "displayName"),
        (
            lambda d: d["conditions"]["users"].update(
                includeGuestsOrExternalUsers={"guestOrExternalUserTypes": 3}
            ),
            "guestOrExternalUserTypes",
        ),
    ],
)
def test_a_wrong_type_names_the_policy_and_the_member(mutate: Any, member: str) -> None:
    policy = doc()
    mutate(policy)
    with pytest.raises(ConfigurationError) as caught:
        load_policies([policy])
    message = str(caught.value)
    assert "CA001" in message and member in message, message


@pytest.mark.parametrize(
    "bad",
    [
        "{",
        "42",
        '"x"',
        "[NaN]",
        '[{"state": "enabled"}]',
        '[{"id": "a", "state": "on", "conditions": {}}]',
        '[{"id": "a", "grantControls": {"operator": "XOR"}}]',
        '[{"id": "a", "conditions": {"users": {}}}]',  # no applications
        '[{"id": "a", "conditions": {"applications": {}}}]',  # no users or clientApplications
        # A PowerShell export (PascalCase): nothing it says would be read.
        '[{"Id": "a", "DisplayName": "a", "Conditions": {}}]',
        '{"id": "a", "state": "disabled", "state": "enabled"}',
    ],
)
def test_bad_documents_raise_configuration_error(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        load_policies(bad)


def test_a_policy_without_a_name_is_named_by_its_position() -> None:
    policy = doc()
    del policy["id"], policy["displayName"]
    policy["conditions"]["clientAppTypes"] = 1
    with pytest.raises(ConfigurationError, match="policy #2"):
        load_policies([doc(), policy])


def test_null_and_empty_members_are_unset_as_graph_returns_them() -> None:
    # The shape of Graph's "Get conditionalAccessTemplate" example (v1.0): every unset member
    # is null or empty.
    policy = doc(
        userRiskLevels=[],
        signInRiskLevels=[],
        clientAppTypes=["all"],
        servicePrincipalRiskLevels=[],
        platforms=None,
        locations=None,
        signInRiskDetections=None,
        times=None,
        deviceStates=None,
        devices=None,
        clientApplications=None,
        insiderRiskLevels=None,
        authenticationFlows=None,
    )
    policy["conditions"]["applications"].update(
        excludeApplications=[],
        includeUserActions=[],
        includeAuthenticationContextClassReferences=[],
        applicationFilter=None,
        networkAccess=None,
    )
    policy["conditions"]["users"].update(
        includeGuestsOrExternalUsers=None, excludeGuestsOrExternalUsers=None
    )
    policy["grantControls"].update(
        customAuthenticationFactors=[], termsOfUse=[], authenticationStrength=None
    )
    policy["grantControls"]["authenticationStrength@odata.context"] = "https://graph..."
    policy["sessionControls"] = None
    (parsed,) = load_policies([policy])
    assert parsed.unsupported == ()
    assert parsed.grant.others == ()


def test_configured_members_outside_the_engine_are_kept_by_name() -> None:
    policy = doc(
        signInRiskLevels=["high"],
        devices={"deviceFilter": {"mode": "exclude", "rule": 'device.trustType -eq "x"'}},
        deviceStates={"includeStates": ["All"], "excludeStates": ["Compliant"]},
        somethingNew={"enabled": True},
        emptyNew={"a": None, "b": []},
    )
    policy["conditions"]["applications"]["applicationFilter"] = {"mode": "include", "rule": "x"}
    policy["conditions"]["users"]["includeNewKind"] = ["x"]
    policy["conditions"]["clientApplications"] = {
        "includeServicePrincipals": [],
        "servicePrincipalFilter": {"mode": "include", "rule": "x"},
    }
    (parsed,) = load_policies([policy])
    assert set(parsed.unsupported) == {
        "conditions.signInRiskLevels",
        "conditions.devices",
        "conditions.deviceStates",
        "conditions.somethingNew",
        "conditions.applications.applicationFilter",
        "conditions.users.includeNewKind",
        "conditions.clientApplications.servicePrincipalFilter",
    }


def test_one_size_limit_for_text_documents() -> None:
    padding = " " * (MAX_DOCUMENT_BYTES + 1 - 2)
    with pytest.raises(ConfigurationError, match="too large"):
        load_policies("[" + padding + "]")
    assert load_policies("[" + padding[:-1] + "]") == []
    with pytest.raises(ConfigurationError, match="too large"):
        load_named_locations(("[" + padding + "]").encode())


def test_graph_named_location_examples_and_typed_members() -> None:
    # Graph v1.0 "Create namedLocation", examples 1 (ipNamedLocation) and 2
    # (countryNamedLocation), as returned with their ids.
    locations = load_named_locations(
        json.dumps(
            [
                {
                    "@odata.type": "#microsoft.graph.ipNamedLocation",
                    "id": "0854951d-5fc0-4eb1-b392-9b2c9d7949c2",
                    "displayName": "Untrusted IP named location",
                    "isTrusted": False,
                    "ipRanges": [
                        {
                            "@odata.type": "#microsoft.graph.iPv4CidrRange",
                            "cidrAddress": "12.34.221.11/22",
                        },
                        {
                            "@odata.type": "#microsoft.graph.iPv6CidrRange",
                            "cidrAddress": "2001:0:9d38:90d6:0:0:0:0/63",
                        },
                    ],
                },
                {
                    "@odata.type": "#microsoft.graph.countryNamedLocation",
                    "id": "1c4427fd-0885-4a3d-8b23-09a899ffa959",
                    "displayName": "Named location with unknown countries and regions",
                    "countriesAndRegions": ["US", "GB"],
                    "includeUnknownCountriesAndRegions": True,
                },
            ]
        )
    )
    ip, country = locations
    assert isinstance(ip, NamedLocation) and not ip.trusted and len(ip.ranges) == 2
    assert isinstance(country, CountryNamedLocation)
    assert country.countries == {"US", "GB"} and country.include_unknown and country.by_client_ip


@pytest.mark.parametrize(
    ("location", "member"),
    [
        ({"isTrusted": "false"}, "isTrusted"),
        ({"isTrusted": 0}, "isTrusted"),
        ({"ipRanges": "10.0.0.0/8"}, "ipRanges"),
        ({"ipRanges": [{"cidrAddress": 10}]}, "cidrAddress"),
        ({"ipRanges": [{"cidrAddress": "10.0.0.0/33"}]}, "10.0.0.0/33"),
        ({"displayName": ["x"]}, "displayName"),
    ],
)
def test_named_location_wrong_types_name_the_location(
    location: dict[str, Any], member: str
) -> None:
    data = {"id": "loc-1", "displayName": "Office", "isTrusted": True, "ipRanges": []}
    data.update(location)
    with pytest.raises(ConfigurationError) as caught:
        load_named_locations([data])
    assert "loc-1" in str(caught.value) or "Office" in str(caught.value)
    assert member in str(caught.value)


def test_country_location_members_are_typed() -> None:
    base = {"id": "c", "displayName": "C", "countriesAndRegions": ["NL"]}
    with pytest.raises(ConfigurationError, match="includeUnknownCountriesAndRegions"):
        load_named_locations([{**base, "includeUnknownCountriesAndRegions": "true"}])
    with pytest.raises(ConfigurationError, match="countriesAndRegions"):
        load_named_locations([{**base, "countriesAndRegions": "NL"}])
    with pytest.raises(ConfigurationError, match="not an ipNamedLocation"):
        load_named_locations([{"id": "x", "displayName": "x"}])


# Microsoft Graph "Paging Microsoft Graph data in your app"
# (https://learn.microsoft.com/graph/paging): a collection response that does not hold every
# item carries @odata.nextLink. Loading one page would silently skip the policies (or named
# locations) on the others.
NEXT = "https://graph.microsoft.com/v1.0/identity/conditionalAccess/policies?$skiptoken=X"


@pytest.mark.parametrize("as_text", [False, True])
def test_one_page_of_a_paged_graph_response_is_refused(as_text: bool) -> None:
    page = {"@odata.context": "ctx", "@odata.nextLink": NEXT, "value": [doc()]}
    with pytest.raises(ConfigurationError, match="nextLink"):
        load_policies(json.dumps(page) if as_text else page)
    locations = {"@odata.nextLink": NEXT, "value": [{"id": "a", "ipRanges": []}]}
    with pytest.raises(ConfigurationError, match="nextLink"):
        load_named_locations(json.dumps(locations) if as_text else locations)
    # The last page (no nextLink) and a whole collection load.
    assert [p.id for p in load_policies({"@odata.context": "ctx", "value": [doc()]})] == ["CA001"]


# Graph conditionalAccessConditionSet.insiderRiskLevels and
# conditionalAccessGuestsOrExternalUsers.guestOrExternalUserTypes are flags enums: Graph writes
# one comma-separated string, SDK exports (PowerShell, kiota models) a list of strings.
@pytest.mark.parametrize("levels", ["elevated", "minor,elevated", ["elevated"], ["minor", "x"]])
def test_flags_enums_read_as_string_or_list(levels: Any) -> None:
    (parsed,) = load_policies([doc(insiderRiskLevels=levels)])
    assert parsed.unsupported == ("conditions.insiderRiskLevels",)


@pytest.mark.parametrize("levels", ["none", "", [], ["none"], None])
def test_flags_enums_without_a_flag_are_unset(levels: Any) -> None:
    (parsed,) = load_policies([doc(insiderRiskLevels=levels)])
    assert parsed.unsupported == ()


def test_a_list_holding_a_wrong_type_says_so() -> None:
    policy = doc()
    policy["conditions"]["users"]["includeUsers"] = ["All", None]
    with pytest.raises(
        ConfigurationError, match="includeUsers must be a list of strings, not a list holding null"
    ):
        load_policies([policy])


# The members a Graph beta GET returns at the top of a policy (templateId, deletedDateTime,
# partialEnablementStrategy, as in Graph's own responses): a configured member the engine does
# not read may change when the policy applies, so it makes the policy undecided.
def test_top_level_members_outside_the_engine_make_the_policy_undecided() -> None:
    policy = doc()
    policy.update(templateId=None, deletedDateTime=None, partialEnablementStrategy=None)
    (parsed,) = load_policies([policy])
    assert parsed.unsupported == ()
    assert parsed.evaluated
    policy["partialEnablementStrategy"] = {"mode": "gradual"}
    policy["@odata.type"] = "#microsoft.graph.conditionalAccessPolicy"
    (parsed,) = load_policies([policy])
    assert parsed.unsupported == ("partialEnablementStrategy",)


def test_a_deleted_policy_is_not_evaluated_whatever_its_state() -> None:
    # Graph beta lists soft-deleted policies with deletedDateTime (deletedItems).
    policy = doc()
    policy["deletedDateTime"] = "2025-09-12T17:01:05Z"
    (parsed,) = load_policies([policy])
    assert parsed.deleted == "2025-09-12T17:01:05Z"
    assert not parsed.evaluated
    context = PolicyContext(claims=TokenClaims({"oid": "u", "scp": "x"}))
    evaluation = evaluate([parsed], context)
    assert evaluation.results == ()
    assert evaluation.decision.allowed


DATA = Path(__file__).parent / "data"


# Exports written by Microsoft Graph PowerShell (`Get-MgIdentityConditionalAccessPolicy |
# ConvertTo-Json -Depth 10`, `Get-MgIdentityConditionalAccessNamedLocation`): PascalCase
# members, unset members as all-null objects, and the members the SDK model lacks under
# AdditionalProperties (a named location's type and ranges). They read as Graph's own JSON.
def test_powershell_exports_read_as_graph_json() -> None:
    (policy,) = load_policies((DATA / "policy-powershell-export.json").read_bytes())
    assert policy.id == "6f0c9a2e-7f7e-4a4f-9d6c-0d2b1b9c1a02"
    assert policy.name.startswith("CA002-Global")
    assert policy.grant.built_in == {"block"} and policy.grant.others == ()
    assert policy.users.exclude == {"5e3f2b3c-6a1d-4f0e-9d9b-2f1c7a9e0b11"}
    assert policy.locations.include == {"all"} and policy.locations.exclude == {"alltrusted"}
    assert policy.unsupported == () and policy.include_guests is None
    hq, countries = load_named_locations(
        (DATA / "named-location-powershell-export.json").read_bytes()
    )
    assert isinstance(hq, NamedLocation) and hq.trusted and hq.name == "Corporate network"
    assert isinstance(countries, CountryNamedLocation)
    assert countries.countries == {"NL", "DE"}
    context = PolicyContext(
        claims=TokenClaims({"oid": "u", "scp": "x"}),
        client_ip="203.0.113.9",
        named_locations=(hq, countries),
    )
    assert not evaluate([policy], context).decision.allowed


def test_a_member_named_twice_across_cases_is_refused() -> None:
    policy = doc()
    policy["State"] = "disabled"  # and "state": "enabled"
    with pytest.raises(ConfigurationError, match="'state' appears twice"):
        load_policies([policy])
    policy = doc()
    policy["additionalProperties"] = {"state": "disabled"}
    with pytest.raises(ConfigurationError, match="'state' appears twice"):
        load_policies([policy])


def test_a_template_is_refused_as_a_template() -> None:
    # Graph v1.0 "Get conditionalAccessTemplate", example 1 (abridged): a template is not a
    # policy; the message says what to do instead of "'conditions' is required".
    template = {
        "name": "Require multifactor authentication for admins",
        "description": "Require multifactor authentication for privileged administrative "
        "accounts to reduce risk of compromise.",
        "id": "c7503427-338e-4c5e-902d-abe252abfb43",
        "scenarios": "secureFoundation,zeroTrust,protectAdmins",
        "details": {
            "sessionControls": None,
            "conditions": doc()["conditions"],
            "grantControls": {"operator": "OR", "builtInControls": ["mfa"]},
        },
    }
    with pytest.raises(ConfigurationError, match="conditionalAccessTemplate, not a policy"):
        load_policies({"value": [template]})


# Graph conditionalAccessSessionControls and Entra docs "Conditional Access: Session": the
# controls shape the session after access is granted; a token shows none of them. They are
# reported with who enforces each; one Graph adds later (unknown here) makes the policy
# undecided; a control switched off (isEnabled false, disableResilienceDefaults false) is off.
def test_session_controls_are_reported_never_ignored() -> None:
    policy = doc()
    policy["grantControls"] = None
    policy["sessionControls"] = {
        "applicationEnforcedRestrictions": None,
        "persistentBrowser": {"isEnabled": False, "mode": "always"},
        "disableResilienceDefaults": False,
        "cloudAppSecurity": {"cloudAppSecurityType": "blockDownloads", "isEnabled": True},
        "signInFrequency": {"value": 4, "type": "hours", "isEnabled": True},
    }
    (parsed,) = load_policies([policy])
    assert parsed.session_controls == ("cloudAppSecurity", "signInFrequency")
    assert parsed.unsupported == ()
    context = PolicyContext(claims=TokenClaims({"oid": "u", "scp": "x"}))
    (result,) = evaluate([parsed], context).results
    assert result.verdict is PolicyVerdict.SATISFIED
    assert result.session_controls == (
        "cloudAppSecurity: enforced by the Microsoft Defender for Cloud Apps reverse proxy",
        "signInFrequency: enforced by the identity provider when it issues tokens",
    )
    policy["sessionControls"]["aControlFromTheFuture"] = {"isEnabled": True}
    (parsed,) = load_policies([policy])
    assert parsed.unsupported == ("sessionControls.aControlFromTheFuture",)
    assert evaluate([parsed], context).results[0].verdict is PolicyVerdict.UNDECIDED
