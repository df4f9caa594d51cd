"""Pure rules that turn Microsoft Graph directory objects into events (no I/O, no clock).

Each observed value is itself a watermark: ``signInSessionsValidFromDateTime`` says "sessions
before this instant are revoked", ``lastPasswordChangeDateTime`` "tokens before this instant
predate the credential change". The store keeps only the newest watermark per subject, so
seeing the same value again (a full resync) changes nothing, and a moved value revokes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from ...core.locations import NamedLocation
from ...core.subjects import SubjectKey
from .._model import Event, LocationsEvent, RevocationEvent, RiskEvent, RiskLevel

__all__ = [
    "SOURCE",
    "location_event",
    "parse_graph_time",
    "risky_principal_events",
    "service_principal_events",
    "user_events",
]

SOURCE = "graph"
_RISK = {level.value: level for level in RiskLevel}


def parse_graph_time(value: Any) -> int | None:
    """Epoch seconds of a Graph ``DateTimeOffset`` (ISO 8601, usually with ``Z``)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:  # Graph sends up to 7 fractional digits; fromisoformat on 3.10 takes 6
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits) :]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp())


def _object_id(item: Mapping[str, Any]) -> str | None:
    value = item.get("id")
    return value if isinstance(value, str) and value else None


def user_events(item: Mapping[str, Any], *, tenant_id: str, now: int) -> tuple[Event, ...]:
    """Events for one entry of ``/users/delta`` (``$select=id,accountEnabled,
    signInSessionsValidFromDateTime,lastPasswordChangeDateTime``)."""
    oid = _object_id(item)
    if oid is None:
        return ()
    subject = SubjectKey.user(tenant_id, oid)
    if "@removed" in item:
        return (RevocationEvent(subject, now, "user_deleted", SOURCE),)
    events: list[Event] = []
    if item.get("accountEnabled") is False:
        events.append(RevocationEvent(subject, now, "user_disabled", SOURCE))
    sessions = parse_graph_time(item.get("signInSessionsValidFromDateTime"))
    if sessions is not None:
        events.append(RevocationEvent(subject, min(sessions, now), "sessions_revoked", SOURCE))
    password = parse_graph_time(item.get("lastPasswordChangeDateTime"))
    if password is not None:
        events.append(RevocationEvent(subject, min(password, now), "credential_change", SOURCE))
    return tuple(events)


def service_principal_events(
    item: Mapping[str, Any], *, tenant_id: str, now: int
) -> tuple[Event, ...]:
    """Events for one entry of ``/servicePrincipals/delta`` (``$select=id,appId,accountEnabled``).

    Tokens name the client by app id (``azp``/``appid``); a removed entry carries only the
    object id, which :meth:`TokenClaims.subject_keys` also indexes for app-only tokens.
    """
    oid = _object_id(item)
    if oid is None:
        return ()
    reason = None
    if "@removed" in item:
        reason = "sp_deleted"
    elif item.get("accountEnabled") is False:
        reason = "sp_disabled"
    if reason is None:
        return ()
    subjects = [SubjectKey.service_principal(tenant_id, oid)]
    app_id = item.get("appId")
    if isinstance(app_id, str) and app_id:
        subjects.append(SubjectKey.service_principal(tenant_id, app_id))
    return tuple(RevocationEvent(s, now, reason, SOURCE) for s in subjects)


def risky_principal_events(
    item: Mapping[str, Any],
    *,
    tenant_id: str,
    minimum: RiskLevel,
    service_principal: bool,
    now: int,
) -> tuple[Event, ...]:
    """A risk event for one ``riskyUser`` / ``riskyServicePrincipal``: its level when at or
    above ``minimum``, else ``none`` (remediated, dismissed, or below the bar)."""
    raw_level = item.get("riskLevel")
    level = _RISK.get(raw_level.lower()) if isinstance(raw_level, str) else None
    if level is None:
        return ()  # "hidden" or "unknownFutureValue": nothing we can act on
    if item.get("riskState") in ("remediated", "dismissed") or not level.at_least(minimum):
        level = RiskLevel.NONE
    at = parse_graph_time(item.get("riskLastUpdatedDateTime")) or now
    if service_principal:
        key_value = item.get("appId") or _object_id(item)
        if not isinstance(key_value, str) or not key_value:
            return ()
        subject = SubjectKey.service_principal(tenant_id, key_value)
        reason = "service_principal_risk"
    else:
        oid = _object_id(item)
        if oid is None:
            return ()
        subject = SubjectKey.user(tenant_id, oid)
        reason = "user_risk"
    return (RiskEvent(subject, level, at, reason, SOURCE),)


def location_event(items: Iterable[Mapping[str, Any]], *, now: int) -> LocationsEvent:
    """The IP named locations among Graph ``namedLocation`` objects (countries are skipped: CAE
    enforces IP-based named locations only; Microsoft Entra docs, "Continuous access
    evaluation")."""
    locations: list[NamedLocation] = []
    for item in items:
        if item.get("@odata.type") not in (None, "#microsoft.graph.ipNamedLocation"):
            continue
        if not item.get("ipRanges"):
            continue
        try:
            locations.append(NamedLocation.from_dict(item))
        except (KeyError, ValueError, TypeError):
            continue
    return LocationsEvent(tuple(locations), now, SOURCE)
