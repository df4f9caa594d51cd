"""Compact JWS and JWKS, verified with ``cryptography`` directly: one verifier for bearer tokens
and Security Event Tokens.

Why not ``jwt.decode``: on the cold path PyJWT costs several times the bare RSA verify (its
base64 checks run in Python); splitting the three segments ourselves with strict rules keeps a
new token within about the cost of the signature check. Rules (RFC 7515 section 5.2, RFC 7518
section 3, RFC 8725 section 3.1):

* exactly three base64url segments without padding, header and payload JSON objects;
* ``alg`` from an allowlist of asymmetric algorithms: ``none`` and every ``HS*`` are refused
  before any key is touched, so a public key can never serve as an HMAC secret;
* the key type must fit the algorithm (RSA >= 2048 bits for RS/PS, P-256 for ES256); the fit is
  computed once per key when the JWKS is parsed (:attr:`JWK.algorithms`);
* a ``crit`` header is refused: we implement no extension (RFC 7515 section 4.1.11).

Pure: no network, no clock, no mutable module state. Every refusal is a :class:`JOSEError` with
a stable ``reason``; adapters map it to their own domain error.
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

from .errors import JOSEError

__all__ = [
    "JWK",
    "MALFORMED",
    "SUPPORTED_ALGORITHMS",
    "CompactJWS",
    "JOSEHeaderView",
    "JWKSet",
    "PublicKey",
    "b64url_decode",
    "check_header",
    "decode_compact",
    "decode_json_object",
    "decode_signature",
    "jwk_for_key",
    "key_algorithms",
    "parse_compact",
    "parse_jwks",
    "split_compact",
    "verify_signature",
]

MALFORMED = "malformed"
BAD_ALGORITHM = "bad_algorithm"
UNSUPPORTED_HEADER = "unsupported_header"
BAD_KEY = "bad_key"
BAD_SIGNATURE = "bad_signature"

SUPPORTED_ALGORITHMS = frozenset({"RS256", "PS256", "ES256"})
MIN_RSA_BITS = 2048

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

_RSA_ALGORITHMS = frozenset({"RS256", "PS256"})
_EC_ALGORITHMS = frozenset({"ES256"})
_NO_ALGORITHMS: frozenset[str] = frozenset()
_B64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_URL_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_SHA256 = hashes.SHA256()
_PKCS1 = padding.PKCS1v15()
# RFC 7518 section 3.5: PS256 uses MGF1 with SHA-256 and a salt as long as the hash.
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
_ECDSA = ec.ECDSA(hashes.SHA256())


def b64url_decode(segment: bytes) -> bytes:
    """Strict base64url without padding (RFC 7515 section 2): any other byte is refused (the
    stdlib decoder would silently skip it)."""
    if segment.translate(None, _B64URL) or len(segment) % 4 == 1:
        raise JOSEError(MALFORMED, "is not base64url")
    return binascii.a2b_base64(segment.translate(_URL_TO_STANDARD) + b"=" * (-len(segment) % 4))


def decode_json_object(segment: bytes, what: str) -> dict[str, Any]:
    """A base64url segment holding a JSON object (``what`` names it in the error)."""
    try:
        value = json.loads(b64url_decode(segment).decode("utf-8"))
    except (JOSEError, ValueError, RecursionError):
        raise JOSEError(MALFORMED, f"{what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise JOSEError(MALFORMED, f"{what} is not a JSON object")
    return value


def decode_signature(segment: bytes) -> bytes:
    """The signature segment, strict base64url."""
    try:
        return b64url_decode(segment)
    except JOSEError:
        raise JOSEError(MALFORMED, "signature is not base64url") from None


def split_compact(token: str, *, max_bytes: int) -> tuple[bytes, bytes, bytes]:
    """The three raw segments of a compact JWS (RFC 7515 section 7.1); decodes nothing."""
    if len(token) > max_bytes:
        raise JOSEError(MALFORMED, "is too long")
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise JOSEError(MALFORMED, "is not ASCII") from None
    parts = raw.split(b".")
    if len(parts) != 3:
        raise JOSEError(MALFORMED, "is not a compact JWS")
    return parts[0], parts[1], parts[2]


def check_header(header: Mapping[str, Any], algorithms: Collection[str]) -> str:
    """Check ``alg`` against ``algorithms`` (and the supported set) and refuse ``crit``;
    returns the algorithm."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms or alg not in SUPPORTED_ALGORITHMS:
        raise JOSEError(BAD_ALGORITHM, _algorithm_refusal(alg))
    if "crit" in header:
        raise JOSEError(UNSUPPORTED_HEADER, "critical header extensions are not supported")
    return alg


