"""Lint rules for Conditional Access policy sets (pure: policies and ``now`` in, findings out).

Rules, each with a stable code (``docs/cli.md`` lists them):

* naming (the framework article "Conditional Access framework and policies"): every
  ``core.naming`` issue, plus duplicate CA numbers and names whose
  Block/MFA/platform/app parts disagree with what the policy actually configures;
* ``contradiction``: an enforced block policy covers every request an enforced grant policy
  applies to, so the grant policy never takes effect (block always wins). Workload-identity
  and user policies never meet: the first apply only to a service principal's own tokens;
* ``duplicate``: two enforced policies apply to exactly the same requests;
* ``overlap``: two enforced policies of the same persona and policy type apply to some of the
  same requests (the framework wants the base policy to exclude what an explicit one covers);
* ``unknown-platform``: no enforced policy applies to the unknown device platform (Entra docs
  "Conditional Access: Conditions", device platforms: have a policy for unsupported platforms);
* ``report-only``: a policy left in report-only mode (never enforced) longer than allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import combinations

from ..core.naming import PolicyName, check_policy_name
from ._policy_file import REPORT_ONLY, PolicyView

__all__ = ["SEVERITIES", "Finding", "lint_policies"]

SEVERITIES = ("info", "warning", "error")

# Graph device platform values for each platform word of the framework (the article vs Graph's
# conditionalAccessDevicePlatform enumeration).
_NAME_PLATFORMS = {
    "iOS": {"ios"},
    "Android": {"android"},
    "WindowsPhone": {"windowsphone"},
    "Windows": {"windows"},
    "macOS": {"macos"},
    "Linux": {"linux"},
    "iOSAndroid": {"ios", "android"},
}


# Grant-control words of the framework article and the Graph control each one names.
_NAME_CONTROLS = {
    "AuthStrength": ("authenticationstrength", "an authentication strength"),
    "RequireApprovedClient": ("approvedapplication", "an approved client app"),
    "RequireAppProtection": ("compliantapplication", "an app protection policy"),
}


@dataclass(frozen=True, slots=True)
class Finding:
    severity: str
    rule: str
    policy: str
    message: str
    related: tuple[str, ...] = field(default_factory=tuple)


def lint_policies(
    policies: Sequence[PolicyView], *, now: datetime, report_only_max_days: int = 30
) -> list[Finding]:
    """Run every rule; findings come back sorted by severity (errors first), then policy."""
    findings: list[Finding] = []
    parsed = _naming_findings(policies, findings)
    for policy in policies:
        name = parsed.get(policy.id)
        if name is not None:
            findings.extend(_name_matches_content(policy, name))
        findings.extend(_report_only(policy, now, report_only_max_days))
    enforced = [p for p in policies if p.enforced]
    for first, second in combinations(enforced, 2):
        findings.extend(_pair_findings(first, second, parsed))
    # A policy without a grant control (session controls only) controls nothing for it.
    if policies and not any(p.platforms.everything and p.grant_controls for p in enforced):
        findings.append(
            Finding(
                "warning",
                "unknown-platform",
                "(policy set)",
                "no enforced policy applies to the unknown device platform: add one that "
                "includes all platforms and excludes the known ones, with a control",
            )
        )
    rank = {severity: index for index, severity in enumerate(reversed(SEVERITIES))}
    return sorted(findings, key=lambda f: (rank[f.severity], f.policy, f.rule))


def _naming_findings(
    policies: Sequence[PolicyView], findings: list[Finding]
) -> dict[str, PolicyName]:
    parsed: dict[str, PolicyName] = {}
    by_number: dict[int, list[str]] = {}
    for policy in policies:
        name, issues = check_policy_name(policy.name)
        for issue in issues:
            findings.append(
                Finding(issue.severity, f"naming/{issue.code}", policy.name, issue.message)
            )
        if name is not None:
            parsed[policy.id] = name
            by_number.setdefault(name.number, []).append(policy.name)
    for number, names in sorted(by_number.items()):
        if len(names) > 1:
            for name_text in names:
                others = tuple(n for n in names if n != name_text)
                findings.append(
                    Finding(
                        "error",
                        "naming/number-duplicate",
                        name_text,
                        f"CA{number:03d} is used by {len(names)} policies",
                        others,
                    )
                )
    return parsed


def _name_matches_content(policy: PolicyView, name: PolicyName) -> list[Finding]:
    found: list[Finding] = []

    def mismatch(message: str) -> None:
        found.append(Finding("warning", "naming/content-mismatch", policy.name, message))

    if name.grant_control == "Block" and not policy.blocks:
        mismatch("the name says Block but the policy does not block")
    if policy.blocks and name.grant_control != "Block":
        mismatch(f"the policy blocks but the name says {name.grant_control}")
    if name.grant_control.startswith("MFA") and "mfa" not in policy.grant_controls:
        mismatch(f"the name says {name.grant_control} but the policy does not require mfa")
    control = _NAME_CONTROLS.get(name.grant_control)
    if control is not None and control[0] not in policy.grant_controls:
        mismatch(f"the name says {name.grant_control} but the policy does not require {control[1]}")
    if name.app == "AllApps" and not policy.applications.everything:
        mismatch("the name says AllApps but the policy targets specific applications")
    if name.platform == "AnyPlatform" and not (
        policy.platforms.everything and not policy.platforms.exclude
    ):
        mismatch("the name says AnyPlatform but the policy has a platform condition")
    expected = _NAME_PLATFORMS.get(name.platform)
    if expected is not None and policy.platforms.members != expected:
        mismatch(
            f"the name says {name.platform} but the policy targets "
            f"{', '.join(sorted(policy.platforms.include)) or 'no platform'}"
        )
    if name.platform == "Unknown" and not (
        policy.platforms.everything and policy.platforms.exclude
    ):
        mismatch("the name says Unknown: include all platforms and exclude the known ones")
    return found


def _report_only(policy: PolicyView, now: datetime, max_days: int) -> list[Finding]:
    if policy.state != REPORT_ONLY:
        return []
    if policy.modified is None:
        return [
            Finding(
                "info",
                "report-only",
                policy.name,
                "report-only: evaluated and logged, never enforced; no modifiedDateTime "
                "tells how long it has been left on",
            )
        ]
    age = (now - policy.modified).days
    if age <= max_days:
        return []
    return [
        Finding(
            "warning",
            "report-only",
            policy.name,
            f"left in report-only mode for {age} days (limit {max_days}): enforce it or remove it",
        )
    ]


def _same_scope(first: PolicyView, second: PolicyView) -> bool:
    return first.scopes() == second.scopes()


def _covers(outer: PolicyView, inner: PolicyView) -> bool:
    return all(a.covers(b) for a, b in zip(outer.scopes(), inner.scopes(), strict=True))


def _intersects(first: PolicyView, second: PolicyView) -> bool:
    return all(a.intersects(b) for a, b in zip(first.scopes(), second.scopes(), strict=True))


def _pair_findings(
    first: PolicyView, second: PolicyView, parsed: dict[str, PolicyName]
) -> list[Finding]:
    for blocker, granter in ((first, second), (second, first)):
        if blocker.blocks and not granter.blocks and _covers(blocker, granter):
            return [
                Finding(
                    "error",
                    "contradiction",
                    granter.name,
                    f"never takes effect: {blocker.name!r} blocks every request it applies to "
                    "(block always wins)",
                    (blocker.name,),
                )
            ]
    if _same_scope(first, second):
        same_controls = first.grant_controls == second.grant_controls
        what = "with the same controls" if same_controls else "with different controls"
        return [
            Finding(
                "warning",
                "duplicate",
                second.name,
                f"applies to exactly the same requests as {first.name!r} {what}: merge them",
                (first.name,),
            )
        ]
    name_a, name_b = parsed.get(first.id), parsed.get(second.id)
    same_slot = (
        name_a is not None
        and name_b is not None
        and (name_a.persona, name_a.policy_type) == (name_b.persona, name_b.policy_type)
    )
    if same_slot and _intersects(first, second):
        return [
            Finding(
                "warning",
                "overlap",
                second.name,
                f"overlaps {first.name!r} (same persona and policy type): exclude the app, "
                "platform or users of one from the other",
                (first.name,),
            )
        ]
    return []
