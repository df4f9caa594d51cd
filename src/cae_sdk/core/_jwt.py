"""One JWT claims checker for access tokens and Security Event Tokens.

The registered claims every JWT shares (RFC 7519 section 4.1) are read and checked here, and
nowhere else: NumericDates (``exp``, ``nbf``, ``iat``), the audience and the issuer. The bearer
token validator (:mod:`cae_sdk.resource._validator`), :class:`~cae_sdk.core.tokens.TokenClaims`
and the SET rules (:mod:`cae_sdk.events.ssf._rules`) all call these functions, so a claim cannot
be read by two different rules again.

Pure: no clock (``now`` is an argument), no I/O. Every refusal is a
:class:`~cae_sdk.core.errors.JOSEError` whose ``reason`` is one of the constants below; each
adapter maps it to its own vocabulary (``TokenValidationError`` reasons, RFC 8935 codes).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from .errors import JOSEError

__all__ = [
    "BAD_AUDIENCE",
    "BAD_ISSUER",
    "EXPIRED",
    "LIFETIME_TOO_LONG",
    "MALFORMED_CLAIM",
    "MAX_NUMERIC_DATE",
    "MISSING_CLAIM",
    "NOT_YET_VALID",
    "TENANT_PLACEHOLDER",
    "ClaimTimes",
    "ClaimsRules",
    "IssuerRule",
    "check_audience",
    "check_claims",
    "check_issuer",
    "floor_seconds",
    "numeric_date",
    "numeric_date_or_none",
    "optional_numeric_date",
    "whole_seconds",
]

MALFORMED_CLAIM = "malformed"
MISSING_CLAIM = "missing_claim"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
LIFETIME_TOO_LONG = "lifetime_too_long"
BAD_ISSUER = "bad_issuer"
BAD_AUDIENCE = "bad_audience"

TENANT_PLACEHOLDER = "{tenantid}"

# The largest integer a JSON number carries exactly between implementations (RFC 7493 section
# 2.2, I-JSON): every date up to it converts to float without loss or OverflowError and fits the
# signed 64-bit integers the stores keep. A NumericDate before 1970 names no JWT ever issued.
MAX_NUMERIC_DATE = 2**53 - 1


def numeric_date_or_none(value: object) -> float | None:
    """RFC 7519 section 2 NumericDate: a JSON number of seconds since the epoch, fractions
    allowed. None for anything else: a bool (a JSON ``true`` is no number), a string, a
    non-finite float (Python's ``json`` reads ``Infinity``, ``NaN`` and ``1e400``) or a value
    outside ``0 .. MAX_NUMERIC_DATE`` (such as ``10**400``, which ``float()`` cannot hold)."""
    if type(value) is int:
        return value if 0 <= value <= MAX_NUMERIC_DATE else None
    if type(value) is float:
        return value if 0.0 <= value <= MAX_NUMERIC_DATE else None  # NaN compares False
    return None


def numeric_date(claims: Mapping[str, Any], name: str) -> float:
    """The NumericDate claim ``name``; ``missing_claim`` when absent, ``malformed`` when it is
    present but not a NumericDate."""
    value = optional_numeric_date(claims, name)
    if value is None:
        raise JOSEError(MISSING_CLAIM, f"lacks required claim {name!r}")
    return value


def optional_numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    """The NumericDate claim ``name`` or None when absent; ``malformed`` when present but not
    a NumericDate (``null`` counts as absent, as RFC 7519 section 4 leaves it undefined)."""
    raw = claims.get(name)
    if raw is None:
        return None
    value = numeric_date_or_none(raw)
    if value is None:
        raise JOSEError(MALFORMED_CLAIM, f"claim {name!r} is not a NumericDate")
    return value


def floor_seconds(value: float) -> int:
    """A NumericDate floored to whole seconds: for a whole-second watermark ``W``,
    ``floor_seconds(t) >= W`` exactly when ``t >= W``, so comparisons stay exact."""
    return math.floor(value)


def whole_seconds(value: float | None) -> int | None:
    """:func:`floor_seconds`, passing None through."""
    return None if value is None else math.floor(value)


def check_audience(aud: object, accepted: Collection[str]) -> None:
    """RFC 7519 section 4.1.3: ``aud`` is a string or a non-empty array of strings, and one of
    them must be an accepted audience (exact, case-sensitive comparison). Anything else (a
    number, an array holding a non-string) is refused as ``bad_audience``."""
    if type(aud) is str:
        if aud in accepted:
            return
    elif type(aud) is list and aud and all(type(a) is str for a in aud):
        if any(a in accepted for a in aud):
            return
    else:
        raise JOSEError(BAD_AUDIENCE, "has no valid aud claim")
    raise JOSEError(BAD_AUDIENCE, "audience is not accepted")


@dataclass(frozen=True, slots=True)
class IssuerRule:
    """Accepted issuers: exact values and templates holding ``{tenantid}``.

    Comparison is exact, character for character (OpenID Connect Core 1.0 section 3.1.3.7 step
    2, OpenID Connect Discovery 1.0 section 4.3): no case folding, no trailing-slash repair. A
    template is filled with the token's own ``tid`` (multi-tenant Entra APIs), so a token of
    tenant A can never pass as tenant B.
    """

    exact: frozenset[str]
    templates: tuple[str, ...] = ()

    @classmethod
    def of(cls, issuers: Collection[str]) -> IssuerRule:
        return cls(
            frozenset(i for i in issuers if TENANT_PLACEHOLDER not in i),
            tuple(i for i in issuers if TENANT_PLACEHOLDER in i),
        )

    def matches(self, iss: str, tid: object) -> bool:
        if iss in self.exact:
            return True
        if self.templates and type(tid) is str and tid:
            return any(iss == t.replace(TENANT_PLACEHOLDER, tid) for t in self.templates)
        return False


def check_issuer(claims: Mapping[str, Any], rule: IssuerRule) -> str:
    """The token's ``iss`` when ``rule`` accepts it; ``bad_issuer`` otherwise."""
    iss = claims.get("iss")
    if type(iss) is not str or not iss:
        raise JOSEError(BAD_ISSUER, "has no issuer")
    if not rule.matches(iss, claims.get("tid")):
        raise JOSEError(BAD_ISSUER, "issuer is not accepted")
    return iss


class ClaimTimes(NamedTuple):  # a tuple: built on every cold path, frozen dataclasses cost more
    """The NumericDates of a checked token, exactly as signed (fractions kept)."""

    issued_at: float | None
    not_before: float | None
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class ClaimsRules:
    """What a JWT must satisfy (RFC 7519 section 4.1, RFC 8725 sections 3.8 and 3.9).

    ``leeway`` is the clock skew allowed on ``exp``, ``nbf`` and ``iat``. ``max_lifetime``
    (seconds, or None) refuses a token whose lifetime, ``exp - iat`` (else ``exp - nbf``),
    exceeds it, or cannot be established: revocation state is kept only that long.
    """

    issuers: IssuerRule
    audiences: frozenset[str]
    leeway: float = 60.0
    required: tuple[str, ...] = ("iss", "aud", "exp", "iat")
    max_lifetime: float | None = None


def check_claims(claims: Mapping[str, Any], rules: ClaimsRules, now: float) -> ClaimTimes:
    """Check required claims, times, lifetime, issuer and audience of verified ``claims``."""
    for name in rules.required:
        value = claims.get(name)
        if value is None or value == "":
            raise JOSEError(MISSING_CLAIM, f"lacks required claim {name!r}")
    exp = optional_numeric_date(claims, "exp")
    nbf = optional_numeric_date(claims, "nbf")
    iat = optional_numeric_date(claims, "iat")
    leeway = rules.leeway
    if exp is not None and now > exp + leeway:
        raise JOSEError(EXPIRED, "has expired")
    if nbf is not None and now + leeway < nbf:
        raise JOSEError(NOT_YET_VALID, "is not valid yet")
    if iat is not None and now + leeway < iat:
        raise JOSEError(NOT_YET_VALID, "was issued in the future")
    if rules.max_lifetime is not None:
        start = iat if iat is not None else nbf
        if exp is None or start is None:
            raise JOSEError(
                LIFETIME_TOO_LONG, "lifetime cannot be established (exp and iat or nbf needed)"
            )
        if exp - start > rules.max_lifetime:
            raise JOSEError(
                LIFETIME_TOO_LONG,
                f"lifetime {exp - start:.0f} s exceeds the accepted {rules.max_lifetime:.0f} s",
            )
    check_issuer(claims, rules.issuers)
    check_audience(claims.get("aud"), rules.audiences)
    return ClaimTimes(iat, nbf, exp)
