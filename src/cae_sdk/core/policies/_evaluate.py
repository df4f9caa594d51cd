"""Evaluate Conditional Access policies for one request (Entra docs "Building a Conditional
Access policy": every policy is evaluated, all applying policies are enforced, block wins).

* Each policy evaluates to *applies* (block, MFA required, satisfied), *does not apply*, or
  *undecided* when a condition or control the resource cannot observe decides it. Undecided
  policies are reported (:attr:`PolicyEvaluation.undecided`, ``Decision.details
  ["undecided"]``), never turned into an allow or a block: the identity provider evaluated them
  with everything it knew when it issued the token.
* Report-only policies are evaluated and reported, never enforced; disabled and deleted
  ones are skipped.
* Several applying policies: block wins, then MFA. MFA is asked for with a claims challenge for
  an authentication context (``acrs``) when one can show it, and refused otherwise: a challenge
  the identity provider cannot answer would make the client loop.

Pure: every input is in :class:`PolicyContext`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..claims import acrs_claims
from ..decisions import ALLOW, Decision, Outcome, Reason
from ._conditions import conditions_met
from ._context import PolicyContext
from ._controls import grant_outcome
from ._facts import RequestFacts, expand
from ._model import Enforcement, Policy, PolicyState
from ._results import PolicyEvaluation, PolicyResult, PolicyVerdict
from ._session import SESSION_CONTROLS
from ._tri import Undecided

__all__ = ["evaluate", "evaluate_policy"]


def evaluate_policy(policy: Policy, facts: RequestFacts) -> PolicyResult:
    """The verdict of one policy for the request ``facts`` describe."""
    met = conditions_met(policy, facts)
    if met is False:
        # An observed condition does not match: settled, whatever else is undecided.
        return PolicyResult(policy.id, policy.name, policy.state, PolicyVerdict.NOT_APPLIED)
    verdict, reasons, step_up = grant_outcome(policy, facts)
    session = tuple(f"{name}: {SESSION_CONTROLS[name]}" for name in policy.session_controls)
    if isinstance(met, Undecided):
        # Whether it applies hangs on what the resource cannot see; so does its effect.
        reasons = met.reasons + tuple(r for r in reasons if r not in met.reasons)
        verdict, step_up = PolicyVerdict.UNDECIDED, ()
    return PolicyResult(policy.id, policy.name, policy.state, verdict, reasons, step_up, session)


def session_modes(policies: Sequence[Policy], facts: RequestFacts) -> frozenset[Enforcement]:
    """The CAE location enforcement of this session: the mode of every enforced policy with
    a ``continuousAccessEvaluation`` session control that applies, else standard; a mode of a
    policy that may apply (undecided) stays possible. The operator's strict mode wins."""
    if facts.where.baseline() is Enforcement.STRICT:
        return frozenset({Enforcement.STRICT})
    applying: set[Enforcement] = set()
    possible: set[Enforcement] = set()
    for policy in policies:
        mode = policy.cae_mode
        if mode is None or not policy.evaluated or policy.state is not PolicyState.ENABLED:
            continue
        met = conditions_met(policy, facts)
        if met is True:
            applying |= expand(mode)
        elif isinstance(met, Undecided):
            possible |= expand(mode)
    return frozenset((applying or {Enforcement.STANDARD}) | possible)


def evaluate(policies: Sequence[Policy], context: PolicyContext) -> PolicyEvaluation:
    """Evaluate every policy; the decision enforces the enabled ones (block wins, then MFA)."""
    facts = RequestFacts(context)
    facts.location_modes = session_modes(policies, facts)
    results = tuple(evaluate_policy(p, facts) for p in policies if p.evaluated)
    enforced = [r for r in results if r.state is PolicyState.ENABLED]
    report_only = tuple(
        r.policy_id for r in results if r.state is PolicyState.REPORT_ONLY and r.applied
    )
    undecided = {r.policy_id: r.reasons for r in results if r.verdict is PolicyVerdict.UNDECIDED}
    matched = tuple(r.policy_id for r in enforced if r.applied)
    details = {"undecided": {k: list(v) for k, v in undecided.items()}} if undecided else {}
    blocking = [r.policy_id for r in enforced if r.verdict is PolicyVerdict.BLOCK]
    needs_mfa = [r for r in enforced if r.verdict is PolicyVerdict.MFA_REQUIRED]
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
        decision = _mfa_decision(needs_mfa, matched, report_only, details)
    elif matched or report_only or details:
        decision = Decision(
            Outcome.ALLOW, matched_policies=matched, report_only=report_only, details=details
        )
    else:
        decision = ALLOW
    return PolicyEvaluation(decision, results, undecided)


def _mfa_decision(
    needs_mfa: Sequence[PolicyResult],
    matched: tuple[str, ...],
    report_only: tuple[str, ...],
    details: Mapping[str, object],
) -> Decision:
    ids = ", ".join(r.policy_id for r in needs_mfa)
    if all(r.step_up for r in needs_mfa):
        # Step up through the authentication contexts (OIDC Core section 5.5 essential claim,
        # the shape Entra's claims challenges use); the identity provider applies the MFA
        # policy it ties to each.
        contexts = sorted({c for r in needs_mfa for c in r.step_up})
        return Decision(
            Outcome.CHALLENGE,
            Reason.MFA_REQUIRED,
            f"multifactor authentication required by policy {ids}",
            claims=acrs_claims(*contexts),
            matched_policies=matched,
            report_only=report_only,
            details=details,
        )
    return Decision(
        Outcome.DENY,
        Reason.MFA_REQUIRED,
        f"multifactor authentication required by policy {ids}; the token shows none and no "
        "authentication context can ask for it (see PolicyOptions.mfa_auth_context)",
        matched_policies=matched,
        report_only=report_only,
        details=details,
    )
