"""Pure Security Event Token validation rules (RFC 8417, SSF 1.0 section 4, RFC 8935 section 2.4).

Given the decoded JOSE header and claims of a SET whose signature was already checked, plus the
receiver's configuration and ``now``, return a :class:`SecurityEvent` or raise
:class:`~cae_sdk.core.errors.EventValidationError` with the RFC 8935 error code. No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from ...core import _jwt
from ...core.errors import ConfigurationError, EventValidationError, JOSEError
from ...core.jose import SUPPORTED_ALGORITHMS, UNSUPPORTED_HEADER, check_header
from ...core.secevents import SET_TYP, SSF
from .._model import WATERMARK_TTL_SECONDS

__all__ = [
    "ALLOWED_ALGORITHMS",
    "SecurityEvent",
    "SetValidationConfig",
    "validate_set_claims",
    "validate_set_header",
]

# Asymmetric algorithms only: a SET signed with a shared secret (HS*) could have been forged by
# anyone holding the secret, and "none" is unsigned (RFC 8417 section 5.1; RFC 8725 section 3.1).
ALLOWED_ALGORITHMS: frozenset[str] = SUPPORTED_ALGORITHMS
"""The algorithms a SET may be signed with: asymmetric only (RFC 8417 section 5.1; RFC 8725
section 3.1)."""

_CONTROL_EVENTS = frozenset({SSF.VERIFICATION, SSF.STREAM_UPDATED})
_MAX_EVENTS = 8  # alternative URIs of one event (SSF 1.0 section 4.2.1); more is no real SET

INVALID_REQUEST = "invalid_request"
INVALID_KEY = "invalid_key"
INVALID_ISSUER = "invalid_issuer"
INVALID_AUDIENCE = "invalid_audience"


@dataclass(frozen=True, slots=True)
class SetValidationConfig:
    """What a receiver accepts.

    ``max_future_seconds`` is the clock skew tolerated for an ``iat`` in the future. There is no
    age limit by default: a SET queued while the receiver was down, or polled after an outage,
    still describes a revocation that happened (RFC 8417 section 2.2: SETs state facts), and it
    is applied at its event time; watermarks are idempotent, so a replay changes nothing.
    ``max_age_seconds`` refuses older SETs (``invalid_request``, which is final for the
    transmitter) only where an operator accepts losing them.
    """

    issuer: str
    audiences: tuple[str, ...]
    max_age_seconds: int | None = None
    max_future_seconds: int = 300
    algorithms: frozenset[str] = ALLOWED_ALGORITHMS
    max_set_bytes: int = 64 * 1024
    issuer_rule: _jwt.IssuerRule = field(init=False, repr=False, compare=False)
    """``issuer`` as the shared claims checker takes it (built once, not per SET)."""

    def __post_init__(self) -> None:
        # Exact only: a SET issuer is never a {tenantid} template.
        object.__setattr__(self, "issuer_rule", _jwt.IssuerRule(frozenset({self.issuer})))
        if not self.issuer:
            raise ConfigurationError("SET issuer must not be empty")
        if not self.audiences or not all(self.audiences):
            raise ConfigurationError("at least one non-empty SET audience is required")
        unsafe = {a for a in self.algorithms if a not in ALLOWED_ALGORITHMS}
        if unsafe:
            raise ConfigurationError(f"SET algorithms not allowed: {sorted(unsafe)}")
        too_young = self.max_age_seconds is not None and self.max_age_seconds <= 0
        if too_young or self.max_future_seconds < 0 or self.max_set_bytes <= 0:
            raise ConfigurationError("SET time window and size limits must be positive")

    @property
    def replay_window_seconds(self) -> int:
        """How long a ``jti`` is remembered (to report redeliveries): as long as a watermark
        lives, or the age limit. Forgetting it earlier is harmless: applying is idempotent."""
        age = WATERMARK_TTL_SECONDS if self.max_age_seconds is None else self.max_age_seconds
        return age + self.max_future_seconds


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    """One validated SET: its event (``event_type``, ``payload``), the same event under
    alternative type URIs if the transmitter sent them (``events``, SSF 1.0 section 4.2.1), its
    subject identifier and provenance."""

    jti: str
    issuer: str
    issued_at: int
    event_type: str
    payload: Mapping[str, Any]
    subject: Mapping[str, Any]
    """RFC 9493 subject identifier (``sub_id``, or the legacy in-event ``subject``)."""
    txn: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)
    events: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, repr=False)
    """Every event type URI of the SET and its payload (the first is ``event_type``)."""

    @property
    def event_timestamp(self) -> int | None:
        """CAEP 1.0 section 2: ``event_timestamp``, when the event happened (may precede iat)."""
        return _numeric_date(self.payload.get("event_timestamp"))

    def all_events(self) -> Mapping[str, Mapping[str, Any]]:
        return self.events or {self.event_type: self.payload}


def _is_object(value: object) -> TypeGuard[Mapping[str, Any]]:
    """A JSON object: ``json`` builds ``dict``; the ``Mapping`` check (an ABC, slower) is for
    claims a caller built otherwise."""
    return type(value) is dict or isinstance(value, Mapping)


def _fail(err: str, description: str) -> EventValidationError:
    return EventValidationError(err, description)


def validate_set_header(header: Mapping[str, Any], config: SetValidationConfig) -> str:
    """Check ``alg`` (the shared JOSE rules: never ``none`` or HMAC) and ``typ``; return the
    algorithm."""
    try:
        alg = check_header(header, config.algorithms)
    except JOSEError as exc:
        # RFC 8935 section 2.4: a signature algorithm problem is "invalid_key".
        code = INVALID_REQUEST if exc.reason == UNSUPPORTED_HEADER else INVALID_KEY
        raise _fail(code, f"SET {exc.description}") from None
    # SSF 1.0 section 4.1.1 / RFC 8417 section 2.3: typ is "secevent+jwt"; RFC 7515 section
    # 4.1.9 allows the "application/" prefix to be present.
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower().removeprefix("application/") != SET_TYP:
        raise _fail(INVALID_REQUEST, f"SET header typ must be {SET_TYP!r}")
    return alg


def _numeric_date(value: Any) -> int | None:
    """RFC 7519 section 2 NumericDate in whole seconds, or None: the shared reader
    (:mod:`cae_sdk.core._jwt`)."""
    return _jwt.whole_seconds(_jwt.numeric_date_or_none(value))


def _int_claim(claims: Mapping[str, Any], name: str) -> int:
    try:
        return _jwt.floor_seconds(_jwt.numeric_date(claims, name))
    except JOSEError:
        raise _fail(INVALID_REQUEST, f"SET claim {name!r} must be a NumericDate") from None


def _check_audience(aud: Any, config: SetValidationConfig) -> None:
    try:
        _jwt.check_audience(aud, config.audiences)
    except JOSEError as exc:
        raise _fail(INVALID_AUDIENCE, f"SET {exc.description}") from None


def _subject_of(
    claims: Mapping[str, Any], event_type: str, payload: Mapping[str, Any]
) -> Mapping[str, Any]:
    # SSF 1.0 section 4.1.4: the subject is the top-level sub_id; earlier drafts (and some
    # transmitters still) put a "subject" member inside the event payload.
    subject = claims.get("sub_id", payload.get("subject"))
    if subject is None and event_type in _CONTROL_EVENTS:
        return {}  # stream control events name the stream, if anything (SSF 1.0 section 8.1.4)
    if not _is_object(subject) or not isinstance(subject.get("format"), str):
        raise _fail(INVALID_REQUEST, "SET has no RFC 9493 subject identifier (sub_id)")
    return subject


def validate_set_claims(
    claims: Mapping[str, Any], config: SetValidationConfig, *, now: int
) -> SecurityEvent:
    """Apply RFC 8417 section 2.2 and SSF 1.0 section 4.1 to verified SET claims."""
    try:
        iss = _jwt.check_issuer(claims, config.issuer_rule)
    except JOSEError:
        raise _fail(INVALID_ISSUER, "SET issuer is not the configured transmitter") from None
    _check_audience(claims.get("aud"), config)
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise _fail(INVALID_REQUEST, "SET jti is missing or invalid")
    iat = _int_claim(claims, "iat")
    if iat > now + config.max_future_seconds:
        raise _fail(INVALID_REQUEST, "SET iat is in the future")
    if config.max_age_seconds is not None and iat < now - config.max_age_seconds:
        raise _fail(INVALID_REQUEST, "SET iat is older than the accepted window")
    # RFC 8417 section 2.2: SETs describe facts that happened; "exp" SHOULD NOT be used, and a
    # SET with exp could be mistaken for an access token (section 4.1).
    if "exp" in claims:
        raise _fail(INVALID_REQUEST, "SET must not carry exp")
    # SSF 1.0 section 4.1.7: no top-level "sub"; a SET is not an ID token or access token.
    if "sub" in claims:
        raise _fail(INVALID_REQUEST, "SET must not carry a top-level sub claim")
    events = claims.get("events")
    if not _is_object(events) or not events or len(events) > _MAX_EVENTS:
        raise _fail(INVALID_REQUEST, "SET must carry one event")
    # SSF 1.0 section 4.2.1: several type URIs are allowed when they are alternative URIs of
    # the exact same event (RISC sessions-revoked and CAEP session-revoked): all are read and
    # the mapping applies their effect once. Refusing would lose the revocation for good.
    for name, body in events.items():
        if not isinstance(name, str) or not _is_object(body):
            raise _fail(INVALID_REQUEST, "SET event must be an object keyed by its type URI")
    event_type, payload = next(iter(events.items()))
    txn = claims.get("txn")
    return SecurityEvent(
        jti=jti,
        issuer=iss,
        issued_at=iat,
        event_type=event_type,
        payload=payload,
        subject=_subject_of(claims, event_type, payload),
        txn=txn if isinstance(txn, str) else None,
        claims=claims,
        events=events if len(events) > 1 else {},
    )