def _algorithm_refusal(alg: object) -> str:
    # RFC 8725 section 3.1/3.2: name the two classic attacks, so a log says what was tried.
    if isinstance(alg, str) and alg.lower() == "none":
        return "unsigned token (alg none) is never accepted"
    if isinstance(alg, str) and alg.upper().startswith("HS"):
        return f"symmetric algorithm {alg} is never accepted; an asymmetric signature is required"
    return f"algorithm {alg!r} is not accepted"


class JOSEHeaderView:
    """``alg``, ``kid`` and ``x5t`` of a decoded JOSE header (RFC 7515 section 4.1), for the
    value classes that carry one."""

    __slots__ = ()
    header: Mapping[str, Any]

    @property
    def alg(self) -> str:
        return str(self.header.get("alg"))

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None

    @property
    def x5t(self) -> str | None:
        x5t = self.header.get("x5t")
        return x5t if isinstance(x5t, str) else None


@dataclass(slots=True)  # not frozen: frozen __init__ costs a microsecond on the cold path
class CompactJWS(JOSEHeaderView):
    """A split compact JWS with its header decoded; payload and signature are decoded on
    demand, so a caller can check the signature before it looks at the payload."""

    header: Mapping[str, Any]
    signing_input: bytes
    payload_segment: bytes
    signature_segment: bytes

    def payload(self) -> dict[str, Any]:
        return decode_json_object(self.payload_segment, "payload")

    def signature(self) -> bytes:
        return decode_signature(self.signature_segment)


def parse_compact(
    token: str,
    *,
    max_bytes: int,
    algorithms: Collection[str] = SUPPORTED_ALGORITHMS,
) -> CompactJWS:
    """Split ``token``, decode its header and check ``alg`` and ``crit``. Verifies nothing."""
    compact = decode_compact(token, max_bytes=max_bytes)
    check_header(compact.header, algorithms)
    return compact


def decode_compact(token: str, *, max_bytes: int) -> CompactJWS:
    """Split ``token`` and decode its header without checking it, for callers whose header
    rules (and error codes) are their own, such as SETs (RFC 8417 section 2.3)."""
    header_segment, payload_segment, signature_segment = split_compact(token, max_bytes=max_bytes)
    header = decode_json_object(header_segment, "header")
    return CompactJWS(
        header, header_segment + b"." + payload_segment, payload_segment, signature_segment
    )


@dataclass(frozen=True, slots=True)
class JWK:
    """One public signing key and the algorithms it may verify."""

    key: PublicKey
    algorithms: frozenset[str]
    """RSA of 2048 bits or more: RS256/PS256; P-256: ES256; anything else: none (RFC 8725
    section 3.1: a header may not pair an algorithm with the wrong kind of key)."""
    kid: str | None = None
    x5t: str | None = None


def key_algorithms(key: object) -> frozenset[str]:
    """The algorithms ``key`` is fit for (RFC 8725 section 3.1)."""
    if isinstance(key, rsa.RSAPublicKey):
        return _RSA_ALGORITHMS if key.key_size >= MIN_RSA_BITS else _NO_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
        return _EC_ALGORITHMS
    return _NO_ALGORITHMS


def jwk_for_key(key: PublicKey, *, kid: str | None = None, x5t: str | None = None) -> JWK:
    return JWK(key, key_algorithms(key), kid, x5t)


