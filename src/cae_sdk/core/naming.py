"""The persona-based Conditional Access naming framework, as pure rules (Microsoft Azure
Architecture Center, "Conditional Access framework and policies", section "Naming conventions").

A policy name reads ``<CANumber>-<Persona>-<PolicyType>-<App>-<Platform>-<GrantControl>-
<OptionalDescription>``, for example ``CA100-Internals-BaseProtection-AllApps-AnyPlatform-MFA``.
Numbers are allocated per persona (Global CA001-CA099, Internals CA100-CA199, ...), so the number
alone tells the persona and the order. The vocabulary below is the framework's; values that
differ from it only in letter case are accepted with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import PolicyNameError

__all__ = [
    "GRANT_CONTROLS",
    "PERSONA_RANGES",
    "PLATFORMS",
    "POLICY_TYPES",
    "NamingIssue",
    "PolicyName",
    "check_policy_name",
    "parse_policy_name",
    "persona_for_number",
]

# The framework article, "Numbering scheme". Its naming table spells the Microsoft 365 persona
# "Microsoft365ServiceAccounts" and its numbering table "M365ServiceAccounts": both accepted.
PERSONA_RANGES: Mapping[str, tuple[int, int]] = {
    "Global": (1, 99),
    "Internals": (100, 199),
    "Admins": (200, 299),
    "Externals": (300, 399),
    "GuestUsers": (400, 499),
    "GuestAdmins": (500, 599),
    "M365ServiceAccounts": (600, 699),
    "Microsoft365ServiceAccounts": (600, 699),
    "AzureServiceAccounts": (700, 799),
    "CorpServiceAccounts": (800, 899),
    "WorkloadIdentities": (900, 999),
    "Developers": (1000, 1099),
}
"""Persona -> the range of CA numbers allocated to it (the framework's numbering scheme)."""

# The framework article, "Policy types".
POLICY_TYPES = (
    "BaseProtection",
    "AppProtection",
    "DataProtection",
    "IdentityProtection",
    "AttackSurfaceReduction",
    "Compliance",
)
"""The policy-type words a policy name may use."""

# The framework article, "Platform type" (AnyPlatform, iOS, Android, Windows, WindowsPhone,
# macOS, Linux, iOSAndroid, Unknown).
PLATFORMS = (
    "AnyPlatform",
    "Unknown",
    "WindowsPhone",
    "Windows",
    "macOS",
    "iOS",
    "Android",
    "iOSAndroid",
    "Linux",
)
"""The platform words a policy name may use."""

# "Grant control types" of Microsoft's Azure Architecture Center article "Conditional Access
# framework and policies" (guide/security/conditional-access-framework): MFA, AuthStrength,
# Compliant, CompliantorAADHJ, CompliantandAADHJ, MFAorCompliant, MFAandCompliant, MFAorAADHJ,
# MFAandAADHJ, RequireApprovedClient, RequireAppProtection, Unmanaged; plus Block and ADHJ from
# the article's naming-component table, which earlier versions of the framework also listed.
GRANT_CONTROLS = (
    "Block",
    "MFA",
    "AuthStrength",
    "ADHJ",
    "Compliant",
    "Unmanaged",
    "CompliantorAADHJ",
    "CompliantandAADHJ",
    "MFAorCompliant",
    "MFAandCompliant",
    "MFAorAADHJ",
    "MFAandAADHJ",
    "RequireApprovedClient",
    "RequireAppProtection",
)
"""The grant-control words a policy name may use."""

_NUMBER = re.compile(r"CA(\d{3,4})")
_APP = re.compile(r"[A-Za-z0-9_.]+")
_REQUIRED_PARTS = 6


@dataclass(frozen=True, slots=True)
class PolicyName:
    """A policy name split into the framework's components (canonical spelling)."""

    number: int
    persona: str
    policy_type: str
    app: str
    platform: str
    grant_control: str
    description: str | None = None

    @property
    def ca_number(self) -> str:
        return f"CA{self.number:03d}"

    def __str__(self) -> str:
        parts = [
            self.ca_number,
            self.persona,
            self.policy_type,
            self.app,
            self.platform,
            self.grant_control,
        ]
        if self.description:
            parts.append(self.description)
        return "-".join(parts)


@dataclass(frozen=True, slots=True)
class NamingIssue:
    """One naming finding. ``severity`` is ``"error"`` or ``"warning"``; ``code`` is stable."""

    severity: str
    code: str
    message: str


def _canonical(value: str, vocabulary: tuple[str, ...] | Mapping[str, object]) -> str | None:
    folded = value.casefold()
    for word in vocabulary:
        if word.casefold() == folded:
            return word
    return None


def persona_for_number(number: int) -> str | None:
    """The persona whose allocation contains ``number`` (canonical name), or None."""
    for persona, (low, high) in PERSONA_RANGES.items():
        if low <= number <= high:
            return persona
    return None


def _split(name: str, issues: list[NamingIssue]) -> list[str] | None:
    if not isinstance(name, str) or not name.strip():
        issues.append(NamingIssue("error", "name-missing", "the policy has no name"))
        return None
    if name != name.strip() or " " in name:
        issues.append(
            NamingIssue("warning", "name-spaces", "the name contains spaces; use '-' between parts")
        )
    parts = [p.strip() for p in name.strip().split("-", _REQUIRED_PARTS)]
    if len(parts) < _REQUIRED_PARTS or not all(parts[:_REQUIRED_PARTS]):
        issues.append(
            NamingIssue(
                "error",
                "name-format",
                "expected <CANumber>-<Persona>-<PolicyType>-<App>-<Platform>-<GrantControl>"
                f"[-<Description>], found {len(parts)} part(s)",
            )
        )
        return None
    return parts


def _component(
    value: str,
    vocabulary: tuple[str, ...] | Mapping[str, object],
    what: str,
    code: str,
    issues: list[NamingIssue],
) -> str | None:
    canonical = _canonical(value, vocabulary)
    if canonical is None:
        choices = ", ".join(vocabulary)
        issues.append(NamingIssue("error", code, f"unknown {what} {value!r}; one of: {choices}"))
        return None
    if canonical != value:
        issues.append(
            NamingIssue("warning", f"{code}-case", f"{what} {value!r} is spelled {canonical!r}")
        )
    return canonical


def check_policy_name(name: str) -> tuple[PolicyName | None, list[NamingIssue]]:
    """Check a name against the framework; returns the parsed name (None if it cannot be read)
    and every issue found (empty when the name follows the framework)."""
    issues: list[NamingIssue] = []
    parts = _split(name, issues)
    if parts is None:
        return None, issues
    number_text, persona_text, type_text, app, platform_text, grant_text = parts[:_REQUIRED_PARTS]
    description = parts[_REQUIRED_PARTS] if len(parts) > _REQUIRED_PARTS else None
    match = _NUMBER.fullmatch(number_text)
    if match is None:
        issues.append(
            NamingIssue(
                "error", "number-format", f"{number_text!r} is not a CA number such as CA001"
            )
        )
    persona = _component(persona_text, PERSONA_RANGES, "persona", "persona", issues)
    policy_type = _component(type_text, POLICY_TYPES, "policy type", "policy-type", issues)
    platform = _component(platform_text, PLATFORMS, "platform", "platform", issues)
    grant = _component(grant_text, GRANT_CONTROLS, "grant control", "grant-control", issues)
    if not _APP.fullmatch(app):
        issues.append(
            NamingIssue("warning", "app-format", f"app {app!r} should be a short word like EXO")
        )
    number = int(match.group(1)) if match else None
    if number is not None and persona is not None:
        low, high = PERSONA_RANGES[persona]
        if not low <= number <= high:
            owner = persona_for_number(number)
            hint = f" (that number belongs to {owner})" if owner else ""
            issues.append(
                NamingIssue(
                    "error",
                    "number-range",
                    f"CA{number:03d} is outside {persona}'s range CA{low:03d}-CA{high:03d}{hint}",
                )
            )
    if number is None or None in (persona, policy_type, platform, grant):
        return None, issues
    assert persona and policy_type and platform and grant  # narrowed above, for mypy
    return PolicyName(number, persona, policy_type, app, platform, grant, description), issues


def parse_policy_name(name: str) -> PolicyName:
    """Parse a framework name strictly; raises :class:`PolicyNameError` listing every error."""
    parsed, issues = check_policy_name(name)
    errors = [issue.message for issue in issues if issue.severity == "error"]
    if parsed is None or errors:
        raise PolicyNameError(f"{name!r}: " + "; ".join(errors or ["not a framework name"]))
    return parsed
