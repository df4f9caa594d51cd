"""Explain a Conditional Access evaluation policy by policy (pure; ``cae whatif``).

The verdicts come from the resource's own engine (:func:`cae_sdk.core.policies.evaluate`); this
module only says *why*. For a policy that did not apply it asks the same engine again with one
condition at a time lifted: the conditions whose lifting makes the policy apply are the ones
that did not match. Nothing here re-implements a condition.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from ..core.locations import AnyNamedLocation, NamedLocation, parse_ip
from ..core.policies import (
    GrantControls,
    Policy,
    PolicyContext,
    PolicyResult,
    PolicyState,
    PolicyVerdict,
    Selection,
    evaluate,
    platform_from_user_agent,
)

__all__ = ["explain_evaluation"]

_EVERYONE = Selection(frozenset({"all"}))
_UNCONFIGURED = Selection()


def _lifted(policy: Policy) -> dict[str, Policy]:
    """One copy of ``policy`` per condition, with that condition matching everything."""
    replace = dataclasses.replace
    workload = policy.targets_workload_identities
    return {
        "users": replace(
            policy,
            users=_EVERYONE,
            groups=_UNCONFIGURED,
            roles=_UNCONFIGURED,
            include_guests=None,
            exclude_guests=None,
        ),
        "applications": replace(
            policy, applications=_EVERYONE, auth_contexts=frozenset(), user_actions=frozenset()
        ),
        "client applications": replace(
            policy, client_apps=_EVERYONE if workload else _UNCONFIGURED
        ),
        "client app types": replace(policy, client_app_types=frozenset()),
        "device platform": replace(policy, platforms=_UNCONFIGURED),
        "location": replace(policy, locations=_UNCONFIGURED),
        "risk level": replace(
            policy, user_risk_levels=frozenset(), service_principal_risk_levels=frozenset()
        ),
    }


def _could_apply(policy: Policy, context: PolicyContext) -> bool:
    """Whether the conditions no longer rule the policy out (grant controls set aside): it
    applies, or only conditions the resource cannot observe are left undecided."""
    enabled = dataclasses.replace(policy, state=PolicyState.ENABLED, grant=GrantControls())
    return evaluate([enabled], context).results[0].verdict is not PolicyVerdict.NOT_APPLIED


def _why_not(policy: Policy, context: PolicyContext) -> str:
    if context.claims.is_app_only and not policy.targets_workload_identities:
        return "a user policy; the token is app-only (workload identities need their own)"
    if not context.claims.is_app_only and policy.targets_workload_identities:
        return "a workload-identity policy; the token is a user's"
    failed = [name for name, copy in _lifted(policy).items() if _could_apply(copy, context)]
    if failed:
        return "does not match: " + ", ".join(failed)
    return "several conditions do not match"


def _why(policy: Policy, result: PolicyResult, context: PolicyContext) -> str:
    why = _verdict_why(policy, result, context)
    if result.session_controls:
        why += "; session controls not enforced by this resource: " + "; ".join(
            result.session_controls
        )
    return why


def _verdict_why(policy: Policy, result: PolicyResult, context: PolicyContext) -> str:
    verdict = result.verdict
    if verdict is PolicyVerdict.NOT_APPLIED:
        return _why_not(policy, context)
    if verdict is PolicyVerdict.UNDECIDED:
        return "cannot be decided at the resource: " + "; ".join(result.reasons)
    if verdict is PolicyVerdict.BLOCK:
        return "applies; its grant control is block (block always wins)"
    if verdict is PolicyVerdict.MFA_REQUIRED:
        if result.step_up:
            return (
                "applies; requires MFA, the token shows none: step up to authentication "
                "context " + ", ".join(result.step_up)
            )
        return (
            "applies; requires MFA, the token shows none (amr) and no authentication "
            "context can ask for it"
        )
    if policy.grant.built_in:
        return (
            "applies; its controls are satisfied (" + ", ".join(sorted(policy.grant.built_in)) + ")"
        )
    return "applies; no grant control"


def _effect(result: PolicyResult) -> str:
    applied = result.applied
    if result.state is PolicyState.REPORT_ONLY:
        if not applied:
            return "report-only, not applied"
        return f"report-only: would {_verb(result.verdict)} (not enforced)"
    if not applied:
        return "not applied" if result.verdict is PolicyVerdict.NOT_APPLIED else "undecided"
    return _verb(result.verdict)


def _verb(verdict: PolicyVerdict) -> str:
    return {
        PolicyVerdict.BLOCK: "block",
        PolicyVerdict.MFA_REQUIRED: "require MFA",
        PolicyVerdict.SATISFIED: "grant",
    }.get(verdict, verdict.value)


def explain_evaluation(policies: Sequence[Policy], context: PolicyContext) -> dict[str, Any]:
    """Evaluate ``policies`` for ``context`` and explain every policy and the decision."""
    evaluation = evaluate(policies, context)
    by_id = {policy.id: policy for policy in policies}
    rows: list[dict[str, Any]] = []
    for result in evaluation.results:
        policy = by_id[result.policy_id]
        rows.append(
            {
                "id": result.policy_id,
                "name": result.name,
                "state": result.state.value,
                "verdict": result.verdict.value,
                "effect": _effect(result),
                "why": _why(policy, result, context),
            }
        )
    for policy in policies:
        if not policy.evaluated:
            deleted = policy.deleted is not None
            rows.append(
                {
                    "id": policy.id,
                    "name": policy.name,
                    "state": policy.state.value,
                    "verdict": "skipped",
                    "effect": "deleted" if deleted else "disabled",
                    "why": f"{'deleted' if deleted else 'disabled'} policies are not evaluated",
                }
            )
    decision = evaluation.decision
    platform = platform_from_user_agent(context.user_agent)
    return {
        "request": {
            "client_ip": context.client_ip,
            "token_ip": context.claims.ip_address,
            "location_enforcement": "strict" if context.strict_locations else "standard",
            "user_agent": context.user_agent,
            "device_platform": platform or "unknown",
            "app_ids": sorted(context.app_ids),
            "auth_contexts": sorted(context.auth_contexts),
            "identity": "app-only" if context.claims.is_app_only else "user",
            "named_locations_matched": [
                loc.name for loc in context.named_locations if _inside(loc, context)
            ],
        },
        "policies": rows,
        "decision": {
            "outcome": decision.outcome.value,
            "reason": decision.reason.value,
            "description": decision.description,
            "claims": dict(decision.claims) if decision.claims else None,
            "applied": list(decision.matched_policies),
            "report_only": list(decision.report_only),
            "undecided": {k: list(v) for k, v in evaluation.undecided.items()},
        },
    }


def _inside(location: AnyNamedLocation, context: PolicyContext) -> bool:
    """For display only: the engine decides locations itself."""
    address = parse_ip(context.client_ip) if context.client_ip else None
    if address is None:
        return False
    if isinstance(location, NamedLocation):
        return location.contains(address)
    if context.geolocation is None or not location.by_client_ip:
        return False
    try:
        return location.contains_country(context.geolocation(str(address)))
    except Exception:  # noqa: BLE001 - an operator's plug-in; the engine reports the failure
        return False