def verify_signature(alg: str, signing_input: bytes, signature: bytes, jwk: JWK) -> None:
    """Verify ``signature`` over ``signing_input``; ``bad_key`` when the key does not fit
    ``alg``, ``bad_signature`` when the signature does not verify."""
    if alg not in jwk.algorithms:
        if alg not in SUPPORTED_ALGORITHMS:
            raise JOSEError(BAD_ALGORITHM, f"algorithm {alg!r} is not accepted")
        if alg in ("RS256", "PS256"):
            raise JOSEError(BAD_KEY, f"{alg} needs an RSA key of at least 2048 bits")
        raise JOSEError(BAD_KEY, f"{alg} needs a P-256 key")
    key = jwk.key
    try:
        if alg == "ES256":
            # RFC 7518 section 3.4: R || S, 32 bytes each.
            if len(signature) != 64:
                raise InvalidSignature
            r = int.from_bytes(signature[:32], "big")
            s = int.from_bytes(signature[32:], "big")
            cast(ec.EllipticCurvePublicKey, key).verify(
                encode_dss_signature(r, s), signing_input, _ECDSA
            )
        else:
            pad = _PKCS1 if alg == "RS256" else _PSS
            cast(rsa.RSAPublicKey, key).verify(signature, signing_input, pad, _SHA256)
    except InvalidSignature:
        raise JOSEError(BAD_SIGNATURE, "signature does not verify") from None


@dataclass(frozen=True, slots=True)
class JWKSet:
    """The usable signing keys of a JWKS document, by ``kid`` and by ``x5t``."""

    by_kid: Mapping[str, JWK]
    by_x5t: Mapping[str, JWK]

    def find(self, kid: str | None, x5t: str | None) -> JWK | None:
        if kid is not None:
            return self.by_kid.get(kid)
        if x5t is not None:
            return self.by_x5t.get(x5t)
        return None

    def __bool__(self) -> bool:
        return bool(self.by_kid or self.by_x5t)


def _b64_int(value: Any) -> int:
    if not isinstance(value, str):
        raise ValueError("JWK member is not a string")
    return int.from_bytes(b64url_decode(value.encode("ascii")), "big")


def _jwk_to_key(jwk: Mapping[str, Any]) -> PublicKey | None:
    kty = jwk.get("kty")
    if kty == "RSA":
        return rsa.RSAPublicNumbers(_b64_int(jwk["e"]), _b64_int(jwk["n"])).public_key()
    if kty == "EC" and jwk.get("crv") == "P-256":
        return ec.EllipticCurvePublicNumbers(
            _b64_int(jwk["x"]), _b64_int(jwk["y"]), ec.SECP256R1()
        ).public_key()
    return None  # other key types (oct, OKP) never verify a token here


def parse_jwks(document: Any) -> JWKSet:
    """Parse a JWKS document (RFC 7517 section 4, RFC 7518 section 6: ``RSA`` ``n``/``e``,
    ``EC`` P-256 ``x``/``y``). Keys marked ``use: enc``, of other types or malformed are
    skipped; the result may be empty. A document without a ``keys`` list is ``malformed``."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise JOSEError(MALFORMED, "JWKS has no 'keys' list")
    by_kid: dict[str, JWK] = {}
    by_x5t: dict[str, JWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = _jwk_to_key(entry)
        except (KeyError, ValueError, TypeError, UnicodeEncodeError):
            continue  # JOSEError is a ValueError
        if key is None:
            continue
        kid = entry.get("kid")
        x5t = entry.get("x5t")
        jwk = jwk_for_key(
            key,
            kid=kid if isinstance(kid, str) else None,
            x5t=x5t if isinstance(x5t, str) else None,
        )
        if jwk.kid is not None:
            by_kid[jwk.kid] = jwk
        if jwk.x5t is not None:
            by_x5t[jwk.x5t] = jwk
    return JWKSet(by_kid, by_x5t)
