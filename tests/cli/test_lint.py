"""``cae lint``: naming, contradictions, duplicates, overlaps, unknown platform, report-only."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from cae_sdk.cli._lint_rules import lint_policies
from cae_sdk.cli._policy_file import read_policies

DATA = Path(__file__).parent / "data"
GOOD = Path(__file__).parents[2] / "examples" / "policies" / "ca-policies.json"
NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)


def policy(name: str, **extra) -> dict:
    base = {
        "id": name,
        "displayName": name,
        "state": "enabled",
        "conditions": {
            "users": {"includeUsers": ["All"]},
            "applications": {"includeApplications": ["All"]},
        },
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"]},
    }
    base.update(extra)
    return base


def lint(tmp_path: Path, *policies: dict, **options):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(list(policies)))
    return lint_policies(read_policies(path), now=NOW, **options)


def rules(findings) -> list[tuple[str, str]]:
    return [(f.rule, f.policy) for f in findings]


def test_example_policy_set_is_clean(cae):
    result = cae("lint", str(GOOD), "--json")
    assert result.code == 0, result.out
    data = result.json()
    assert data["policies"] == 4
    assert data["findings"] == []
    assert data["ok"] is True


def test_bad_policy_set_reports_every_kind(cae):
    result = cae("lint", str(DATA / "bad-policies.json"), "--json")
    assert result.code == 1
    found = {(f["rule"], f["policy"]) for f in result.json()["findings"]}
    assert ("contradiction", "CA150-Admins-BaseProtection-AllApps-AnyPlatform-MFA") in found
    assert ("naming/number-range", "CA150-Admins-BaseProtection-AllApps-AnyPlatform-MFA") in found
    assert ("naming/number-duplicate", "CA201-Admins-DataProtection-AllApps-Android-MFA") in found
    assert ("naming/name-format", "Require MFA for everyone") in found
    assert ("report-only", "Require MFA for everyone") in found
    assert ("unknown-platform", "(policy set)") in found
    assert ("overlap", "CA202-Admins-BaseProtection-EXO-iOS-mfa") in found


def test_table_output_and_fail_on(cae):
    bad = str(DATA / "bad-policies.json")
    result = cae("lint", bad)
    assert "contradiction" in result.out and "5 error" in result.out
    assert cae("lint", bad, "--fail-on", "never").code == 0


def test_contradiction_only_when_block_covers_everything(tmp_path):
    block_ios = policy(
        "CA001-Global-AttackSurfaceReduction-AllApps-iOS-Block",
        conditions={
            "users": {"includeUsers": ["All"]},
            "applications": {"includeApplications": ["All"]},
            "platforms": {"includePlatforms": ["iOS"]},
        },
        grantControls={"builtInControls": ["block"]},
    )
    mfa_all = policy("CA002-Global-BaseProtection-AllApps-AnyPlatform-MFA")
    assert "contradiction" not in {f.rule for f in lint(tmp_path, block_ios, mfa_all)}
    mfa_ios = policy(
        "CA003-Global-BaseProtection-AllApps-iOS-MFA",
        conditions={
            "users": {"includeGroups": ["g1"]},
            "applications": {"includeApplications": ["All"]},
            "platforms": {"includePlatforms": ["iOS"]},
        },
    )
    findings = lint(tmp_path, block_ios, mfa_ios)
    assert ("contradiction", "CA003-Global-BaseProtection-AllApps-iOS-MFA") in rules(findings)


def test_exclusion_breaks_coverage(tmp_path):
    block = policy(
        "CA001-Global-BaseProtection-AllApps-AnyPlatform-Block",
        grantControls={"builtInControls": ["block"]},
        conditions={
            "users": {"includeUsers": ["All"], "excludeGroups": ["admins"]},
            "applications": {"includeApplications": ["All"]},
        },
    )
    admins = policy(
        "CA200-Admins-BaseProtection-AllApps-AnyPlatform-MFA",
        conditions={
            "users": {"includeGroups": ["admins"]},
            "applications": {"includeApplications": ["All"]},
        },
    )
    assert "contradiction" not in {f.rule for f in lint(tmp_path, block, admins)}


def test_duplicate_and_overlap(tmp_path):
    first = policy("CA100-Internals-BaseProtection-AllApps-AnyPlatform-MFA")
    second = policy("CA101-Internals-BaseProtection-AllApps-AnyPlatform-MFA-Copy")
    assert ("duplicate", second["displayName"]) in rules(lint(tmp_path, first, second))
    exo = policy(
        "CA102-Internals-BaseProtection-EXO-AnyPlatform-MFA",
        conditions={
            "users": {"includeUsers": ["All"]},
            "applications": {"includeApplications": ["exo-id"]},
        },
    )
    assert ("overlap", exo["displayName"]) in rules(lint(tmp_path, first, exo))
    # The framework's remedy: exclude the app from the base policy.
    first["conditions"]["applications"]["excludeApplications"] = ["exo-id"]
    assert "overlap" not in {f.rule for f in lint(tmp_path, first, exo)}


def test_disabled_and_report_only_policies_do_not_cover_unknown_platform(tmp_path):
    only = policy("CA100-Internals-BaseProtection-AllApps-AnyPlatform-MFA", state="disabled")
    assert ("unknown-platform", "(policy set)") in rules(lint(tmp_path, only))
    enabled = policy("CA100-Internals-BaseProtection-AllApps-AnyPlatform-MFA")
    assert "unknown-platform" not in {f.rule for f in lint(tmp_path, enabled)}


def test_a_deleted_policy_is_not_part_of_the_set(tmp_path):
    # Graph beta lists soft-deleted policies with deletedDateTime: not enforced, whatever state.
    block = policy(
        "CA001-Global-BaseProtection-AllApps-AnyPlatform-Block",
        grantControls={"builtInControls": ["block"]},
        deletedDateTime="2025-09-12T17:01:05Z",
    )
    mfa = policy("CA002-Global-BaseProtection-AllApps-AnyPlatform-MFA")
    assert "contradiction" not in {f.rule for f in lint(tmp_path, block, mfa)}


def test_a_session_only_policy_does_not_cover_the_unknown_platform(tmp_path):
    # Entra docs "Conditional Access: Conditions", device platforms: the unknown platform
    # needs a policy "with ... Grant control set to Block access"; a policy with session
    # controls only (sign-in frequency, CAE settings) grants or blocks nothing.
    session_only = policy(
        "CA002-Global-BaseProtection-AllApps-AnyPlatform-SessionFrequency",
        grantControls=None,
        sessionControls={"signInFrequency": {"value": 4, "type": "hours", "isEnabled": True}},
    )
    assert ("unknown-platform", "(policy set)") in rules(lint(tmp_path, session_only))


def test_report_only_age(tmp_path):
    fresh = policy(
        "CA100-Internals-BaseProtection-AllApps-AnyPlatform-MFA",
        state="enabledForReportingButNotEnforced",
        modifiedDateTime="2026-02-20T00:00:00Z",
    )
    assert "report-only" not in {f.rule for f in lint(tmp_path, fresh)}
    assert "report-only" in {f.rule for f in lint(tmp_path, fresh, report_only_max_days=5)}
    undated = dict(fresh, modifiedDateTime=None)
    (finding,) = [f for f in lint(tmp_path, undated) if f.rule == "report-only"]
    assert finding.severity == "info"


def test_name_content_mismatch(tmp_path):
    wrong = policy("CA100-Internals-BaseProtection-AllApps-AnyPlatform-Block")
    messages = [f.message for f in lint(tmp_path, wrong) if f.rule == "naming/content-mismatch"]
    assert messages == ["the name says Block but the policy does not block"]


def test_bad_files_exit_2_with_one_line(cae, tmp_path):
    cases = {
        "missing.json": None,
        "notjson.json": "{nope",
        "scalar.json": "42",
        "badstate.json": json.dumps([{"id": "x", "displayName": "x", "state": "on"}]),
        "badusers.json": json.dumps(
            [{"id": "x", "displayName": "x", "conditions": {"users": {"includeUsers": "All"}}}]
        ),
    }
    for name, text in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        result = cae("lint", str(path))
        assert result.code == 2, (name, result.err)
        assert result.err.startswith("cae: error: ") and "Traceback" not in result.err
