"""SSF 1.0 stream configuration (section 8.1.1), status and subject filters, validated purely.

Invalid input raises :class:`StreamError`, which the HTTP layer turns into an RFC-style JSON
error (``{"err", "description"}``) with the status SSF 1.0 section 8.1.1 prescribes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from ...core.errors import CAEError
from ...core.secevents import CAEP, DELIVERY_POLL, DELIVERY_PUSH, RISC

__all__ = [
    "EVENTS_SUPPORTED",
    "Stream",
    "StreamError",
    "apply_stream_update",
    "subject_matches",
]

EVENTS_SUPPORTED = (
    CAEP.SESSION_REVOKED,
    CAEP.CREDENTIAL_CHANGE,
    CAEP.RISK_LEVEL_CHANGE,
    RISC.ACCOUNT_DISABLED,
    RISC.ACCOUNT_ENABLED,
    RISC.ACCOUNT_PURGED,
)
STATUSES = ("enabled", "paused", "disabled")
_READ_ONLY = {
    "stream_id",
    "iss",
    "events_supported",
    "events_delivered",
    "min_verification_interval",
}
MAX_QUEUED = 10_000
MAX_OUTCOMES = 1_000


class StreamError(CAEError):
    """A refused SSF call: HTTP ``status`` and the ``{"err", "description"}`` body."""

    def __init__(self, status: int, err: str, description: str) -> None:
        super().__init__(description)
        self.status, self.err, self.description = status, err, description


@dataclass
class Stream:
    stream_id: str
    owner: str  # azp of the token that created it
    issuer: str
    audience: str | list[str]
    delivery_method: str
    endpoint_url: str
    authorization_header: str | None = None
    events_requested: list[str] = field(default_factory=list)
    description: str | None = None
    status: str = "enabled"
    status_reason: str | None = None
    excluded_subjects: list[dict[str, Any]] = field(default_factory=list)
    # Poll delivery (RFC 8936): SETs available until acknowledged, keyed by jti.
    available: OrderedDict[str, str] = field(default_factory=OrderedDict)
    arrived: asyncio.Event | None = None
    # Outcome of recent deliveries: jti -> "delivered" | error code (push answers, poll
    # acknowledgements and setErrs), the newest MAX_OUTCOMES kept.
    outcomes: OrderedDict[str, str] = field(default_factory=OrderedDict)

    def record(self, jti: str, outcome: str) -> None:
        self.outcomes[jti] = outcome
        while len(self.outcomes) > MAX_OUTCOMES:
            self.outcomes.popitem(last=False)

    @property
    def events_delivered(self) -> list[str]:
        return [e for e in self.events_requested if e in EVENTS_SUPPORTED]

    def configuration(self) -> dict[str, Any]:
        delivery: dict[str, Any] = {
            "method": self.delivery_method,
            "endpoint_url": self.endpoint_url,
        }
        return {
            "stream_id": self.stream_id,
            "iss": self.issuer,
            "aud": self.audience,
            "delivery": delivery,
            "events_supported": list(EVENTS_SUPPORTED),
            "events_requested": list(self.events_requested),
            "events_delivered": self.events_delivered,
            "min_verification_interval": 0,
            **({"description": self.description} if self.description else {}),
        }

    def status_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"stream_id": self.stream_id, "status": self.status}
        if self.status_reason:
            body["reason"] = self.status_reason
        return body


def _str_list(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StreamError(400, "invalid_request", f"{name} must be an array of strings")
    return list(value)


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _delivery(
    body: dict[str, Any], poll_url: str, allow_remote_push: bool
) -> tuple[str, str, str | None]:
    delivery = body.get("delivery", {"method": DELIVERY_POLL})
    if not isinstance(delivery, dict):
        raise StreamError(400, "invalid_request", "delivery must be an object")
    method = delivery.get("method")
    if method == DELIVERY_POLL:
        return method, poll_url, None
    if method != DELIVERY_PUSH:
        raise StreamError(
            400, "invalid_request", "delivery method must be urn:ietf:rfc:8935 or 8936"
        )
    url = delivery.get("endpoint_url")
    parsed = urlparse(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise StreamError(400, "invalid_request", "push delivery needs an http(s) endpoint_url")
    if not allow_remote_push and not _is_loopback(parsed.hostname):
        # The provider stays on loopback unless told otherwise (ssf_allow_remote_push).
        raise StreamError(400, "invalid_request", "push endpoint_url must be a loopback address")
    auth = delivery.get("authorization_header")
    if auth is not None and (not isinstance(auth, str) or "\n" in auth or "\r" in auth):
        raise StreamError(400, "invalid_request", "authorization_header must be a header value")
    return method, str(url), auth


def new_stream(
    body: dict[str, Any],
    *,
    owner: str,
    issuer: str,
    poll_base: str,
    allow_remote_push: bool = False,
) -> Stream:
    """Create a stream from a receiver's POST body (SSF 1.0 section 8.1.1.1)."""
    stream_id = uuid.uuid4().hex
    stream = Stream(
        stream_id=stream_id,
        owner=owner,
        issuer=issuer,
        audience=owner,
        delivery_method=DELIVERY_POLL,
        endpoint_url=f"{poll_base}/{stream_id}",
    )
    apply_stream_update(
        stream, body, poll_base=poll_base, replace=True, allow_remote_push=allow_remote_push
    )
    return stream


