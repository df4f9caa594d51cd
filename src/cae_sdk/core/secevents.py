"""Shared Signals vocabulary: Security Event Token (RFC 8417) and SSF 1.0 / CAEP 1.0 / RISC 1.0
identifiers, shared by the transmitter (dev identity provider) and the receivers (events)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigurationError

__all__ = [
    "CAEP",
    "DELIVERY_POLL",
    "DELIVERY_PUSH",
    "RISC",
    "SECEVENT_CONTENT_TYPE",
    "SET_TYP",
    "SSF",
    "SSF_CONFIGURATION_PATH",
    "set_claims",
    "ssf_configuration_url",
]

SET_TYP = "secevent+jwt"
"""The ``typ`` header of a Security Event Token (RFC 8417 section 2.3)."""
SECEVENT_CONTENT_TYPE = "application/secevent+jwt"
"""The media type of a pushed SET (RFC 8935 section 2)."""
DELIVERY_PUSH = "urn:ietf:rfc:8935"
"""The delivery method URI of push delivery (RFC 8935), as SSF 1.0 streams name it."""
DELIVERY_POLL = "urn:ietf:rfc:8936"
"""The delivery method URI of poll delivery (RFC 8936), as SSF 1.0 streams name it."""
SSF_CONFIGURATION_PATH = "/.well-known/ssf-configuration"
"""Where a transmitter publishes its configuration metadata (SSF 1.0 section 7.2)."""

_CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
_RISC = "https://schemas.openid.net/secevent/risc/event-type/"
_SSF = "https://schemas.openid.net/secevent/ssf/event-type/"


class CAEP:
    """Event type URIs of OpenID Continuous Access Evaluation Profile (CAEP) 1.0."""

    SESSION_REVOKED = _CAEP + "session-revoked"
    TOKEN_CLAIMS_CHANGE = _CAEP + "token-claims-change"
    CREDENTIAL_CHANGE = _CAEP + "credential-change"
    ASSURANCE_LEVEL_CHANGE = _CAEP + "assurance-level-change"
    DEVICE_COMPLIANCE_CHANGE = _CAEP + "device-compliance-change"
    SESSION_ESTABLISHED = _CAEP + "session-established"
    SESSION_PRESENTED = _CAEP + "session-presented"
    RISK_LEVEL_CHANGE = _CAEP + "risk-level-change"


class RISC:
    """Event type URIs of the OpenID RISC Profile Specification 1.0."""

    ACCOUNT_DISABLED = _RISC + "account-disabled"
    ACCOUNT_ENABLED = _RISC + "account-enabled"
    ACCOUNT_PURGED = _RISC + "account-purged"
    CREDENTIAL_COMPROMISE = _RISC + "credential-compromise"
    ACCOUNT_CREDENTIAL_CHANGE_REQUIRED = _RISC + "account-credential-change-required"
    IDENTIFIER_CHANGED = _RISC + "identifier-changed"
    SESSIONS_REVOKED = _RISC + "sessions-revoked"  # deprecated in RISC 1.0, still received


class SSF:
    """Control event type URIs of OpenID Shared Signals Framework (SSF) 1.0: verification and
    stream-updated."""

    VERIFICATION = _SSF + "verification"
    STREAM_UPDATED = _SSF + "stream-updated"


def ssf_configuration_url(issuer: str) -> str:
    """Where a transmitter publishes its configuration metadata: SSF 1.0 "Obtaining Transmitter
    Configuration Metadata" inserts ``/.well-known/ssf-configuration`` between the issuer's host
    and its path (RFC 8615), so ``https://idp.example/ssf`` serves it at
    ``https://idp.example/.well-known/ssf-configuration/ssf``. A relative issuer is a
    :class:`ConfigurationError` (a ``ValueError``)."""
    parts = urlsplit(issuer)
    if not parts.scheme or not parts.netloc:
        raise ConfigurationError(f"transmitter issuer must be an absolute URL, got {issuer!r}")
    path = SSF_CONFIGURATION_PATH + parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def set_claims(
    *,
    issuer: str,
    audience: str | list[str],
    subject: Mapping[str, Any],
    event_type: str,
    event: Mapping[str, Any],
    iat: int,
    jti: str,
) -> dict[str, Any]:
    """The claims of a Security Event Token carrying one event: RFC 8417 section 2.2 with the
    SSF 1.0 profile (``sub_id`` at the top level, exactly one event, no ``exp``, no ``sub``).
    ``iat`` and ``jti`` are arguments: this module has no clock and no randomness."""
    return {
        "iss": issuer,
        "aud": audience,
        "iat": int(iat),
        "jti": jti,
        "sub_id": dict(subject),
        "events": {event_type: dict(event)},
    }
