"""Grant controls (``conditionalAccessGrantControls``) decided from what the token shows.

* ``block``: decided by the policy applying.
* ``mfa``: the token shows a second factor in ``amr`` (v1.0 tokens: Entra's access token claims
  reference lists ``amr`` as "only present in v1.0 tokens"), or in ``acrs`` an authentication
  context the policy targets or the operator ties to MFA (Entra docs "Developer guide to
  Conditional Access authentication context"). A token that shows no MFA is challenged for such
  a context; without one there is no claim to ask for (an ``amr`` claims request is never
  honoured), so the verdict stands without a step-up. A token that shows nothing (a v2.0 token
  without ``acrs``) leaves the control undecided.
* every other control (compliant or hybrid-joined device, approved client app, app protection,
  password change, terms of use, custom controls, authentication strength) is not visible in
  an access token: undecided.
"""

from __future__ import annotations

from ._facts import RequestFacts
from ._model import Policy
from ._results import PolicyVerdict
from ._tri import Tri, Undecided, all_of, any_of, undecided

__all__ = ["GrantOutcome", "grant_outcome"]

GrantOutcome = tuple[PolicyVerdict, tuple[str, ...], tuple[str, ...]]
"""(verdict, reasons when undecided, authentication contexts that would show MFA)."""


def _step_up(policy: Policy, facts: RequestFacts) -> tuple[str, ...]:
    if facts.claims.is_app_only:
        return ()  # an application cannot perform MFA or satisfy acrs
    contexts = set(policy.auth_contexts & facts.context.auth_contexts)
    if facts.context.mfa_auth_context:
        contexts.add(facts.context.mfa_auth_context)
    return tuple(sorted(contexts))


def mfa_shown(policy: Policy, facts: RequestFacts) -> Tri:
    """Whether the token shows multifactor authentication for ``policy``."""
    amr = facts.amr_shows_mfa
    if amr is True:
        return True
    mfa_context = facts.context.mfa_auth_context
    if policy.auth_contexts & facts.acrs or (mfa_context and mfa_context in facts.acrs):
        return True
    if facts.claims.is_app_only or _step_up(policy, facts):
        # An application never shows MFA; a missing context is something to ask for.
        return False
    return amr


def grant_outcome(policy: Policy, facts: RequestFacts) -> GrantOutcome:
    """The verdict of an applying policy's grant controls."""
    grant = policy.grant
    if "block" in grant.built_in:
        return PolicyVerdict.BLOCK, (), ()
    if not grant.configured:
        return PolicyVerdict.SATISFIED, (), ()
    parts: list[Tri] = []
    for control in sorted(grant.built_in):
        if control == "mfa":
            parts.append(mfa_shown(policy, facts))
        else:
            parts.append(undecided(f"grantControls.{control} is not visible in a token"))
    parts += [undecided(f"grantControls.{o} is not visible in a token") for o in grant.others]
    met = all_of(parts) if grant.operator == "AND" else any_of(parts)
    if met is True:
        return PolicyVerdict.SATISFIED, (), ()
    if isinstance(met, Undecided):
        return PolicyVerdict.UNDECIDED, met.reasons, ()
    # Only ``mfa`` can be observed as not met.
    return PolicyVerdict.MFA_REQUIRED, (), _step_up(policy, facts)
