"""Event values: what every event source produces and every store keeps.

Sources (Shared Signals, the Graph bridge, the admin API, Python calls) all reduce to three
kinds of event: a revocation watermark for a subject, a risk level for a subject, and a new set
of named locations. Values are plain, immutable, and serialise to JSON for Redis and SQLite.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from ..core.locations import NamedLocation
from ..core.subjects import SubjectKey, SubjectKind

__all__ = [
    "WATERMARK_TTL_SECONDS",
    "Event",
    "LocationsEvent",
    "RevocationEvent",
    "RiskEvent",
    "RiskLevel",
    "canonical_event",
    "canonical_subject",
    "event_from_dict",
    "event_from_json",
    "event_to_dict",
    "event_to_json",
    "order_key",
    "state_key",
    "supersedes",
]

# Keep a watermark at least as long as the longest access token lifetime a resource accepts,
# plus clock skew: CAE-capable sessions get tokens of up to 28 hours (Microsoft identity platform,
# "How to use Continuous Access Evaluation enabled APIs in your applications",
# learn.microsoft.com/entra/identity-platform/app-resilience-continuous-access-evaluation).
# A token whose lifetime exceeds the retention must be refused by the validator, or it could
# outlive the watermark that revoked it.
WATERMARK_TTL_SECONDS = 28 * 3600 + 600
"""How long stores keep a watermark by default: Entra's longest CAE token lifetime (28 hours)
plus 10 minutes of clock skew."""


class RiskLevel(str, Enum):
    """Entra's risk levels, ordered none < low < medium < high."""

    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _RISK_RANK[self]

    def at_least(self, other: RiskLevel) -> bool:
        return self.rank >= other.rank


_RISK_RANK = {RiskLevel.NONE: 0, RiskLevel.LOW: 1, RiskLevel.MEDIUM: 2, RiskLevel.HIGH: 3}


@dataclass(frozen=True, slots=True)
class RevocationEvent:
    """Tokens of ``subject`` issued before ``not_before`` (epoch seconds) are no longer good."""

    subject: SubjectKey
    not_before: int
    reason: str
    """Why, e.g. ``sessions_revoked``, ``user_disabled``, ``credential_change``, ``sp_disabled``."""
    source: str = "api"
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """``subject``'s risk level is ``level`` as of ``at`` (epoch seconds)."""

    subject: SubjectKey
    level: RiskLevel
    at: int
    reason: str = "risk_level_change"
    source: str = "api"
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class LocationsEvent:
    """Replace the tenant's IP named locations: the catalogue Conditional Access policies name,
    whose trusted ones are also the networks the resource's location step allows."""

    locations: tuple[NamedLocation, ...]
    at: int
    source: str = "api"
    event_id: str | None = None


Event = RevocationEvent | RiskEvent | LocationsEvent
"""Any event a store applies."""


def event_to_dict(event: Event) -> dict[str, Any]:
    """JSON-ready form, inverse of :func:`event_from_dict`."""
    if isinstance(event, RevocationEvent):
        return {
            "type": "revocation",
            "subject": str(event.subject),
            "not_before": event.not_before,
            "reason": event.reason,
            "source": event.source,
            "event_id": event.event_id,
        }
    if isinstance(event, RiskEvent):
        return {
            "type": "risk",
            "subject": str(event.subject),
            "level": event.level.value,
            "at": event.at,
            "reason": event.reason,
            "source": event.source,
            "event_id": event.event_id,
        }
    return {
        "type": "locations",
        "locations": [loc.to_dict() for loc in event.locations],
        "at": event.at,
        "source": event.source,
        "event_id": event.event_id,
    }


# Stores keep timestamps as signed 64-bit values (the in-memory table packs them in 8 bytes).
_MAX_TIMESTAMP = 2**63 - 1


def _timestamp(value: Any) -> int:
    number = int(value)
    if not -_MAX_TIMESTAMP <= number <= _MAX_TIMESTAMP:
        raise ValueError("timestamp out of range")
    return number


