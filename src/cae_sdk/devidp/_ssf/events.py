"""Security Event Tokens for directory actions, as pure functions of the action and ``now``.

SETs follow RFC 8417 (``typ: secevent+jwt``; ``iss``, ``iat``, ``jti``, ``aud``, exactly one
event, no ``exp`` and no ``sub``) with the SSF 1.0 top-level ``sub_id`` (RFC 9493).

Subject identifiers (what a receiver maps to ``SubjectKey``): always ``complex`` with a
``tenant`` member ``{"format": "opaque", "id": <tid>}`` and either
``user: {"format": "opaque", "id": <user object id>}`` or
``application: {"format": "opaque", "id": <application (client) id>}`` - the app id is what
tokens carry in ``azp`` / ``appid``. Control events use ``{"format": "opaque", "id":
<stream id>}`` (SSF 1.0 section 8.1.4.2).
"""

from __future__ import annotations

from typing import Any

from ...core.secevents import CAEP, RISC, SSF
from .._directory import SecurityAction

__all__ = ["event_for", "subject_for", "verification_event"]

# CAEP 1.0 section 3.8: risk levels are LOW / MEDIUM / HIGH; "none" (risk dismissed) has no
# value of its own, LOW is the closest.
_CAEP_RISK = {"none": "LOW", "low": "LOW", "medium": "MEDIUM", "high": "HIGH"}


def subject_for(action: SecurityAction) -> dict[str, Any]:
    """RFC 9493 ``complex`` subject naming the user or application and the tenant."""
    subject: dict[str, Any] = {
        "format": "complex",
        "tenant": {"format": "opaque", "id": action.tenant_id},
    }
    if action.subject_type == "user":
        subject["user"] = {"format": "opaque", "id": action.object_id}
    else:
        subject["application"] = {"format": "opaque", "id": action.app_id or action.object_id}
    return subject


def event_for(action: SecurityAction) -> tuple[str, dict[str, Any]] | None:
    """The event type URI and payload for an action, or ``None`` if it is not signalled."""
    common: dict[str, Any] = {"event_timestamp": int(action.at), "initiating_entity": "admin"}
    if action.action == "sessions-revoked":
        return CAEP.SESSION_REVOKED, {**common, "reason_admin": {"en": "Sessions revoked"}}
    if action.action == "password-reset":
        return CAEP.CREDENTIAL_CHANGE, {
            **common,
            "credential_type": "password",
            "change_type": "update",
        }
    if action.action in ("mfa-registered", "mfa-removed"):
        return CAEP.CREDENTIAL_CHANGE, {
            **common,
            "credential_type": "app",  # an authenticator app as the second factor
            "change_type": "create" if action.action == "mfa-registered" else "delete",
        }
    if action.action == "disabled":
        return RISC.ACCOUNT_DISABLED, common
    if action.action == "enabled":
        return RISC.ACCOUNT_ENABLED, common
    if action.action == "deleted":
        return RISC.ACCOUNT_PURGED, common
    if action.action == "risk-changed":
        payload = {
            **common,
            "initiating_entity": "system",
            # CAEP's principals are "human or robotic users": a workload identity is USER too.
            "principal": "USER",
            "current_level": _CAEP_RISK.get(action.risk_level or "none", "LOW"),
        }
        if action.previous_risk_level:
            payload["previous_level"] = _CAEP_RISK.get(action.previous_risk_level, "LOW")
        return CAEP.RISK_LEVEL_CHANGE, payload
    return None


def verification_event(
    stream_id: str, state: str | None
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Subject, type and payload of the SSF verification event (SSF 1.0 section 8.1.4)."""
    payload: dict[str, Any] = {} if state is None else {"state": state}
    return {"format": "opaque", "id": stream_id}, SSF.VERIFICATION, payload
