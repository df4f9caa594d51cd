"""What each Shared Signals event means to a resource: ONE table, plus subject resolution.

Every CAEP / RISC event type maps to exactly one effect (shared PROTOCOL.md section 5):

* ``watermark`` - tokens of the subject issued before the event are no longer good;
* ``risk`` - the subject's risk level changes (the policy engine decides what that requires);
* ``location`` - the named locations change (no SSF event carries them today; the Graph bridge
  and the admin API do);
* ``ignored`` - acknowledged and recorded with the reason it has no effect.

Subjects are RFC 9493 subject identifiers; :class:`DirectorySubjectResolver` turns them into
:class:`~cae_sdk.core.subjects.SubjectKey` values. Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from ...core.secevents import CAEP, RISC, SSF
from ...core.subjects import SubjectKey, SubjectKind
from ..model import Event, RevocationEvent, RiskEvent, RiskLevel
from .rules import SecurityEvent

__all__ = [
    "EVENT_MAPPING",
    "DirectorySubjectResolver",
    "Effect",
    "EventRule",
    "MappedEvent",
    "SubjectResolver",
    "map_security_event",
]


class Effect(str, Enum):
    WATERMARK = "watermark"
    RISK = "risk"
    LOCATION = "location"
    IGNORED = "ignored"


Condition = Callable[[Mapping[str, Any]], str | None]
"""Given the event payload, None when the rule applies, else the reason it is ignored."""


@dataclass(frozen=True, slots=True)
class EventRule:
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
    # password change (self-remediable, seed 001) instead of locking the user out.
    RISC.ACCOUNT_CREDENTIAL_CHANGE_REQUIRED: EventRule(Effect.RISK, "credential_change_required"),
    RISC.SESSIONS_REVOKED: EventRule(Effect.WATERMARK, "sessions_revoked"),
    RISC.ACCOUNT_ENABLED: EventRule(
        Effect.IGNORED, "account enabled; tokens issued after the last watermark are already valid"
    ),
    RISC.IDENTIFIER_CHANGED: EventRule(Effect.IGNORED, "identifier change is not a revocation"),
    SSF.VERIFICATION: EventRule(Effect.IGNORED, "stream verification (control event)"),
    SSF.STREAM_UPDATED: EventRule(Effect.IGNORED, "stream status update (control event)"),
}

# CAEP 1.0 section 3.7 levels; RISC has no levels: a required credential change means high.
_RISK_LEVELS = {"low": RiskLevel.LOW, "medium": RiskLevel.MEDIUM, "high": RiskLevel.HIGH}


_MAX_NESTING = 4


class SubjectResolver(Protocol):
    def resolve(self, subject: Mapping[str, Any]) -> tuple[SubjectKey, ...]:
        """The revocation subjects an RFC 9493 subject identifier names (may be empty)."""


@dataclass(frozen=True, slots=True)
class DirectorySubjectResolver:
    """Resolve RFC 9493 subject identifiers to Entra-style subject keys.

    * ``iss_sub``: ``sub`` is the object id; the tenant comes from ``tenant_for_issuer`` (or is
      ``tenant_id``). An issuer the mapping does not know resolves to nothing.
    * ``email`` / ``phone_number``: looked up with ``object_id_for_email``.
    * ``opaque``: the id is taken as a ``opaque_kind`` (user object id by default).
    * ``account`` (``acct:oid@tenant``), ``aliases`` (the first that resolves).
    * ``complex`` (RFC 9493 section 3.2 / SSF 1.0 section 3.3): the most specific member wins -
      a ``session`` names one session; else ``user`` and/or ``application``; else ``tenant``.
    """

    tenant_id: str | None = None
    tenant_for_issuer: Mapping[str, str] | Callable[[str], str | None] | None = None
    object_id_for_email: Mapping[str, str] | Callable[[str], str | None] | None = None
    opaque_kind: SubjectKind = SubjectKind.USER

    def resolve(self, subject: Mapping[str, Any]) -> tuple[SubjectKey, ...]:
        return self._resolve(subject, SubjectKind.USER, self.tenant_id, 0)

    def _tenant_for(self, issuer: str) -> str | None:
        mapping = self.tenant_for_issuer
        if mapping is None:
            return self.tenant_id
        return mapping(issuer) if callable(mapping) else mapping.get(issuer)

    def _resolve(
        self, subject: Mapping[str, Any], kind: SubjectKind, tenant: str | None, depth: int
    ) -> tuple[SubjectKey, ...]:
        if depth > _MAX_NESTING:
            return ()  # RFC 9493 nests one level; anything deeper is not a real subject
        fmt = subject.get("format")
        if fmt == "complex":
            return self._resolve_complex(subject, tenant, depth + 1)
        if fmt == "aliases":
            identifiers = subject.get("identifiers")
            for alias in identifiers if isinstance(identifiers, list) else ():
                if isinstance(alias, Mapping):
                    keys = self._resolve(alias, kind, tenant, depth + 1)
                    if keys:
                        return keys
            return ()
        value: str | None = None
        if fmt == "iss_sub":
            issuer, value = subject.get("iss"), subject.get("sub")
            tenant = self._tenant_for(issuer) if isinstance(issuer, str) else None
        elif fmt in ("email", "phone_number"):
            address = subject.get("email" if fmt == "email" else "phone_number")
            value = _lookup(self.object_id_for_email, address)
        elif fmt == "opaque":
            value = subject.get("id")
            kind = self.opaque_kind if kind is SubjectKind.USER else kind
        elif fmt == "account":
            value, tenant = _split_account(subject.get("uri"), tenant)
        if not isinstance(value, str) or not value or not tenant:
            return ()
        return (_key(kind, tenant, value),)

    def _resolve_complex(
        self, subject: Mapping[str, Any], tenant: str | None, depth: int
    ) -> tuple[SubjectKey, ...]:
        tenant_member = subject.get("tenant")
        if isinstance(tenant_member, Mapping):
            tenant_value = tenant_member.get("id") or tenant_member.get("sub")
            if isinstance(tenant_value, str) and tenant_value:
                tenant = tenant_value
        session = subject.get("session")
        if isinstance(session, Mapping):
            keys = self._resolve(session, SubjectKind.SESSION, tenant, depth)
            if keys:
                return keys
        keys = ()
        for member, kind in (
            ("user", SubjectKind.USER),
            ("application", SubjectKind.SERVICE_PRINCIPAL),
        ):
            value = subject.get(member)
            if isinstance(value, Mapping):
                keys += self._resolve(value, kind, tenant, depth)
        if keys:
            return keys
        if isinstance(tenant_member, Mapping) and tenant:
            return (SubjectKey.tenant(tenant),)
        return ()


def _lookup(
    mapping: Mapping[str, str] | Callable[[str], str | None] | None, key: Any
) -> str | None:
    if mapping is None or not isinstance(key, str):
        return None
    if callable(mapping):
        return mapping(key)
    return mapping.get(key) or mapping.get(key.lower())


def _split_account(uri: Any, tenant: str | None) -> tuple[str | None, str | None]:
    # RFC 9493 section 3.2.1: "acct:" URI; we read it as acct:<object id>@<tenant id>.
    if not isinstance(uri, str) or not uri.startswith("acct:") or "@" not in uri:
        return None, tenant
    local, _, host = uri[5:].rpartition("@")
    return local, host or tenant


def _key(kind: SubjectKind, tenant: str, value: str) -> SubjectKey:
    if kind is SubjectKind.SESSION:
        return SubjectKey.session(tenant, value)
    if kind is SubjectKind.SERVICE_PRINCIPAL:
        return SubjectKey.service_principal(tenant, value)
    if kind is SubjectKind.TENANT:
        return SubjectKey.tenant(tenant)
    return SubjectKey.user(tenant, value)


@dataclass(frozen=True, slots=True)
class MappedEvent:
    """The store events a SET produces, or why it produces none."""

    events: tuple[Event, ...]
    ignored_reason: str | None = None
    effect: Effect = Effect.IGNORED


def _watermark_time(event: SecurityEvent) -> int:
    # CAEP 1.0 section 2: event_timestamp is when it happened. Never move a watermark past the
    # SET's own iat: a future watermark would refuse tokens issued after the event.
    stamp = event.event_timestamp
    return event.issued_at if stamp is None else min(stamp, event.issued_at)


def map_security_event(
    event: SecurityEvent, resolver: SubjectResolver, *, source: str = "ssf"
) -> MappedEvent:
    """Apply :data:`EVENT_MAPPING` to a validated SET."""
    rule = EVENT_MAPPING.get(event.event_type)
    if rule is None:
        return MappedEvent((), f"event type not mapped: {event.event_type}")
    if rule.effect is Effect.IGNORED:
        return MappedEvent((), rule.reason)
    skipped = rule.condition(event.payload) if rule.condition is not None else None
    if skipped is not None:
        return MappedEvent((), skipped)
    subjects = resolver.resolve(event.subject)
    if not subjects:
        return MappedEvent((), "subject identifier does not resolve to a known subject")
    if rule.effect is Effect.RISK:
        level = _risk_level(event)
        if level is None:
            return MappedEvent((), "risk level missing or unknown")
        at = _watermark_time(event)
        risks = tuple(RiskEvent(s, level, at, rule.reason, source, event.jti) for s in subjects)
        return MappedEvent(risks, effect=Effect.RISK)
    at = _watermark_time(event)
    revocations = tuple(RevocationEvent(s, at, rule.reason, source, event.jti) for s in subjects)
    return MappedEvent(revocations, effect=Effect.WATERMARK)


def _risk_level(event: SecurityEvent) -> RiskLevel | None:
    if event.event_type == RISC.ACCOUNT_CREDENTIAL_CHANGE_REQUIRED:
        return RiskLevel.HIGH
    level = event.payload.get("current_level")
    if not isinstance(level, str):
        return None
    return _RISK_LEVELS.get(level.lower(), RiskLevel.NONE if level.lower() == "none" else None)
