"""What each Shared Signals event means to a resource: ONE table, plus subject resolution.

Every CAEP 1.0 / RISC 1.0 event type (section 3 of each) maps to exactly one effect:

* ``watermark`` - tokens of the subject issued before the event are no longer good;
* ``risk`` - the subject's risk level changes (the policy engine decides what that requires);
* ``location`` - the named locations change (no SSF event carries them today; the Graph bridge
  and the admin API do);
* ``ignored`` - acknowledged and recorded with the reason it has no effect.

Subjects are RFC 9493 subject identifiers; a :class:`~._subjects.SubjectResolver` (by default
:class:`DirectorySubjectResolver`) turns them into :class:`~cae_sdk.core.subjects.SubjectKey`
values, never wider than the identifier names. Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from ...core.secevents import CAEP, RISC, SSF
from ...core.subjects import SubjectKey
from .._model import Event, RevocationEvent, RiskEvent, RiskLevel
from ._rules import SecurityEvent
from ._subjects import DirectorySubjectResolver, Resolution, SubjectResolver

__all__ = [
    "EVENT_MAPPING",
    "DirectorySubjectResolver",
    "Effect",
    "EventRule",
    "MappedEvent",
    "Resolution",
    "SubjectResolver",
    "map_security_event",
]


class Effect(str, Enum):
    """What a security event does to the store."""

    WATERMARK = "watermark"
    RISK = "risk"
    LOCATION = "location"
    IGNORED = "ignored"


Condition = Callable[[Mapping[str, Any]], str | None]
"""Given the event payload, None when the rule applies, else the reason it is ignored."""


@dataclass(frozen=True, slots=True)
class EventRule:
    """How one event type maps to the store: its :class:`Effect`, reason code and an optional
    condition on the payload."""

    effect: Effect
    reason: str
    """The watermark/risk reason code, or for ``ignored`` why the event has no effect."""
    condition: Condition | None = None


def _when_decreased(payload: Mapping[str, Any]) -> str | None:
    # CAEP 1.0 section 3.5: change_direction "increase" means tokens now understate the
    # assurance level, which never makes an old token less trustworthy.
    if payload.get("change_direction") == "increase":
        return "assurance level increased; existing tokens stay valid"
    return None


def _when_not_compliant(payload: Mapping[str, Any]) -> str | None:
    if payload.get("current_status") == "compliant":
        return "device became compliant; existing tokens stay valid"
    return None


def _when_revoking_credential(payload: Mapping[str, Any]) -> str | None:
    # CAEP 1.0 section 3.3: a newly created credential does not invalidate existing sessions.
    if payload.get("change_type") == "create":
        return "credential created; existing tokens stay valid"
    return None


_CAEP_RISC_UNUSED = "informational; no change to existing tokens"

EVENT_MAPPING: Mapping[str, EventRule] = {
    CAEP.SESSION_REVOKED: EventRule(Effect.WATERMARK, "sessions_revoked"),
    CAEP.CREDENTIAL_CHANGE: EventRule(
        Effect.WATERMARK, "credential_change", _when_revoking_credential
    ),
    CAEP.TOKEN_CLAIMS_CHANGE: EventRule(Effect.WATERMARK, "token_claims_change"),
    CAEP.ASSURANCE_LEVEL_CHANGE: EventRule(
        Effect.WATERMARK, "assurance_level_change", _when_decreased
    ),
    CAEP.DEVICE_COMPLIANCE_CHANGE: EventRule(
        Effect.WATERMARK, "device_not_compliant", _when_not_compliant
    ),
    CAEP.RISK_LEVEL_CHANGE: EventRule(Effect.RISK, "risk_level_change"),
    CAEP.SESSION_ESTABLISHED: EventRule(Effect.IGNORED, _CAEP_RISC_UNUSED),
    CAEP.SESSION_PRESENTED: EventRule(Effect.IGNORED, _CAEP_RISC_UNUSED),
    RISC.ACCOUNT_DISABLED: EventRule(Effect.WATERMARK, "user_disabled"),
    RISC.ACCOUNT_PURGED: EventRule(Effect.WATERMARK, "user_deleted"),
    RISC.CREDENTIAL_COMPROMISE: EventRule(Effect.WATERMARK, "credential_compromise"),
    # The account must change its credential: high risk lets the policy engine demand a
    # password change (self-remediable: Microsoft Entra ID Protection docs, "Remediate risks and
    # unblock users") instead of locking the user out.
    RISC.ACCOUNT_CREDENTIAL_CHANGE_REQUIRED: EventRule(Effect.RISK, "credential_change_required"),
    RISC.SESSIONS_REVOKED: EventRule(Effect.WATERMARK, "sessions_revoked"),
    RISC.ACCOUNT_ENABLED: EventRule(
        Effect.IGNORED, "account enabled; tokens issued after the last watermark are already valid"
    ),
    RISC.IDENTIFIER_CHANGED: EventRule(Effect.IGNORED, "identifier change is not a revocation"),
    SSF.VERIFICATION: EventRule(Effect.IGNORED, "stream verification (control event)"),
    SSF.STREAM_UPDATED: EventRule(Effect.IGNORED, "stream status update (control event)"),
}
"""Event type URI -> :class:`EventRule`, for the CAEP 1.0 and RISC 1.0 event types the receiver
knows; any other event type is ignored."""

# CAEP 1.0 section 3.7 levels; RISC has no levels: a required credential change means high.
_RISK_LEVELS = {"low": RiskLevel.LOW, "medium": RiskLevel.MEDIUM, "high": RiskLevel.HIGH}


@dataclass(frozen=True, slots=True)
class MappedEvent:
    """The store events a SET produces, or why it produces none."""

    events: tuple[Event, ...]
    ignored_reason: str | None = None
    effect: Effect = Effect.IGNORED


def _watermark_time(event: SecurityEvent, payload: Mapping[str, Any]) -> int:
    # CAEP 1.0 section 2: event_timestamp is when it happened. Never move a watermark past the
    # SET's own iat: a future watermark would refuse tokens issued after the event.
    stamp = (event if payload is event.payload else replace(event, payload=payload)).event_timestamp
    return event.issued_at if stamp is None else min(stamp, event.issued_at)


def map_security_event(
    event: SecurityEvent,
    resolver: SubjectResolver,
    *,
    source: str = "ssf",
    critical_members: Collection[str] = (),
) -> MappedEvent:
    """Apply :data:`EVENT_MAPPING` to a validated SET.

    A SET carrying the same event under alternative type URIs (SSF 1.0 section 4.2.1) yields
    each subject's effect once. ``critical_members`` are the transmitter's
    ``critical_subject_members`` (SSF 1.0 section 7.1): a subject with one of them that the
    resolver could not process discards the event (section 3.6).
    """
    if not event.events:  # one event type: nothing to merge (the common case, kept fast)
        found = _map_one(event, event.event_type, event.payload, resolver, source, critical_members)
        if isinstance(found, str):
            return MappedEvent((), found)
        return MappedEvent(found[1], effect=found[0])
    merged: dict[tuple[type, SubjectKey], Event] = {}
    reasons: list[str] = []
    effect = Effect.IGNORED
    for event_type, payload in event.all_events().items():
        found = _map_one(event, event_type, payload, resolver, source, critical_members)
        if isinstance(found, str):
            reasons.append(found)
            continue
        rule_effect, items = found
        effect = rule_effect if effect is Effect.IGNORED else effect
        for item in items:
            key = (type(item), item.subject)
            kept = merged.get(key)
            if kept is None or _time_of(item) > _time_of(kept):
                merged[key] = item
    if not merged:
        return MappedEvent((), "; ".join(dict.fromkeys(reasons)) or "no event")
    return MappedEvent(tuple(merged.values()), effect=effect)


def _time_of(item: Event) -> int:
    return item.not_before if isinstance(item, RevocationEvent) else item.at


def _map_one(
    event: SecurityEvent,
    event_type: str,
    payload: Mapping[str, Any],
    resolver: SubjectResolver,
    source: str,
    critical_members: Collection[str],
) -> tuple[Effect, tuple[RevocationEvent, ...] | tuple[RiskEvent, ...]] | str:
    """The effect and store events of one event type, or why it has none."""
    rule = EVENT_MAPPING.get(event_type)
    if rule is None:
        return f"event type not mapped: {event_type}"
    if rule.effect is Effect.IGNORED:
        return rule.reason
    skipped = rule.condition(payload) if rule.condition is not None else None
    if skipped is not None:
        return skipped
    resolution = resolver.resolve(event.subject, event_type=event_type, issuer=event.issuer)
    critical = resolution.unprocessed and sorted(
        resolution.unprocessed.intersection(critical_members)
    )
    if critical:
        # SSF 1.0 section 3.6: MUST discard, not apply to the other members.
        return f"critical subject member(s) not processed: {', '.join(critical)}"
    if not resolution.keys:
        return resolution.reason or "subject identifier does not resolve to a known subject"
    at = _watermark_time(event, payload)
    if rule.effect is Effect.RISK:
        level, why = _risk_level(event_type, payload)
        if level is None:
            return why
        subjects = resolution.keys
        return Effect.RISK, tuple(
            RiskEvent(s, level, at, rule.reason, source, event.jti) for s in subjects
        )
    return Effect.WATERMARK, tuple(
        RevocationEvent(s, at, rule.reason, source, event.jti) for s in resolution.keys
    )


def _risk_level(event_type: str, payload: Mapping[str, Any]) -> tuple[RiskLevel | None, str]:
    if event_type == RISC.ACCOUNT_CREDENTIAL_CHANGE_REQUIRED:
        return RiskLevel.HIGH, ""
    # CAEP 1.0 section 3.8: "principal" says whose risk it is; a device's or a group's risk is
    # not a user's, whatever identifier names it.
    principal = payload.get("principal")
    if principal is not None and (not isinstance(principal, str) or principal.upper() != "USER"):
        return None, f"risk of a {principal!s:.32} principal is not tracked"
    level = payload.get("current_level")
    if not isinstance(level, str):
        return None, "risk level missing or unknown"
    lowered = level.lower()
    found = _RISK_LEVELS.get(lowered, RiskLevel.NONE if lowered == "none" else None)
    return found, "" if found is not None else "risk level missing or unknown"
