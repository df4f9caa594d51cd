"""Incidents: who can resolve an event or a refusal, and when a refused subject counts as
remediated (:class:`RemediationTracker`).

Every record carries who can fix it (Microsoft Entra ID Protection docs, "Remediate risks and
unblock users"): ``self`` when the user can (MFA, secure password change, signing in again),
``admin`` when only an administrator can (a disabled or deleted principal), ``it`` for policy
blocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..core.remediation import RemediationKind
from ..core.subjects import SubjectKey, SubjectKind
from ..core.tokens import TokenClaims
from ._sinks import Record

__all__ = ["DecisionRecord", "RemediationTracker", "remediation_kind"]

# Users self-remediate risk with MFA or a secure password change (Microsoft Entra ID Protection
# docs, "Remediate risks and unblock users") and revocations by signing in again; a disabled or
# deleted principal needs an administrator.
_ADMIN_ONLY = frozenset({"user_disabled", "user_deleted", "sp_disabled", "sp_deleted"})
_IT_ONLY = frozenset({"BlockedByConditionalAccessPolicy", "EventStoreUnavailable"})


def remediation_kind(reason: str) -> RemediationKind:
    """Who can resolve an event or decision ``reason``."""
    if reason in _ADMIN_ONLY:
        return RemediationKind.ADMIN
    if reason in _IT_ONLY:
        return RemediationKind.IT
    return RemediationKind.SELF


class DecisionRecord(Protocol):
    """What ``CAEMiddleware``'s ``on_decision`` hooks receive (duck-typed: ``AccessRecord``)."""

    @property
    def decision(self) -> Any: ...

    @property
    def claims(self) -> TokenClaims | None: ...


def _principal(claims: TokenClaims | None) -> SubjectKey | None:
    """The user or service principal a token belongs to (not its tenant or session)."""
    if claims is None:
        return None
    for key in claims.subject_keys():
        if key.kind in (SubjectKind.USER, SubjectKind.SERVICE_PRINCIPAL):
            return key
    return None


class RemediationTracker:
    """Open an incident when a subject is refused; close it as remediated when the same subject
    is next allowed, i.e. it came back with a token that satisfies the challenge."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._open: dict[SubjectKey, tuple[float, str]] = {}

    @property
    def open_incidents(self) -> Mapping[SubjectKey, tuple[float, str]]:
        return dict(self._open)

    def observe(self, record: DecisionRecord, *, cause: str | None = None) -> Record | None:
        """Feed one decision; returns a record when an incident opens or is remediated.

        ``cause`` is the reason of the event behind a refusal (e.g. ``user_disabled``), when
        known: it decides who can remediate better than the decision's reason code."""
        subject = _principal(record.claims)
        if subject is None:
            return None
        decision = record.decision
        outcome = str(getattr(decision.outcome, "value", decision.outcome))
        reason = str(getattr(decision.reason, "value", decision.reason))
        now = self._clock()
        if outcome != "allow":
            if subject in self._open:
                return None
            label = cause or reason
            self._open[subject] = (now, label)
            return {
                "kind": "incident",
                "subject": str(subject),
                "outcome": outcome,
                "reason": reason,
                "cause": cause,
                "remediation": remediation_kind(label).value,
                "at": now,
            }
        opened = self._open.pop(subject, None)
        if opened is None:
            return None
        since, label = opened
        return {
            "kind": "remediated",
            "subject": str(subject),
            "reason": label,
            "remediation": remediation_kind(label).value,
            "elapsed_seconds": round(now - since, 3),
            "at": now,
        }
