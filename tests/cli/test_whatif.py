"""``cae whatif``: verdicts from the resource's policy engine, explained per policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import make_token

EXAMPLES = Path(__file__).parents[2] / "examples" / "policies"
POLICIES = EXAMPLES / "ca-policies.json"
LOCATIONS = EXAMPLES / "named-locations.json"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"
INTERNALS = "11111111-1111-1111-1111-111111111111"


def whatif(cae, token: str, *extra: str, policies: Path = POLICIES):
    result = cae(
        "whatif",
        "--policies",
        str(policies),
        "--token",
        token,
        "--locations",
        str(LOCATIONS),
        "--app-id",
        "cae-demo",
        *extra,
        "--json",
    )
    assert result.code == 0, result.err
    data = result.json()
    return data, {row["name"].split("-")[0]: row for row in data["policies"]}


def test_mfa_enforced_through_an_auth_context_is_a_step_up(cae):
    data, rows = whatif(
        cae,
        make_token(groups=[INTERNALS]),  # a v2.0 token: no amr
        "--ip",
        "203.0.113.5",
        "--user-agent",
        IPHONE,
        "--mfa-auth-context",
        "c2",
    )
    assert rows["CA100"]["effect"] == "require MFA"
    assert "step up to authentication context c2" in rows["CA100"]["why"]
    assert rows["CA001"]["why"] == "does not match: device platform"
    assert rows["CA101"]["why"] == "does not match: applications"
    assert "workload-identity policy" in rows["CA900"]["why"]
    assert data["request"]["device_platform"] == "ios"
    assert data["decision"]["outcome"] == "challenge"
    assert data["decision"]["claims"] == {
        "access_token": {"acrs": {"essential": True, "value": "c2"}}
    }


def test_mfa_a_v2_token_cannot_show_is_undecided_never_an_amr_challenge(cae):
    data, rows = whatif(
        cae, make_token(groups=[INTERNALS]), "--ip", "203.0.113.5", "--user-agent", IPHONE
    )
    assert rows["CA100"]["effect"] == "undecided"
    assert "grantControls.mfa: the token has no amr claim" in rows["CA100"]["why"]
    assert data["decision"]["outcome"] == "allow"
    assert data["decision"]["claims"] is None
    assert list(data["decision"]["undecided"]) == ["0b6f2bb4-0100-4a5e-9f00-000000000100"]


def test_unknown_platform_is_blocked(cae):
    request = ("--ip", "10.1.1.1", "--user-agent", "curl/8.5")
    token = make_token(groups=[INTERNALS], amr=["pwd", "mfa"])
    # CA001 excludes the break-glass group: the token's groups claim decides that only when
    # it lists every group of the user (PolicyOptions.groups_claim_complete).
    data, rows = whatif(cae, token, *request, "--groups-claim-complete")
    assert data["request"]["device_platform"] == "unknown"
    assert data["request"]["named_locations_matched"] == ["Corporate network"]
    assert rows["CA001"]["effect"] == "block"
    assert rows["CA100"]["effect"] == "grant"
    assert data["decision"]["outcome"] == "deny"
    data, rows = whatif(cae, token, *request)
    assert rows["CA001"]["effect"] == "undecided"
    assert "the groups claim does not list the group" in rows["CA001"]["why"]
    assert data["decision"]["outcome"] == "allow"


# The app-only token's oid: Conditional Access names a service principal by its object id
# (Entra docs "Conditional Access for workload identities", "Finding the objectID").
WORKLOAD_SP = "aaaaaaaa-0000-0000-0000-000000000001"


def workload_policies(tmp_path: Path, service_principals: list[str]) -> Path:
    policies = json.loads(POLICIES.read_text())["value"]
    (ca900,) = [p for p in policies if p["displayName"].startswith("CA900")]
    ca900["conditions"]["clientApplications"]["includeServicePrincipals"] = service_principals
    path = tmp_path / "workload.json"
    path.write_text(json.dumps(policies))
    return path


def test_workload_identity_outside_trusted_network(cae, tmp_path):
    app_token = make_token(scp=None, idtyp="app", sid=None, roles=["Data.Read"])
    policies = workload_policies(tmp_path, [WORKLOAD_SP])
    data, rows = whatif(
        cae, app_token, "--ip", "203.0.113.5", "--user-agent", IPHONE, policies=policies
    )
    assert rows["CA900"]["effect"] == "block"
    assert "app-only" in rows["CA100"]["why"]
    assert data["decision"]["outcome"] == "deny"
    inside, rows = whatif(
        cae, app_token, "--ip", "10.2.3.4", "--user-agent", IPHONE, policies=policies
    )
    assert rows["CA900"]["why"] == "does not match: location"
    assert inside["decision"]["outcome"] == "allow"


def test_service_principals_in_my_tenant_keyword(cae):
    # ServicePrincipalsInMyTenant covers single-tenant service principals registered in the
    # tenant only; managed identities and multitenant apps are out of scope, and a token does
    # not show which kind calls (Entra docs "Conditional Access for workload identities").
    app_token = make_token(scp=None, idtyp="app", sid=None, roles=["Data.Read"])
    data, rows = whatif(cae, app_token, "--ip", "203.0.113.5", "--user-agent", IPHONE)
    assert rows["CA900"]["effect"] == "undecided"
    assert "managed identities" in rows["CA900"]["why"]
    assert data["decision"]["outcome"] == "allow"


def test_report_only_and_disabled_and_unobservable(cae, tmp_path):
    policies = [
        {
            "id": "ro",
            "displayName": "CA102-Internals-BaseProtection-AllApps-AnyPlatform-Block",
            "state": "enabledForReportingButNotEnforced",
            "conditions": {
                "users": {"includeUsers": ["All"]},
                "applications": {"includeApplications": ["All"]},
            },
            "grantControls": {"operator": "OR", "builtInControls": ["block"]},
        },
        {
            "id": "off",
            "displayName": "CA103-Internals-BaseProtection-AllApps-AnyPlatform-Block",
            "state": "disabled",
            "conditions": {
                "users": {"includeUsers": ["All"]},
                "applications": {"includeApplications": ["All"]},
            },
            "grantControls": {"operator": "OR", "builtInControls": ["block"]},
        },
        {
            "id": "dev",
            "displayName": "CA104-Internals-BaseProtection-AllApps-AnyPlatform-Compliant",
            "conditions": {
                "users": {"includeUsers": ["All"]},
                "applications": {"includeApplications": ["All"]},
            },
            "grantControls": {"operator": "OR", "builtInControls": ["compliantDevice"]},
        },
        {  # soft-deleted (Graph beta deletedItems): never evaluated, whatever its state
            "id": "gone",
            "displayName": "CA105-Internals-BaseProtection-AllApps-AnyPlatform-Block",
            "state": "enabled",
            "deletedDateTime": "2025-09-12T17:01:05Z",
            "conditions": {
                "users": {"includeUsers": ["All"]},
                "applications": {"includeApplications": ["All"]},
            },
            "grantControls": {"operator": "OR", "builtInControls": ["block"]},
        },
    ]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(policies))
    data, rows = whatif(cae, make_token(), "--ip", "10.0.0.1", policies=path)
    assert rows["CA102"]["effect"] == "report-only: would block (not enforced)"
    assert rows["CA103"]["effect"] == "disabled"
    assert rows["CA105"]["effect"] == "deleted"
    assert rows["CA104"]["effect"] == "undecided"
    assert "compliantdevice" in rows["CA104"]["why"]
    assert data["decision"]["outcome"] == "allow"
    assert data["decision"]["report_only"] == ["ro"]


def test_table_output(cae):
    result = cae(
        "whatif",
        "--policies",
        str(POLICIES),
        "--token",
        make_token(groups=[INTERNALS]),
        "--ip",
        "10.1.1.1",
        "--user-agent",
        IPHONE,
        "--locations",
        str(LOCATIONS),
        "--mfa-auth-context",
        "c2",
    )
    assert result.code == 0
    assert "Decision: CHALLENGE" in result.out and "CA100-Internals" in result.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--token", "nope"), "token has 1 parts"),
        (("--ip", "300.1.1.1"), "not an IP address"),
        (("--policies", "/no/such/file.json"), "cannot read"),
    ],
)
def test_bad_input_exit_2(cae, args, message):
    argv = ["whatif", "--policies", str(POLICIES), "--token", make_token()]
    flag, value = args
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    result = cae(*argv)
    assert result.code == 2 and message in result.err


def test_unobservable_membership_is_undecided_and_mismatches_still_named(cae):
    windows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
    data, rows = whatif(cae, make_token(), "--ip", "10.1.1.1", "--user-agent", windows)
    assert rows["CA100"]["effect"] == "undecided"  # no groups claim: membership unknown
    assert "conditions.users.includeGroups: the token has no groups claim" in rows["CA100"]["why"]
    # CA001 excludes a group too, but the platform alone already rules it out.
    assert rows["CA001"]["why"] == "does not match: device platform"
    assert rows["CA101"]["why"] == "does not match: applications"
    assert data["decision"]["outcome"] == "allow"


def test_session_controls_are_said_to_be_enforced_elsewhere(cae, tmp_path):
    # Entra docs "Conditional Access: Session": sign-in frequency is the identity provider's.
    sif = {
        "id": "sif",
        "displayName": "CA106-Internals-BaseProtection-AllApps-AnyPlatform-SessionFrequency",
        "state": "enabled",
        "conditions": {
            "users": {"includeUsers": ["All"]},
            "applications": {"includeApplications": ["All"]},
        },
        "sessionControls": {"signInFrequency": {"value": 4, "type": "hours", "isEnabled": True}},
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps([sif]))
    _, rows = whatif(cae, make_token(), "--ip", "10.0.0.1", policies=path)
    assert rows["CA106"]["effect"] == "grant"
    assert rows["CA106"]["why"] == (
        "applies; no grant control; session controls not enforced by this resource: "
        "signInFrequency: enforced by the identity provider when it issues tokens"
    )


def test_the_request_shows_both_addresses_and_the_enforcement(cae):
    token = make_token(ipaddr="10.20.30.40")
    data, _ = whatif(cae, token, "--ip", "203.0.113.5", "--strict-locations")
    assert data["request"]["token_ip"] == "10.20.30.40"
    assert data["request"]["location_enforcement"] == "strict"