def canonical_event(event: Event) -> Event:
    """``event`` with its subject in the form tokens are checked against (input typed by a
    person: :func:`canonical_subject`)."""
    if isinstance(event, LocationsEvent):
        return event
    subject = canonical_subject(event.subject)
    return event if subject is event.subject else replace(event, subject=subject)


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Parse :func:`event_to_dict` output; raises ``ValueError`` (or ``KeyError``) if malformed.

    Input comes from outside (the admin API, a Redis channel other writers share): every shape
    error surfaces as ``ValueError``, never as another exception that would end a subscription
    loop or answer a 500."""
    try:
        return _event_from_dict(data)
    except (AttributeError, OverflowError, TypeError) as exc:
        raise ValueError(f"malformed event: {type(exc).__name__}") from None


def event_to_json(event: Event) -> str:
    """``event`` as compact JSON text (:func:`event_to_dict`): what the shared stores keep."""
    return json.dumps(event_to_dict(event), separators=(",", ":"))


def event_from_json(data: bytes | str | None) -> Event | None:
    """An event from stored JSON text (a stream entry, a state hash, a change row); None when
    malformed (another writer, a version skew): the caller logs and skips it rather than
    stopping its reader."""
    if data is None:
        return None
    try:
        # Decoded first: json.loads would otherwise sniff the encoding of every entry.
        payload = json.loads(data.decode() if isinstance(data, bytes) else data)
        if not isinstance(payload, Mapping):
            return None
        return event_from_dict(payload)
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


# Tenant ids, object ids, app ids and addresses compare without case (GUIDs; RFC 9493 section
# 3.2.2.1 for addresses), and the keys of a token are lower-cased; session ids and (iss, sub)
# pairs are exact. A subject typed by a person (the admin API) is brought to that form: one
# typed with the upper-case GUIDs the Entra portal shows was stored as it came and never matched
# a token (the revocation was answered 202 and enforced nowhere). Stores read back what cae-sdk
# wrote (already in that form) without this step: it is on every replica's catch-up path.
_CASE_FREE = frozenset({SubjectKind.USER, SubjectKind.SERVICE_PRINCIPAL, SubjectKind.EMAIL})


def canonical_subject(text: str | SubjectKey) -> SubjectKey:
    """:meth:`SubjectKey.parse` in the form tokens are checked against; ``ValueError`` if it
    is not a subject key."""
    key = text if isinstance(text, SubjectKey) else SubjectKey.parse(text)
    tenant, value = key.tenant_id.lower(), key.value
    if key.kind is SubjectKind.TENANT:
        value = tenant  # a tenant's key names the tenant twice
    elif key.kind in _CASE_FREE:
        value = value.strip().lower()
    if tenant == key.tenant_id and value == key.value:
        return key  # the common case (written by cae-sdk): no second object
    return SubjectKey(key.kind, tenant, value)


def _event_from_dict(data: Mapping[str, Any]) -> Event:
    kind = data.get("type")
    event_id = data.get("event_id")
    event_id = event_id if isinstance(event_id, str) else None
    if kind == "revocation":
        return RevocationEvent(
            SubjectKey.parse(str(data["subject"])),
            _timestamp(data["not_before"]),
            str(data.get("reason", "revoked")),
            str(data.get("source", "api")),
            event_id,
        )
    if kind == "risk":
        return RiskEvent(
            SubjectKey.parse(str(data["subject"])),
            RiskLevel(str(data["level"]).lower()),
            _timestamp(data["at"]),
            str(data.get("reason", "risk_level_change")),
            str(data.get("source", "api")),
            event_id,
        )
    if kind == "locations":
        return LocationsEvent(
            tuple(NamedLocation.from_dict(loc) for loc in data["locations"]),
            _timestamp(data["at"]),
            str(data.get("source", "api")),
            event_id,
        )
    raise ValueError(f"unknown event type {kind!r}")


# -- the one ordering rule every store follows ------------------------------------------------
#
# Each event updates one piece of state (``state_key``): a subject's watermark, a subject's risk,
# or the named locations. Of all events for one piece of state, the one with the greatest
# ``order_key`` is the state. The key is the event's time first; on equal times:
#
# * watermarks: the same time is the same state (the first one recorded stays);
# * risk: the more severe level wins (fail safe: a tie never clears a risk);
# * locations: the greater SHA-256 of the canonical JSON of the locations wins (deterministic).
#
# "Greatest wins" is commutative, associative and idempotent, so every replica that has seen the
# same events holds the same state, whatever the order and however often they arrived. The key is
# one fixed-width lowercase hex string so that Python, SQLite and the Redis script compare it the
# same way (byte order; the script compares it chunk by chunk as numbers, never by locale).

_TIME_OFFSET = 2**63  # timestamps are signed 64-bit: offset to an unsigned, fixed-width hex


def state_key(event: Event) -> str:
    """The piece of state ``event`` updates: ``wm:<subject>``, ``risk:<subject>``, ``locations``."""
    if isinstance(event, RevocationEvent):
        return f"wm:{event.subject}"
    if isinstance(event, RiskEvent):
        return f"risk:{event.subject}"
    return "locations"


def event_time(event: Event) -> int:
    return event.not_before if isinstance(event, RevocationEvent) else event.at


def order_key(event: Event) -> str:
    """Fixed-width hex: 16 digits of time, then the tie-breaker of the event's kind."""
    time_part = f"{event_time(event) + _TIME_OFFSET:016x}"
    if isinstance(event, RevocationEvent):
        return time_part
    if isinstance(event, RiskEvent):
        return time_part + f"{event.level.rank:x}"
    return time_part + locations_digest(event.locations)


def locations_digest(locations: tuple[NamedLocation, ...]) -> str:
    canonical = json.dumps(
        [loc.to_dict() for loc in locations], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def supersedes(new: Event, current: Event | None) -> bool:
    """True when ``new`` replaces ``current`` (same ``state_key``) under the ordering rule."""
    return current is None or order_key(new) > order_key(current)
