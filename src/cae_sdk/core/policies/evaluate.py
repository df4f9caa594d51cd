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


Tri = bool | None
"""A condition's outcome: matched, not matched, or None when it hangs on something the
resource cannot observe (the names of those go to the ``unknown`` list)."""


def _all_of(outcomes: Sequence[Tri]) -> Tri:
    """Conjunction in three-valued logic: one observed False settles it."""
    if False in outcomes:
        return False
    return None if None in outcomes else True


def _membership(
    selection: Selection, claims: TokenClaims, claim: str, name: str, unknown: list[str]
) -> tuple[Tri, Tri]:
    """(included, excluded) for a group or directory-role selection read from ``claim``."""
    if not selection.configured:
        return False, False
    if claim not in claims.raw:
        # No ``groups``/``wids`` claim (not configured, or overage): unobservable.
        unknown.append(name)
        return (None if selection.include else False), (None if selection.exclude else False)
    held = _lowered(_str_list(claims.get(claim)))
    return bool(selection.include & held), bool(selection.exclude & held)


def _match_users(policy: Policy, claims: TokenClaims, unknown: list[str]) -> Tri:
    oid = (claims.object_id or "").lower()
    in_groups, out_groups = _membership(policy.groups, claims, "groups", "users.groups", unknown)
    in_roles, out_roles = _membership(policy.roles, claims, "wids", "users.roles", unknown)
    if oid in policy.users.exclude or out_groups or out_roles:
        return False
    included: Tri = "all" in policy.users.include or oid in policy.users.include
    if not included:
        included = (
            True if (in_groups or in_roles) else (None if None in (in_groups, in_roles) else False)
        )
    if included is False:
        return False
    return None if None in (included, out_groups, out_roles) else True


def _str_list(value: object) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


@dataclass(frozen=True, slots=True)
class _Observed:
    """The request facts every policy's location, platform and MFA checks read, worked out
    once per evaluation rather than once per policy (IP parsing and range scans repeated per
    policy cost more than all the rest of the evaluation)."""

    location_ids: frozenset[str] | None
    """Lower-cased ids of the named locations holding the client IP (plus ``alltrusted``);
    None when the client IP is unknown."""
    platform: str | None
    mfa_in_amr: bool
    acrs: frozenset[str]
    """The token's authentication contexts, lower-cased."""


def _observe(policies: Sequence[Policy], context: PolicyContext) -> _Observed:
    location_ids = None
    if any(p.locations.configured for p in policies):
        address = parse_ip(context.client_ip) if context.client_ip else None
        if address is not None:
            inside = [loc for loc in context.named_locations if loc.contains(address)]
            ids = {loc.id.lower() for loc in inside}
            if any(loc.trusted for loc in inside):
                ids.add("alltrusted")
            location_ids = frozenset(ids)
    platform = None
    if any(p.platforms.configured for p in policies):
        platform = platform_from_user_agent(context.user_agent)
    claims = context.claims
    return _Observed(
        location_ids, platform, bool(MFA_METHODS & _lowered(claims.amr)), _lowered(claims.acrs)
    )


def _match_locations(policy: Policy, observed: _Observed, unknown: list[str]) -> Tri:
    if not policy.locations.configured:
        return True
    if observed.location_ids is None:
        unknown.append("locations")
        return None
    return _selected(policy.locations, observed.location_ids)


def _match_risk(levels: frozenset[str], level: str | None) -> bool:
    return not levels or (risk_text(level) or "none") in levels


def _conditions_match(
    policy: Policy, context: PolicyContext, observed: _Observed, unknown: list[str]
) -> Tri:
    claims = context.claims
    outcomes: list[Tri] = []
    if policy.targets_workload_identities:
        ids = _lowered([v for v in (claims.app_id, claims.object_id) if v])
        outcomes += [
            claims.is_app_only,
            _selected(policy.client_apps, ids),
            _match_risk(policy.service_principal_risk_levels, context.service_principal_risk),
        ]
    else:
        # User policies never apply to app-only tokens (Entra: workload identities need
        # their own policies).
        if claims.is_app_only:
            return False
        outcomes.append(_match_users(policy, claims, unknown))
        if policy.client_apps.configured:
            outcomes.append(_selected(policy.client_apps, _lowered([claims.app_id or ""])))
        outcomes.append(_match_risk(policy.user_risk_levels, context.user_risk))
    if policy.auth_contexts:
        outcomes.append(bool(policy.auth_contexts & context.auth_contexts))
    else:
        outcomes.append(_selected(policy.applications, context.app_ids))
    if policy.platforms.configured:
        platform = observed.platform
        # The unknown platform matches "all" minus the listed ones: that is how a policy set
        # catches spoofed or missing User-Agents (seed 003).
        outcomes.append(_selected(policy.platforms, frozenset({platform} if platform else set())))
    outcomes.append(_match_locations(policy, observed, unknown))
    if policy.unobservable:
        outcomes.append(None)
    return _all_of(outcomes)


def _grant_verdict(policy: Policy, observed: _Observed, unknown: list[str]) -> PolicyVerdict:
    controls = policy.grant.built_in
    if "block" in controls:
        return PolicyVerdict.BLOCK
    outcomes: list[bool | None] = []
    for control in sorted(controls):
        if control == "mfa":
            outcomes.append(observed.mfa_in_amr or bool(policy.auth_contexts & observed.acrs))
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


def _evaluate_one(policy: Policy, context: PolicyContext, observed: _Observed) -> PolicyResult:
    unknown = list(policy.unobservable)
    matched = _conditions_match(policy, context, observed, unknown)
    if matched is False:
        # A condition failed on observed facts: settled, whatever else is unknown.
        return PolicyResult(policy.id, policy.name, policy.state, PolicyVerdict.NOT_APPLIED)
    if matched is None:
        return PolicyResult(
            policy.id, policy.name, policy.state, PolicyVerdict.UNKNOWN, tuple(unknown)
        )
    verdict = _grant_verdict(policy, observed, unknown)
    return PolicyResult(policy.id, policy.name, policy.state, verdict, tuple(unknown))


def evaluate(policies: Sequence[Policy], context: PolicyContext) -> PolicyEvaluation:
    """Evaluate every policy; the decision enforces the enabled ones (block wins, then MFA)."""
    active = [p for p in policies if p.state is not PolicyState.DISABLED]
    observed = _observe(active, context)
    results = tuple(_evaluate_one(p, context, observed) for p in active)
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
