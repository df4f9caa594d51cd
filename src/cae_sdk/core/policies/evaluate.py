"""Evaluate Conditional Access policies for one request (seed 003, PROTOCOL.md section 7).

* Every policy is evaluated; a policy applies when all its configured conditions match.
* All applying policies' controls are enforced; ``block`` always wins.
* Report-only policies are evaluated and reported, never enforced; disabled ones are skipped.
* A condition or control the resource cannot observe makes the outcome *unknown*: the policy is
  reported in :attr:`PolicyEvaluation.unobservable` and not enforced here (the identity provider
  enforced it at issuance). Nothing is guessed.

Pure: every input is in :class:`PolicyContext`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from ..claims import acrs_claims
from ..decisions import ALLOW, Decision, Outcome, Reason
from ..locations import NamedLocation, parse_ip
from ..revocation import risk_text
from ..tokens import TokenClaims
from .model import Policy, PolicyState, Selection
from .platforms import platform_from_user_agent

__all__ = ["PolicyContext", "PolicyEvaluation", "PolicyResult", "PolicyVerdict", "evaluate"]

MFA_METHODS = frozenset({"mfa", "ngcmfa", "fido", "rsa", "otp", "hwk", "sc"})
"""``amr`` values that prove a second factor (RFC 8176 names plus Entra's ``ngcmfa``)."""

# Graph grant controls the resource cannot check from a token.
_UNOBSERVABLE_CONTROLS = frozenset(
    {
        "compliantdevice",
        "domainjoineddevice",
        "approvedapplication",
        "compliantapplication",
        "passwordchange",
        "riskremediation",
    }
)


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """What the resource knows about one request."""

    claims: TokenClaims
    client_ip: str | None = None
    user_agent: str | None = None
    app_ids: frozenset[str] = frozenset()
    """This resource's application ids (lower-case); matched by ``includeApplications``."""
    auth_contexts: frozenset[str] = frozenset()
    """Authentication contexts the requested route requires (``c1``..``c25``, lower-case)."""
    named_locations: Sequence[NamedLocation] = ()
    user_risk: str | None = None
    service_principal_risk: str | None = None


class PolicyVerdict(str, Enum):
    NOT_APPLIED = "notApplied"
    SATISFIED = "satisfied"
    BLOCK = "block"
    MFA_REQUIRED = "mfaRequired"
    UNKNOWN = "unknown"  # an unobservable condition or control decides


@dataclass(frozen=True, slots=True)
class PolicyResult:
    policy_id: str
    name: str
    state: PolicyState
    verdict: PolicyVerdict
    unobservable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyEvaluation:
    decision: Decision
    results: tuple[PolicyResult, ...] = ()
    unobservable: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Policy id -> the unobservable conditions/controls that kept it undecided."""

    def result(self, policy_id: str) -> PolicyResult:
        return next(r for r in self.results if r.policy_id == policy_id)


def _selected(selection: Selection, values: frozenset[str], everything: str = "all") -> bool:
    """Graph semantics: included (``All`` or a listed value) and not excluded."""
    included = everything in selection.include or bool(selection.include & values)
    return included and not (selection.exclude & values)


def _lowered(values: Sequence[str]) -> frozenset[str]:
    return frozenset(v.lower() for v in values)


def _match_users(policy: Policy, claims: TokenClaims, unknown: list[str]) -> bool:
    oid = (claims.object_id or "").lower()
    if policy.users.exclude & {oid} or _excluded_by_groups_or_roles(policy, claims, unknown):
        return False
    if "all" in policy.users.include or oid in policy.users.include:
        return True
    if policy.groups.include & _lowered(claims.groups):
        return True
    wids = _lowered(_str_list(claims.get("wids")))
    if policy.roles.include & wids:
        return True
    if policy.groups.include and "groups" not in claims.raw:
        unknown.append("users.includeGroups")
    if policy.roles.include and "wids" not in claims.raw:
        unknown.append("users.includeRoles")
    return False


def _excluded_by_groups_or_roles(policy: Policy, claims: TokenClaims, unknown: list[str]) -> bool:
    if policy.groups.exclude:
        if "groups" not in claims.raw:
            unknown.append("users.excludeGroups")
        elif policy.groups.exclude & _lowered(claims.groups):
            return True
    if policy.roles.exclude:
        if "wids" not in claims.raw:
            unknown.append("users.excludeRoles")
        elif policy.roles.exclude & _lowered(_str_list(claims.get("wids"))):
            return True
    return False


def _str_list(value: object) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _match_locations(policy: Policy, context: PolicyContext, unknown: list[str]) -> bool:
    if not policy.locations.configured:
        return True
    address = parse_ip(context.client_ip) if context.client_ip else None
    if address is None:
        unknown.append("locations")
        return False
    inside = [loc for loc in context.named_locations if loc.contains(address)]
    ids = {loc.id.lower() for loc in inside}
    if any(loc.trusted for loc in inside):
        ids.add("alltrusted")
    return _selected(policy.locations, frozenset(ids))


def _match_risk(levels: frozenset[str], level: str | None) -> bool:
    return not levels or (risk_text(level) or "none") in levels


def _conditions_match(policy: Policy, context: PolicyContext, unknown: list[str]) -> bool:
    claims = context.claims
    if policy.targets_workload_identities:
        if not claims.is_app_only:
            return False
        ids = _lowered([v for v in (claims.app_id, claims.object_id) if v])
        if not _selected(policy.client_apps, ids):
            return False
        if not _match_risk(policy.service_principal_risk_levels, context.service_principal_risk):
            return False
    else:
        # User policies never apply to app-only tokens (Entra: workload identities need
        # their own policies).
        if claims.is_app_only or not _match_users(policy, claims, unknown):
            return False
        if policy.client_apps.configured and not _selected(
            policy.client_apps, _lowered([claims.app_id or ""])
        ):
            return False
        if not _match_risk(policy.user_risk_levels, context.user_risk):
            return False
    if policy.auth_contexts:
        if not policy.auth_contexts & context.auth_contexts:
            return False
    elif not _selected(policy.applications, context.app_ids):
        return False
    if policy.platforms.configured:
        platform = platform_from_user_agent(context.user_agent)
        # The unknown platform matches "all" minus the listed ones: that is how a policy set
        # catches spoofed or missing User-Agents (seed 003).
        if not _selected(policy.platforms, frozenset({platform} if platform else set())):
            return False
    return _match_locations(policy, context, unknown)


def _grant_verdict(policy: Policy, claims: TokenClaims, unknown: list[str]) -> PolicyVerdict:
    controls = policy.grant.built_in
    if "block" in controls:
        return PolicyVerdict.BLOCK
    outcomes: list[bool | None] = []
    for control in sorted(controls):
        if control == "mfa":
            acrs = _lowered(claims.acrs)
            outcomes.append(
                bool(MFA_METHODS & _lowered(claims.amr)) or bool(policy.auth_contexts & acrs)
            )
        else:
            unknown.append(f"grantControls.{control}")
            outcomes.append(None)
    for other in policy.grant.others:
        unknown.append(f"grantControls.{other}")
        outcomes.append(None)
    if not outcomes:
        return PolicyVerdict.SATISFIED
    if policy.grant.operator == "AND":
        if False in outcomes:
            return PolicyVerdict.MFA_REQUIRED
        return PolicyVerdict.UNKNOWN if None in outcomes else PolicyVerdict.SATISFIED
    if True in outcomes:
        return PolicyVerdict.SATISFIED
    return PolicyVerdict.UNKNOWN if None in outcomes else PolicyVerdict.MFA_REQUIRED


def _evaluate_one(policy: Policy, context: PolicyContext) -> PolicyResult:
    unknown = list(policy.unobservable)
    if not _conditions_match(policy, context, unknown):
        verdict = PolicyVerdict.UNKNOWN if unknown else PolicyVerdict.NOT_APPLIED
        # A condition that failed on observable facts settles it, whatever else is unknown.
        if unknown and not _could_match_if_unknown(policy, context):
            verdict = PolicyVerdict.NOT_APPLIED
        return PolicyResult(policy.id, policy.name, policy.state, verdict, tuple(unknown))
    if policy.unobservable:
        return PolicyResult(
            policy.id, policy.name, policy.state, PolicyVerdict.UNKNOWN, tuple(unknown)
        )
    verdict = _grant_verdict(policy, context.claims, unknown)
    return PolicyResult(policy.id, policy.name, policy.state, verdict, tuple(unknown))


def _could_match_if_unknown(policy: Policy, context: PolicyContext) -> bool:
    """Whether the policy would match if every unknown condition turned out to match."""
    optimistic = PolicyContext(
        claims=TokenClaims(
            {
                **context.claims.raw,
                "groups": [*context.claims.groups, *policy.groups.include],
                "wids": [*_str_list(context.claims.get("wids")), *policy.roles.include],
            }
        ),
        client_ip=context.client_ip,
        user_agent=context.user_agent,
        app_ids=context.app_ids,
        auth_contexts=context.auth_contexts,
        named_locations=context.named_locations,
        user_risk=context.user_risk,
        service_principal_risk=context.service_principal_risk,
    )
    if policy.locations.configured and not context.client_ip:
        return True
    return _conditions_match(policy, optimistic, [])


def evaluate(policies: Sequence[Policy], context: PolicyContext) -> PolicyEvaluation:
    """Evaluate every policy; the decision enforces the enabled ones (block wins, then MFA)."""
    results = tuple(
        _evaluate_one(p, context) for p in policies if p.state is not PolicyState.DISABLED
    )
    enforced = [r for r in results if r.state is PolicyState.ENABLED]
    report_only = tuple(
        r.policy_id
        for r in results
        if r.state is PolicyState.REPORT_ONLY
        and r.verdict not in (PolicyVerdict.NOT_APPLIED, PolicyVerdict.UNKNOWN)
    )
    unobservable = {
        r.policy_id: r.unobservable for r in results if r.verdict is PolicyVerdict.UNKNOWN
    }
    matched = tuple(
        r.policy_id
        for r in enforced
        if r.verdict not in (PolicyVerdict.NOT_APPLIED, PolicyVerdict.UNKNOWN)
    )
    blocking = [r.policy_id for r in enforced if r.verdict is PolicyVerdict.BLOCK]
    needs_mfa = [r.policy_id for r in enforced if r.verdict is PolicyVerdict.MFA_REQUIRED]
    details = {"unobservable": dict(unobservable)} if unobservable else {}
    if blocking:
        decision = Decision(
            Outcome.DENY,
            Reason.BLOCKED_BY_POLICY,
            "blocked by Conditional Access policy " + ", ".join(blocking),
            matched_policies=matched,
            report_only=report_only,
            details=details,
        )
    elif needs_mfa:
        decision = Decision(
            Outcome.CHALLENGE,
            Reason.MFA_REQUIRED,
            "multi-factor authentication required by policy " + ", ".join(needs_mfa),
            claims=_mfa_claims(policies, needs_mfa, context),
            matched_policies=matched,
            report_only=report_only,
            details=details,
        )
    elif matched or report_only or details:
        decision = Decision(
            Outcome.ALLOW, matched_policies=matched, report_only=report_only, details=details
        )
    else:
        decision = ALLOW
    return PolicyEvaluation(decision, results, unobservable)


def _mfa_claims(
    policies: Sequence[Policy], policy_ids: Sequence[str], context: PolicyContext
) -> dict[str, object]:
    """Step up through the route's authentication context when a policy targets one (the
    identity provider then applies its own MFA policy for it); else ask for an ``amr`` of
    ``mfa`` (OIDC Core section 5.5.1 essential claim)."""
    wanted = sorted(
        {
            ctx
            for p in policies
            if p.id in policy_ids
            for ctx in p.auth_contexts & context.auth_contexts
        }
    )
    if wanted:
        return acrs_claims(*wanted)
    return {"access_token": {"amr": {"essential": True, "values": ["mfa"]}}}
