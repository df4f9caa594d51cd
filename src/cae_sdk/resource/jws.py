"""Compact JWS parsing and signature verification with ``cryptography`` directly.

Why not ``jwt.decode``: on the cold path PyJWT costs several times the bare RSA verify; parsing
the three segments ourselves with strict rules keeps a new token within about the cost of the
signature check. Rules (RFC 7515 section 5.2, RFC 7518 section 3, RFC 8725 section 3.1):

* exactly three base64url segments without padding, header and payload JSON objects;
* ``alg`` from an allowlist of asymmetric algorithms: ``none`` and every ``HS*`` are refused
  before any key is touched, so a public key can never serve as an HMAC secret;
* the key type must fit the algorithm (RSA >= 2048 bits for RS/PS, P-256 for ES256);
* a ``crit`` header is refused: we implement no extension (RFC 7515 section 4.1.11).
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ..core.errors import TokenValidationError

__all__ = ["SUPPORTED_ALGORITHMS", "ParsedToken", "PublicKey", "parse_token", "verify_signature"]

SUPPORTED_ALGORITHMS = frozenset({"RS256", "PS256", "ES256"})
MAX_TOKEN_BYTES = 16 * 1024
MIN_RSA_BITS = 2048

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

_B64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_URL_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_SHA256 = hashes.SHA256()
_PKCS1 = padding.PKCS1v15()
# RFC 7518 section 3.5: PS256 uses MGF1 with SHA-256 and a salt as long as the hash.
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
_ECDSA = ec.ECDSA(hashes.SHA256())


@dataclass(slots=True)  # not frozen: frozen __init__ costs a microsecond on the cold path
class ParsedToken:
    header: Mapping[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        return str(self.header["alg"])

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None

    @property
    def x5t(self) -> str | None:
        x5t = self.header.get("x5t")
        return x5t if isinstance(x5t, str) else None


def b64url_decode(segment: bytes) -> bytes:
    """Strict base64url without padding (RFC 7515 section 2): any other byte is refused."""
    if segment.translate(None, _B64URL) or len(segment) % 4 == 1:
        raise binascii.Error("not base64url")
    return binascii.a2b_base64(segment.translate(_URL_TO_STANDARD) + b"=" * (-len(segment) % 4))


def _json_object(segment: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(segment).decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError):
        raise TokenValidationError(
            "malformed_token", f"token {what} is not base64url JSON"
        ) from None
    if not isinstance(value, dict):
        raise TokenValidationError("malformed_token", f"token {what} is not a JSON object")
    return value


_HEADER_CACHE: dict[tuple[bytes, frozenset[str]], Mapping[str, Any]] = {}
_HEADER_CACHE_MAX = 256


def _checked_header(segment: bytes, algorithms: Collection[str]) -> Mapping[str, Any]:
    """Decode and check a header; headers repeat across tokens of one issuer (same ``alg`` and
    ``kid``), so accepted ones are memoised by their exact bytes."""
    allowed = algorithms if isinstance(algorithms, frozenset) else frozenset(algorithms)
    cache_key = (segment, allowed)
    header = _HEADER_CACHE.get(cache_key)
    if header is not None:
        return header
    decoded = _json_object(segment, "header")
    alg = decoded.get("alg")
    if not isinstance(alg, str) or alg not in allowed or alg not in SUPPORTED_ALGORITHMS:
        raise TokenValidationError("bad_algorithm", f"algorithm {alg!r} is not accepted")
    if "crit" in decoded:
        raise TokenValidationError(
            "malformed_token", "critical header extensions are not supported"
        )
    if len(_HEADER_CACHE) >= _HEADER_CACHE_MAX:
        _HEADER_CACHE.clear()
    _HEADER_CACHE[cache_key] = decoded
    return decoded


def parse_token(token: str, algorithms: Collection[str] = SUPPORTED_ALGORITHMS) -> ParsedToken:
    """Split and decode a compact JWS; check ``alg`` and ``crit``. Verifies nothing else."""
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise TokenValidationError("malformed_token", "token is not ASCII") from None
    if len(raw) > MAX_TOKEN_BYTES:
        raise TokenValidationError("malformed_token", "token is too long")
    parts = raw.split(b".")
    if len(parts) != 3:
        raise TokenValidationError("malformed_token", "token is not a compact JWS")
    header = _checked_header(parts[0], algorithms)
    payload = _json_object(parts[1], "payload")
    try:
        signature = b64url_decode(parts[2])
    except (binascii.Error, ValueError):
        raise TokenValidationError("malformed_token", "token signature is not base64url") from None
    return ParsedToken(header, payload, parts[0] + b"." + parts[1], signature)


_KEY_FAMILY: dict[type, str] = {}


def _family(key: PublicKey) -> str:
    """``"RSA"`` or ``"EC"``, memoised per concrete class (ABC ``isinstance`` checks are slow
    enough to show on the cold path)."""
    family = _KEY_FAMILY.get(type(key))
    if family is None:
        family = "RSA" if isinstance(key, rsa.RSAPublicKey) else "EC"
        if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
            family = "other"
        _KEY_FAMILY[type(key)] = family
    return family


def check_key_fits(alg: str, key: PublicKey) -> str:
    """Refuse a key whose type or size does not fit ``alg`` (RFC 8725 section 3.1); returns the
    key family."""
    family = _family(key)
    if alg in ("RS256", "PS256"):
        if family != "RSA" or cast(rsa.RSAPublicKey, key).key_size < MIN_RSA_BITS:
            raise TokenValidationError("bad_key", f"{alg} needs an RSA key of at least 2048 bits")
    elif family != "EC" or cast(ec.EllipticCurvePublicKey, key).curve.name != "secp256r1":
        raise TokenValidationError("bad_key", "ES256 needs a P-256 key")
    return family


def verify_signature(token: ParsedToken, key: PublicKey) -> None:
    """Verify the signature; raises ``TokenValidationError("bad_signature")``."""
    alg = token.alg
    family = check_key_fits(alg, key)
    try:
        if family == "RSA":
            pad = _PKCS1 if alg == "RS256" else _PSS
            cast(rsa.RSAPublicKey, key).verify(token.signature, token.signing_input, pad, _SHA256)
        else:
            # RFC 7518 section 3.4: R || S, 32 bytes each.
            if len(token.signature) != 64:
                raise InvalidSignature
            r = int.from_bytes(token.signature[:32], "big")
            s = int.from_bytes(token.signature[32:], "big")
            cast(ec.EllipticCurvePublicKey, key).verify(
                encode_dss_signature(r, s), token.signing_input, _ECDSA
            )
    except InvalidSignature:
        raise TokenValidationError("bad_signature", "token signature does not verify") from None
