"""Access decisions as values: allow, challenge or deny, with reasons.

Decisions are produced by pure evaluators (revocation watermarks, locations, policies) and
turned into HTTP responses by the resource adapter; hooks and audit logs consume them as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["ALLOW", "Decision", "Outcome", "Reason"]


class Outcome(str, Enum):
    ALLOW = "allow"
    CHALLENGE = "challenge"  # 401 claims challenge to a cp1 client, invalid_token otherwise
    DENY = "deny"  # refuse without a remediable challenge (403, or 401 invalid_token)


class Reason(str, Enum):
    """Stable reason codes; the Entra ones match Graph's ``error_description`` codes."""

    OK = "ok"
    TOKEN_REVOKED = "TokenIssuedBeforeRevocationTimestamp"
    LOCATION_VIOLATION = "LocationConditionViolation"
    RISK_TOO_HIGH = "RiskLevelTooHigh"
    AUTH_CONTEXT_REQUIRED = "AuthenticationContextRequired"
    MFA_REQUIRED = "MultiFactorAuthenticationRequired"
    BLOCKED_BY_POLICY = "BlockedByConditionalAccessPolicy"
    INSUFFICIENT_SCOPE = "InsufficientScope"
    INVALID_TOKEN = "InvalidToken"
    MISSING_TOKEN = "MissingToken"
    STORE_UNAVAILABLE = "EventStoreUnavailable"


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    reason: Reason = Reason.OK
    description: str = ""
    claims: Mapping[str, Any] | None = None
    """For a challenge: the claims request the client must satisfy."""
    matched_policies: tuple[str, ...] = ()
    report_only: tuple[str, ...] = ()
    """Report-only policies that would have applied (logged, never enforced)."""
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for audit logs and remediation workflows."""
        return {
            "outcome": self.outcome.value,
            "reason": self.reason.value,
            "description": self.description,
            "claims": dict(self.claims) if self.claims is not None else None,
            "matched_policies": list(self.matched_policies),
            "report_only": list(self.report_only),
            "details": dict(self.details),
        }


ALLOW = Decision(Outcome.ALLOW)
