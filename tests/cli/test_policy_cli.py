"""``cae lint`` and ``cae whatif`` read policy files exactly as the library does: one size
limit, typed members, one line on bad input (never a traceback), the framework's current
grant-control words, and workload-identity policies kept apart from user policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

from cae_sdk.core.policies import MAX_DOCUMENT_BYTES, load_policies

from ..core.policy_strategies import broken_policies
from .conftest import make_token


def _policy(name: str, grant: list[str], **conditions: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "users": {"includeUsers": ["All"]},
        "applications": {"includeApplications": ["All"]},
    }
    base.update(conditions)
    return {
        "id": name,
        "displayName": name,
        "state": "enabled",
        "conditions": base,
        "grantControls": {"operator": "OR", "builtInControls": grant},
    }


def _write(tmp_path: Path, data: Any, name: str = "p.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_sign_in_risk_of_the_wrong_type_is_one_line_not_a_traceback(cae, tmp_path):
    bad = _policy("CA001-Global-IdentityProtection-AllApps-AnyPlatform-MFA", ["mfa"])
    bad["conditions"]["signInRiskLevels"] = 5
    path = _write(tmp_path, [bad])
    for argv in (("lint", str(path)), ("whatif", "--policies", str(path), "--token", make_token())):
        result = cae(*argv)
        assert result.code == 2, result
        assert result.err.startswith("cae: error: ") and "Traceback" not in result.err
        assert "signInRiskLevels" in result.err and "CA001" in result.err


def test_a_document_over_the_library_limit_is_refused_by_both_commands(cae, tmp_path):
    policy = _policy("CA001-Global-BaseProtection-AllApps-AnyPlatform-MFA", ["mfa"])
    policy["description"] = "x" * (MAX_DOCUMENT_BYTES + 10)  # valid JSON, just too large
    path = _write(tmp_path, [policy])
    for argv in (("lint", str(path)), ("whatif", "--policies", str(path), "--token", make_token())):
        result = cae(*argv)
        assert result.code == 2 and "larger than the limit" in result.err, result
    locations = _write(tmp_path, [{"id": "x", "displayName": "x" * MAX_DOCUMENT_BYTES}], "l.json")
    small = _write(tmp_path, [policy | {"description": ""}], "small.json")
    result = cae(
        "whatif", "--policies", str(small), "--token", make_token(), "--locations", str(locations)
    )
    assert result.code == 2 and "larger than the limit" in result.err


def test_a_workload_identity_block_does_not_contradict_a_user_mfa_policy(cae, tmp_path):
    block_workloads = {
        "id": "w",
        "displayName": "CA900-WorkloadIdentities-BaseProtection-AllApps-AnyPlatform-Block",
        "state": "enabled",
        "conditions": {
            "users": {"includeUsers": ["None"]},
            "clientApplications": {"includeServicePrincipals": ["ServicePrincipalsInMyTenant"]},
            "applications": {"includeApplications": ["All"]},
        },
        "grantControls": {"operator": "OR", "builtInControls": ["block"]},
    }
    mfa = _policy("CA100-Internals-BaseProtection-AllApps-AnyPlatform-MFA", ["mfa"])
    result = cae("lint", str(_write(tmp_path, [block_workloads, mfa])), "--json")
    rules = {f["rule"] for f in result.json()["findings"]}
    assert "contradiction" not in rules and "overlap" not in rules and "duplicate" not in rules


def test_a_block_narrowed_by_a_condition_the_engine_cannot_read_covers_nothing(cae, tmp_path):
    block = _policy("CA001-Global-AttackSurfaceReduction-AllApps-AnyPlatform-Block", ["block"])
    block["conditions"]["devices"] = {"deviceFilter": {"mode": "include", "rule": "x"}}
    mfa = _policy("CA002-Global-BaseProtection-AllApps-AnyPlatform-MFA", ["mfa"])
    result = cae("lint", str(_write(tmp_path, [block, mfa])), "--json")
    assert "contradiction" not in {f["rule"] for f in result.json()["findings"]}


def test_current_framework_grant_words_are_accepted_and_checked(cae, tmp_path):
    strength = _policy("CA200-Admins-BaseProtection-AllApps-AnyPlatform-AuthStrength", [])
    strength["grantControls"]["authenticationStrength"] = {
        "id": "00000000-0000-0000-0000-000000000004"
    }
    approved = _policy(
        "CA300-Externals-AppProtection-O365-iOSAndroid-RequireApprovedClient",
        ["approvedApplication"],
        platforms={"includePlatforms": ["iOS", "android"]},
    )
    protected = _policy(
        "CA301-Externals-DataProtection-O365-iOSAndroid-RequireAppProtection",
        ["compliantApplication"],
        platforms={"includePlatforms": ["iOS", "android"]},
    )
    older = _policy("CA302-Externals-BaseProtection-AllApps-AnyPlatform-MFAorCompliant", ["mfa"])
    result = cae("lint", str(_write(tmp_path, [strength, approved, protected, older])), "--json")
    naming = [f for f in result.json()["findings"] if f["rule"].startswith("naming/")]
    assert naming == [], naming
    wrong = _policy("CA303-Externals-AppProtection-O365-AnyPlatform-RequireAppProtection", ["mfa"])
    result = cae("lint", str(_write(tmp_path, [wrong], "w.json")), "--json")
    messages = [f["message"] for f in result.json()["findings"]]
    assert (
        "the name says RequireAppProtection but the policy does not require an app "
        "protection policy" in messages
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=broken_policies())
def test_lint_and_whatif_never_print_a_traceback(cae, tmp_path, document: Any) -> None:
    path = _write(tmp_path, [document])
    try:
        load_policies([document])
        loads = True
    except ValueError:
        loads = False
    lint = cae("lint", str(path), "--fail-on", "never")
    whatif = cae("whatif", "--policies", str(path), "--token", make_token(), "--ip", "10.0.0.1")
    for result in (lint, whatif):
        assert "Traceback" not in result.err
        assert result.code == (0 if loads else 2), (result, document)


def test_decode_says_when_a_token_cannot_show_mfa_and_what_it_shows_about_guests(cae):
    v2 = cae("decode", make_token(), "--json").json()["notes"]
    assert any("No amr claim" in note for note in v2)
    v1 = cae("decode", make_token(amr=["pwd", "mfa"]), "--json").json()["notes"]
    assert any("completed multifactor authentication" in note for note in v1)
    guest = make_token(acct=1, idp="https://sts.windows.net/0b2f14e2-91f9-4876-9f59-3cb09b4ec310/")
    notes = cae("decode", guest, "--json").json()["notes"]
    assert any("the user is a guest" in note for note in notes)
