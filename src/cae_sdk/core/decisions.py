"""Access decisions as values: allow, challenge or deny, with reasons.

Decisions are produced by pure evaluators (revocation watermarks, locations, policies) and, for a
request or token the resource cannot accept, by :func:`token_refusal`. One :class:`Reason`
vocabulary covers both: the same reason string goes to the refusal's JSON body, the log record,
the ``on_decision`` hooks and the metrics label.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["ALLOW", "Decision", "Outcome", "Reason", "token_refusal"]


class Outcome(str, Enum):
    """What happens to the request: served, challenged (401; a claims challenge for a ``cp1``
    client) or refused without a remediable challenge."""

    ALLOW = "allow"
    CHALLENGE = "challenge"  # 401 claims challenge to a cp1 client, invalid_token otherwise
    DENY = "deny"  # refuse without a remediable challenge (403, 401, 400 or 503)


class Reason(str, Enum):
    """Stable reason codes.

    Decisions about a validly signed token use Graph's ``error_description`` codes where Graph
    has one. Refusals of the request or of the token itself use the stable
    :class:`~cae_sdk.core.errors.TokenValidationError` reasons (``token_expired``...), which
    :func:`Reason.of_token_error` maps to members.
    """

    OK = "ok"
    # -- access decisions about a verified token
    TOKEN_REVOKED = "TokenIssuedBeforeRevocationTimestamp"
    LOCATION_VIOLATION = "LocationConditionViolation"
    RISK_TOO_HIGH = "RiskLevelTooHigh"
    AUTH_CONTEXT_REQUIRED = "AuthenticationContextRequired"
    MFA_REQUIRED = "MultiFactorAuthenticationRequired"
    BLOCKED_BY_POLICY = "BlockedByConditionalAccessPolicy"
    INSUFFICIENT_SCOPE = "InsufficientScope"
    STORE_UNAVAILABLE = "EventStoreUnavailable"
    # -- the request: no token, a malformed Authorization header, an unreadable forwarding header
    MISSING_TOKEN = "MissingToken"
    INVALID_REQUEST = "invalid_request"
    BAD_FORWARDING_HEADER = "bad_forwarding_header"
    # -- the token itself (TokenValidationError reasons)
    MALFORMED_TOKEN = "malformed_token"
    BAD_ALGORITHM = "bad_algorithm"
    BAD_KEY = "bad_key"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    KEYS_UNAVAILABLE = "keys_unavailable"
    BAD_ISSUER = "bad_issuer"
    BAD_AUDIENCE = "bad_audience"
    BAD_TENANT = "bad_tenant"
    MISSING_CLAIM = "missing_claim"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_NOT_YET_VALID = "token_not_yet_valid"
    TOKEN_LIFETIME_TOO_LONG = "token_lifetime_too_long"
    VALIDATION_ERROR = "validation_error"
    """Validation failed unexpectedly (a bug or a broken dependency): refused, never served."""
    INVALID_TOKEN = "InvalidToken"
    """A token refused for a reason this vocabulary does not name (the raw reason is in
    ``Decision.details["token_error"]``)."""

    @classmethod
    def of_token_error(cls, reason: str) -> Reason:
        """The member for a ``TokenValidationError.reason``; unknown reasons are
        :attr:`INVALID_TOKEN` (still a refusal: never a wider answer)."""
        return _TOKEN_ERRORS.get(reason, cls.INVALID_TOKEN)

    @property
    def is_request_refusal(self) -> bool:
        """True for refusals of the request or token (no verified claims behind them)."""
        return self in _REQUEST_REASONS


_ACCESS_REASONS = frozenset(
    {
        Reason.OK,
        Reason.TOKEN_REVOKED,
        Reason.LOCATION_VIOLATION,
        Reason.RISK_TOO_HIGH,
        Reason.AUTH_CONTEXT_REQUIRED,
        Reason.MFA_REQUIRED,
        Reason.BLOCKED_BY_POLICY,
        Reason.INSUFFICIENT_SCOPE,
        Reason.STORE_UNAVAILABLE,
    }
)
_REQUEST_REASONS = frozenset(set(Reason) - _ACCESS_REASONS)
_TOKEN_ERRORS: Mapping[str, Reason] = {
    **{member.value: member for member in _REQUEST_REASONS},
    "missing_token": Reason.MISSING_TOKEN,
}


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one request: :class:`Outcome`, the stable :class:`Reason`, a description
    and, for a challenge, the claims the client must satisfy. The one refusal vocabulary: the
    response body, the log line, ``on_decision`` hooks and metrics all read it."""

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
"""The decision that serves the request."""


def token_refusal(reason: str, description: str, *, retry_after: float | None = None) -> Decision:
    """The decision for a request or token that cannot be accepted: a
    ``TokenValidationError``'s ``reason``, ``description`` and ``retry_after`` (seconds, for a
    retryable refusal; kept whole and positive in ``details["retry_after"]``)."""
    member = Reason.of_token_error(reason)
    details: dict[str, Any] = {"token_error": reason} if member is Reason.INVALID_TOKEN else {}
    if retry_after is not None and math.isfinite(retry_after):
        details["retry_after"] = max(1, math.ceil(retry_after))
    return Decision(Outcome.DENY, member, description, details=details)
