"""Token signing keys with rotation and an overlap window.

Entra publishes several keys in its JWKS and signs with one of them; after a rotation the old key
stays published so tokens it signed keep validating until they expire. ``KeyRing`` does the same:
``rotate(now)`` makes a new key current and keeps the previous ones in the JWKS until
``now + overlap``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["KeyRing", "SigningKey"]

ALGORITHM = "RS256"


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass
class SigningKey:
    """An RSA key pair with its ``kid`` (RFC 7638 thumbprint) and, once retired, its end."""

    private_key: rsa.RSAPrivateKey
    kid: str
    retired_until: float | None = None

    @classmethod
    def generate(cls) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = key.public_key().public_numbers()
        # RFC 7638 section 3: thumbprint over the required members in lexicographic order.
        canonical = json.dumps(
            {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)},
            separators=(",", ":"),
            sort_keys=True,
        )
        digest = hashlib.sha256(canonical.encode("ascii")).digest()
        kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")[:27]
        return cls(private_key=key, kid=kid)

    def public_jwk(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": ALGORITHM,
            "kid": self.kid,
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
        }


@dataclass
class KeyRing:
    """The current signing key plus retired keys still inside their overlap window."""

    current: SigningKey = field(default_factory=SigningKey.generate)
    retired: list[SigningKey] = field(default_factory=list)

    def rotate(self, now: float, overlap_seconds: float) -> SigningKey:
        """Make a fresh key current; the old one stays published until ``now + overlap``."""
        old = self.current
        old.retired_until = now + overlap_seconds
        self.retired.append(old)
        self.current = SigningKey.generate()
        return self.current

    def published(self, now: float) -> list[SigningKey]:
        """Keys a verifier may still meet: the current one and retired ones not yet expired."""
        self.retired = [k for k in self.retired if (k.retired_until or 0) > now]
        return [self.current, *self.retired]

    def jwks(self, now: float) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.published(now)]}

    def sign(self, claims: Mapping[str, Any], *, typ: str = "JWT") -> str:
        headers = {"typ": typ, "kid": self.current.kid}
        return jwt.encode(
            dict(claims), self.current.private_key, algorithm=ALGORITHM, headers=headers
        )

    def verify(self, token: str, now: float, **options: Any) -> dict[str, Any]:
        """Verify a token this ring signed (used for refresh tokens and Graph/SSF bearers).

        Raises :class:`jwt.InvalidTokenError` on any failure.
        """
        header = jwt.get_unverified_header(token)
        for key in self.published(now):
            if key.kid == header.get("kid"):
                return jwt.decode(
                    token, key.private_key.public_key(), algorithms=[ALGORITHM], **options
                )
        raise jwt.InvalidTokenError("unknown signing key")