def apply_stream_update(
    stream: Stream,
    body: dict[str, Any],
    *,
    poll_base: str,
    replace: bool,
    allow_remote_push: bool = False,
) -> None:
    """PATCH (``replace=False``) or PUT (``replace=True``) semantics of SSF 1.0 8.1.1.3/8.1.1.4.

    Read-only members may be sent back unchanged; a different value is a 400.
    """
    current = stream.configuration()
    for name in _READ_ONLY & body.keys():
        if body[name] != current.get(name):
            raise StreamError(400, "invalid_request", f"{name} is read-only")
    if replace or "events_requested" in body:
        stream.events_requested = _str_list(body.get("events_requested", []), "events_requested")
    if replace or "delivery" in body:
        method, url, auth = _delivery(body, f"{poll_base}/{stream.stream_id}", allow_remote_push)
        stream.delivery_method, stream.endpoint_url, stream.authorization_header = method, url, auth
    if replace or "description" in body:
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise StreamError(400, "invalid_request", "description must be a string")
        stream.description = description
    if "aud" in body:
        aud = body["aud"]
        if isinstance(aud, str) and aud:
            stream.audience = aud
        elif isinstance(aud, list) and aud:
            stream.audience = _str_list(aud, "aud")
        else:
            raise StreamError(400, "invalid_request", "aud must be a string or array of strings")


def _canonical(subject: Any) -> str:
    return json.dumps(subject, sort_keys=True, separators=(",", ":"))


def subject_matches(candidate: dict[str, Any], subject: dict[str, Any], email: str | None) -> bool:
    """Whether a subject filter (from add/remove subject) names the event's subject: the whole
    complex subject, one of its members (user, application, tenant), or the user's email."""
    wanted = _canonical(candidate)
    if wanted == _canonical(subject):
        return True
    members = [v for k, v in subject.items() if k != "format" and isinstance(v, dict)]
    if any(wanted == _canonical(m) for m in members):
        return True
    return bool(
        email
        and candidate.get("format") == "email"
        and str(candidate.get("email", "")).lower() == email.lower()
    )


def validate_subject(body: dict[str, Any]) -> dict[str, Any]:
    subject = body.get("subject")
    if not isinstance(subject, dict) or not isinstance(subject.get("format"), str):
        raise StreamError(400, "invalid_request", "subject must be an RFC 9493 subject identifier")
    return subject
