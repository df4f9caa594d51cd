"""What evaluating policies yields: a verdict per policy and one decision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from ..decisions import Decision
from ._model import PolicyState

__all__ = ["PolicyEvaluation", "PolicyResult", "PolicyVerdict"]


class PolicyVerdict(str, Enum):
    """What one policy says about one request."""

    NOT_APPLIED = "notApplied"
    """An observed condition does not match: the policy does not apply."""
    SATISFIED = "satisfied"
    """The policy applies and the token shows its grant controls are met (or it has none)."""
    BLOCK = "block"
    MFA_REQUIRED = "mfaRequired"
    """The policy applies, requires MFA, and the token shows none."""
    UNDECIDED = "undecided"
    """The resource cannot tell: a condition or control it cannot observe decides. Reported,
    never enforced (the identity provider evaluated it when it issued the token)."""
    UNKNOWN = "undecided"  # the former name of UNDECIDED (an alias)


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """One policy's verdict for one request, with why it is undecided when it is."""

    policy_id: str
    name: str
    state: PolicyState
    verdict: PolicyVerdict
    reasons: tuple[str, ...] = ()
    """Why the policy is undecided (the conditions or controls the resource cannot see)."""
    step_up: tuple[str, ...] = ()
    """For :attr:`PolicyVerdict.MFA_REQUIRED`: the authentication contexts whose ``acrs`` would
    show MFA. Empty when no claims challenge can make the token show it."""
    session_controls: tuple[str, ...] = ()
    """The policy's session controls, each with who enforces it (``"signInFrequency:
    enforced by the identity provider when it issues tokens"``): reported, as a token shows
    none of them (:data:`~cae_sdk.core.policies.SESSION_CONTROLS`)."""

    @property
    def applied(self) -> bool:
        """The policy applies and its verdict is decided."""
        return self.verdict not in (PolicyVerdict.NOT_APPLIED, PolicyVerdict.UNDECIDED)

    @property
    def unobservable(self) -> tuple[str, ...]:
        """Former name of :attr:`reasons`."""
        return self.reasons


@dataclass(frozen=True, slots=True)
class PolicyEvaluation:
    """The outcome of :func:`evaluate`: the combined :class:`~cae_sdk.core.decisions.Decision`
    (block wins; every applying policy's controls are enforced) and each policy's result."""

    decision: Decision
    results: tuple[PolicyResult, ...] = ()
    undecided: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Policy id -> why it is undecided (report-only policies included)."""

    def result(self, policy_id: str) -> PolicyResult:
        return next(r for r in self.results if r.policy_id == policy_id)

    @property
    def unobservable(self) -> Mapping[str, tuple[str, ...]]:
        """Former name of :attr:`undecided`."""
        return self.undecided
