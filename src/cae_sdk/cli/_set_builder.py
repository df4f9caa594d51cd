"""Build and sign Security Event Tokens for ``cae events send`` (RFC 8417, SSF 1.0, CAEP, RISC).

:func:`build_set_claims` is pure (``iat`` and ``jti`` are arguments); :func:`sign_set` signs with a
PEM private key read by :func:`load_signing_key`. The dev identity provider is the real
transmitter; this is the tool for poking a receiver by hand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from ..core.errors import ConfigurationError
from ..core.secevents import CAEP, RISC, SET_TYP, SSF, set_claims

__all__ = [
    "EVENT_TYPES",
    "SigningKey",
    "build_set_claims",
    "load_signing_key",
    "parse_subject",
    "resolve_event_type",
    "sign_set",
]


def _short_names(*vocabularies: type) -> dict[str, str]:
    names: dict[str, str] = {}
    for vocabulary in vocabularies:
        for attribute, uri in vars(vocabulary).items():
            if not attribute.startswith("_") and isinstance(uri, str):
                names[uri.rsplit("/", 1)[-1]] = uri
    return names


EVENT_TYPES: Mapping[str, str] = _short_names(CAEP, RISC, SSF)
"""Short event names (``session-revoked``, ``account-disabled``...) to their URIs."""

_PRIVATE_KEY_BLOCK = re.compile(
    rb"-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----.+?-----END \1-----", re.DOTALL
)


@dataclass(frozen=True)
class SigningKey:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    algorithm: str


def resolve_event_type(name: str) -> str:
    """A short name or a full event-type URI; raises :class:`ConfigurationError` if unknown."""
    if name.startswith("https://"):
        return name
    uri = EVENT_TYPES.get(name.lower())
    if uri is None:
        raise ConfigurationError(
            f"unknown event type {name!r}; use a URI or one of: {', '.join(sorted(EVENT_TYPES))}"
        )
    return uri


def parse_subject(text: str) -> dict[str, Any]:
    """An RFC 9493 subject identifier from JSON, or a shorthand ``email:ADDRESS``,
    ``opaque:ID``, ``iss_sub:ISSUER|SUBJECT`` or ``tenant-user:TENANT|OBJECT_ID`` (a ``complex``
    subject with ``tenant`` and ``user`` members, as Entra-style transmitters send)."""
    text = text.strip()
    if text.startswith("{"):
        try:
            subject = json.loads(text)
        except ValueError as exc:
            raise ConfigurationError(f"subject is not valid JSON: {exc}") from None
        if not isinstance(subject, dict) or not isinstance(subject.get("format"), str):
            raise ConfigurationError("a subject identifier needs a 'format' (RFC 9493)")
        return subject
    kind, sep, value = text.partition(":")
    if not sep or not value:
        raise ConfigurationError(f"subject {text!r}: expected JSON or FORMAT:VALUE")
    if kind == "email":
        return {"format": "email", "email": value}
    if kind == "opaque":
        return {"format": "opaque", "id": value}
    first, bar, second = value.partition("|")
    if kind == "iss_sub" and bar and first and second:
        return {"format": "iss_sub", "iss": first, "sub": second}
    if kind == "tenant-user" and bar and first and second:
        return {
            "format": "complex",
            "tenant": {"format": "opaque", "id": first},
            "user": {"format": "opaque", "id": second},
        }
    raise ConfigurationError(f"subject {text!r}: unknown shorthand")


def build_set_claims(
    *,
    issuer: str,
    audience: str,
    event_type: str,
    subject: Mapping[str, Any],
    jti: str,
    iat: int,
    event: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The claims of a SET with one event (RFC 8417 section 2.2; SSF 1.0: ``sub_id``, no ``exp``).

    CAEP events get ``event_timestamp`` (CAEP 1.0 section 2) unless the caller set one.
    """
    if not issuer or not audience:
        raise ConfigurationError("a SET needs an issuer and an audience")
    body = dict(event or {})
    if event_type.startswith(CAEP.SESSION_REVOKED.rsplit("/", 1)[0]):
        body.setdefault("event_timestamp", iat)
    return set_claims(
        issuer=issuer,
        audience=audience,
        subject=subject,
        event_type=event_type,
        event=body,
        iat=iat,
        jti=jti,
    )


def load_signing_key(pem: bytes, password: bytes | None = None) -> SigningKey:
    """Read an RSA (RS256) or P-256 EC (ES256) private key from PEM text (a file holding a
    certificate and a key works too)."""
    match = _PRIVATE_KEY_BLOCK.search(pem)
    if match is None:
        raise ConfigurationError("no PEM private key found")
    try:
        key = load_pem_private_key(match.group(0), password=password)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"cannot read the private key: {exc}") from None
    if isinstance(key, rsa.RSAPrivateKey):
        return SigningKey(key, "RS256")
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return SigningKey(key, "ES256")
    raise ConfigurationError("the key must be RSA or EC P-256 (SETs are signed RS256 or ES256)")


def sign_set(claims: Mapping[str, Any], key: SigningKey, *, kid: str | None = None) -> str:
    """Compact JWS with ``typ: secevent+jwt`` (RFC 8417 section 2.3)."""
    headers: dict[str, Any] = {"typ": SET_TYP}
    if kid:
        headers["kid"] = kid
    return jwt.encode(dict(claims), key.key, algorithm=key.algorithm, headers=headers)
