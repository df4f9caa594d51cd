"""Revocation watermarks and subject risk, evaluated against one verified token.

A revocation is a watermark per subject: "tokens of this subject issued before T are no longer
good" (Microsoft Entra documentation, "Continuous access evaluation": critical event
evaluation). A token is refused when its ``iat`` is older than the newest
watermark among its :meth:`TokenClaims.subject_keys`; the challenge then asks for ``nbf >= T``, the
exact shape Entra sends (``{"access_token":{"nbf":{"essential":true,"value":"T"}}}``).

Pure: the watermark and risk lookups are passed in (an ``EventStore``'s bound methods in
production, a dict's ``get`` in tests), and ``now`` is an argument.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from .claims import nbf_claims
from .decisions import ALLOW, Decision, Outcome, Reason
from .subjects import SubjectKey
from .tokens import TokenClaims

__all__ = [
    "RISK_LEVELS",
    "evaluate_revocation",
    "evaluate_risk",
    "evaluate_subjects",
    "newest_watermark",
    "risk_rank",
    "risk_text",
]

WatermarkLookup = Callable[[SubjectKey], "int | None"]
RiskLookup = Callable[[SubjectKey], Any]
"""Returns a level as text or a ``str`` enum (such as ``RiskLevel``), or None."""

RISK_LEVELS = ("none", "low", "medium", "high")
"""Entra's risk levels in increasing order."""
_RISK_RANK = {level: rank for rank, level in enumerate(RISK_LEVELS)}


def newest_watermark(
    subjects: tuple[SubjectKey, ...], watermark_of: WatermarkLookup
) -> tuple[SubjectKey, int] | None:
    """The newest watermark among ``subjects`` and the subject that carries it, or None."""
    newest: tuple[SubjectKey, int] | None = None
    for subject in subjects:
        value = watermark_of(subject)
        if value is not None and (newest is None or value > newest[1]):
            newest = (subject, value)
    return newest


def evaluate_revocation(claims: TokenClaims, watermark_of: WatermarkLookup) -> Decision:
    """Challenge a token issued before the newest watermark of any of its subjects.

    A token without ``iat`` facing a watermark cannot prove it is newer: it is refused (fail
    closed). Equal seconds pass: the client was asked for ``nbf >= T``, so a token issued at T
    is exactly what the challenge requested.
    """
    found = newest_watermark(claims.subject_keys(), watermark_of)
    if found is None:
        return ALLOW
    return _revocation_decision(claims, *found)


def _revocation_decision(claims: TokenClaims, subject: SubjectKey, watermark: int) -> Decision:
    issued_at = claims.issued_at
    if issued_at is not None and issued_at >= watermark:
        return ALLOW
    return Decision(
        Outcome.CHALLENGE,
        Reason.TOKEN_REVOKED,
        f"token issued before the revocation of {subject.kind.value} at {watermark}",
        claims=nbf_claims(watermark),
        details={"subject": str(subject), "watermark": watermark, "iat": issued_at},
    )


def evaluate_subjects(
    claims: TokenClaims,
    watermark_of: WatermarkLookup,
    risk_of: RiskLookup,
    *,
    now: int,
    challenge_at: str | None = "high",
    deny_at: str | None = None,
) -> Decision:
    """:func:`evaluate_revocation`, then :func:`evaluate_risk`: the same decisions, from one
    pass over the token's subjects (the request path runs this on every request)."""
    newest: tuple[SubjectKey, int] | None = None
    worst: tuple[SubjectKey, str] | None = None
    worst_rank = -1
    check_risk = challenge_at is not None or deny_at is not None
    for subject in claims.subject_keys():
        value = watermark_of(subject)
        if value is not None and (newest is None or value > newest[1]):
            newest = (subject, value)
        if check_risk:
            level = risk_of(subject)
            if level is not None:
                text = risk_text(level)
                rank = risk_rank(text)
                if worst is None or rank > worst_rank:
                    worst, worst_rank = (subject, str(text)), rank
    if newest is not None:
        decision = _revocation_decision(claims, *newest)
        if decision is not ALLOW:
            return decision
    if worst is None:
        return ALLOW
    return _risk_decision(*worst, now=now, challenge_at=challenge_at, deny_at=deny_at)


def risk_text(level: Any) -> str | None:
    """Normalise a risk level (text or ``str`` enum) to lower-case text."""
    if level is None:
        return None
    value = level.value if isinstance(level, Enum) else level
    return str(value).lower()


def risk_rank(level: Any) -> int:
    """Rank of a risk level (``none``=0 .. ``high``=3); unknown text ranks as ``high`` (fail
    closed: a level we cannot read must not lower the bar)."""
    text = risk_text(level)
    if text is None:
        return 0
    return _RISK_RANK.get(text, _RISK_RANK["high"])


def evaluate_risk(
    claims: TokenClaims,
    risk_of: RiskLookup,
    *,
    now: int,
    challenge_at: str | None = "high",
    deny_at: str | None = None,
) -> Decision:
    """Refuse a token whose user or service principal carries a risk level at or above a bar.

    ``deny_at`` refuses outright; ``challenge_at`` asks a cp1 client for a token issued from now
    on, so the identity provider re-evaluates the risk (Entra treats high user risk as a critical
    event: Microsoft Entra documentation, "Continuous access evaluation"). ``None`` disables a
    bar.
    """
    worst: tuple[SubjectKey, str] | None = None
    for subject in claims.subject_keys():
        level = risk_text(risk_of(subject))
        if level is not None and (worst is None or risk_rank(level) > risk_rank(worst[1])):
            worst = (subject, level)
    if worst is None:
        return ALLOW
    return _risk_decision(*worst, now=now, challenge_at=challenge_at, deny_at=deny_at)


def _risk_decision(
    subject: SubjectKey,
    level: str,
    *,
    now: int,
    challenge_at: str | None,
    deny_at: str | None,
) -> Decision:
    rank = risk_rank(level)
    details = {"subject": str(subject), "risk": level}
    description = f"{subject.kind.value} risk is {level}"
    if deny_at is not None and rank >= risk_rank(deny_at):
        return Decision(Outcome.DENY, Reason.RISK_TOO_HIGH, description, details=details)
    if challenge_at is not None and rank >= risk_rank(challenge_at):
        return Decision(
            Outcome.CHALLENGE,
            Reason.RISK_TOO_HIGH,
            description,
            claims=nbf_claims(now),
            details=details,
        )
    return ALLOW
