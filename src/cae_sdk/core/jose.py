"""Compact JWS and JWKS, verified with ``cryptography`` directly: one verifier for bearer tokens
and Security Event Tokens.

Why not ``jwt.decode``: on the cold path PyJWT costs several times the bare RSA verify (its
base64 checks run in Python); splitting the three segments ourselves with strict rules keeps a
new token within about the cost of the signature check. Rules (RFC 7515 section 5.2, RFC 7518
section 3, RFC 8725 section 3.1):

* exactly three base64url segments without padding, header and payload JSON objects;
* ``alg`` from an allowlist of asymmetric algorithms: ``none`` and every ``HS*`` are refused
  before any key is touched, so a public key can never serve as an HMAC secret;
* the key type must fit the algorithm (RSA >= 2048 bits for RS/PS, P-256 for ES256), and a JWK
  that names its ``alg`` verifies that algorithm only (RFC 8725 section 3.1, RFC 7517 section
  4.4); the fit is computed once per key when the JWKS is parsed (:attr:`JWK.algorithms`);
* a JWK whose ``use`` is not ``sig`` or whose ``key_ops`` lacks ``verify`` never verifies a
  signature (RFC 7517 sections 4.2 and 4.3);
* a ``crit`` header is refused: we implement no extension (RFC 7515 section 4.1.11).

Pure: no network, no clock, no mutable module state. Every refusal is a :class:`JOSEError` with
a stable ``reason``; adapters map it to their own domain error.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .errors import ConfigurationError, JOSEError

__all__ = [
    "JWK",
    "MALFORMED",
    "SUPPORTED_ALGORITHMS",
    "CompactJWS",
    "InvalidJWKS",
    "JOSEHeaderView",
    "JWKSet",
    "PublicKey",
    "b64url_decode",
    "check_header",
    "decode_compact",
    "decode_json_object",
    "decode_signature",
    "jwk_for_key",
    "jwk_thumbprint",
    "key_algorithms",
    "parse_compact",
    "parse_jwks",
    "split_compact",
    "verify_signature",
]

MALFORMED = "malformed"
"""The :class:`~cae_sdk.errors.JOSEError` reason for input that is not a well-formed compact
JWS or JWKS."""
BAD_ALGORITHM = "bad_algorithm"
UNSUPPORTED_HEADER = "unsupported_header"
BAD_KEY = "bad_key"
BAD_SIGNATURE = "bad_signature"

SUPPORTED_ALGORITHMS = frozenset({"RS256", "PS256", "ES256"})
"""The signature algorithms the verifier accepts: RS256, PS256 and ES256 (RFC 7518 section 3)."""
MIN_RSA_BITS = 2048

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
"""A public key the verifier can use: RSA (at least 2048 bits) or an elliptic curve key."""


class InvalidJWKS(JOSEError, ConfigurationError):
    """A JWKS document without a ``keys`` list or without a usable signing key (``malformed``).
    Also a :class:`ConfigurationError`: pinned keys that cannot verify anything are a setup
    mistake."""

    def __init__(self, description: str) -> None:
        JOSEError.__init__(self, MALFORMED, description)


_RSA_ALGORITHMS = frozenset({"RS256", "PS256"})
_EC_ALGORITHMS = frozenset({"ES256"})
_NO_ALGORITHMS: frozenset[str] = frozenset()
_B64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_URL_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_STANDARD_TO_URL = bytes.maketrans(b"+/", b"-_")
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


# The stdlib's own C scanner, called without ``json.loads``'s per-call wrapper (its whitespace
# regex runs twice per call: a tenth of a SET's JSON time). Text the scanner does not take whole
# (surrounding whitespace, trailing data, a BOM, any error) goes through ``json.loads`` itself,
# so every result and every refusal is exactly ``json.loads``'s. Stateless between calls, as
# ``json``'s own default decoder is.
_Scanner = Callable[[str, int], tuple[Any, int]]
_SCAN_JSON: _Scanner = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _json_loads(text: str) -> Any:
    try:
        value, end = _SCAN_JSON(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def decode_json_object(segment: bytes, what: str) -> dict[str, Any]:
    """A base64url segment holding a JSON object (``what`` names it in the error)."""
    try:
        value = _json_loads(b64url_decode(segment).decode("utf-8"))
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


@dataclass(frozen=True, slots=True, eq=False)
class JWK:
    """One public signing key and the algorithms it may verify."""

    key: PublicKey
    algorithms: frozenset[str]
    """RSA of 2048 bits or more: RS256/PS256; P-256: ES256; anything else: none (RFC 8725
    section 3.1: a header may not pair an algorithm with the wrong kind of key). A JWK that
    names its ``alg`` allows that one algorithm only."""
    kid: str | None = None
    x5t: str | None = None
    thumbprint: str = ""
    """RFC 7638 JWK thumbprint (SHA-256) of the key material: the key's identity across
    refreshes, whatever ``kid`` it is published under."""


def key_algorithms(key: object) -> frozenset[str]:
    """The algorithms ``key`` is fit for (RFC 8725 section 3.1)."""
    if isinstance(key, rsa.RSAPublicKey):
        return _RSA_ALGORITHMS if key.key_size >= MIN_RSA_BITS else _NO_ALGORITHMS
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
        return _EC_ALGORITHMS
    return _NO_ALGORITHMS


def _b64url(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).rstrip(b"=").translate(_STANDARD_TO_URL).decode()


def _uint(value: int, size: int | None = None) -> str:
    return _b64url(value.to_bytes(size or max(1, (value.bit_length() + 7) // 8), "big"))


def jwk_thumbprint(key: PublicKey) -> str:
    """RFC 7638 section 3: SHA-256 over the required members in lexicographic order, without
    whitespace; members are built from the key numbers (RFC 7518 sections 6.2.1 and 6.3.1:
    minimal unsigned ``n``/``e``, fixed-length ``x``/``y``), so encodings of one key agree."""
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        members = f'{{"e":"{_uint(numbers.e)}","kty":"RSA","n":"{_uint(numbers.n)}"}}'
    else:
        ec_numbers = key.public_numbers()
        size = (key.curve.key_size + 7) // 8
        x, y = _uint(ec_numbers.x, size), _uint(ec_numbers.y, size)
        members = f'{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}'
    return _b64url(hashlib.sha256(members.encode("ascii")).digest())


def jwk_for_key(
    key: PublicKey,
    *,
    kid: str | None = None,
    x5t: str | None = None,
    alg: str | None = None,
) -> JWK:
    """A :class:`JWK` for ``key``; ``alg`` (the JWK's own ``alg`` member) narrows the
    algorithms to that one (RFC 8725 section 3.1)."""
    algorithms = key_algorithms(key)
    if alg is not None:
        algorithms = algorithms & {alg}
    return JWK(key, algorithms, kid, x5t, jwk_thumbprint(key))


def verify_signature(alg: str, signing_input: bytes, signature: bytes, jwk: JWK) -> None:
    """Verify ``signature`` over ``signing_input``; ``bad_key`` when the key does not fit
    ``alg``, ``bad_signature`` when the signature does not verify."""
    if alg not in jwk.algorithms:
        if alg not in SUPPORTED_ALGORITHMS:
            raise JOSEError(BAD_ALGORITHM, f"algorithm {alg!r} is not accepted")
        if alg in key_algorithms(jwk.key):
            # The JWK names another algorithm (RFC 8725 section 3.1: honour the key's alg).
            allowed = ", ".join(sorted(jwk.algorithms)) or "no algorithm"
            raise JOSEError(BAD_KEY, f"key allows {allowed}, not {alg}")
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


class JWKSet(Mapping[str, JWK]):
    """The usable signing keys of a JWKS document: a mapping by ``kid``, with lookups by
    ``x5t`` and by RFC 7638 thumbprint.

    Immutable; a refresh builds a new set. ``thumbprints`` answers in O(1) whether a key is
    still published, so a cached verdict can die with its key (a withdrawn key ends every
    token it signed at the next refresh).
    """

    __slots__ = ("by_kid", "by_thumbprint", "by_x5t", "thumbprints")

    def __init__(
        self, by_kid: Mapping[str, JWK], by_x5t: Mapping[str, JWK], others: Collection[JWK] = ()
    ) -> None:
        self.by_kid = by_kid
        self.by_x5t = by_x5t
        self.by_thumbprint = {
            k.thumbprint: k for k in (*by_kid.values(), *by_x5t.values(), *others)
        }
        self.thumbprints = frozenset(self.by_thumbprint)

    def find(self, kid: str | None, x5t: str | None) -> JWK | None:
        if kid is not None:
            return self.by_kid.get(kid)
        if x5t is not None:
            return self.by_x5t.get(x5t)
        return None

    def only_key(self) -> JWK | None:
        """The one key of a set that holds exactly one (a header naming no key may use it)."""
        if len(self.by_thumbprint) == 1:
            return next(iter(self.by_thumbprint.values()))
        return None

    def __getitem__(self, kid: str) -> JWK:
        return self.by_kid[kid]

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_kid)

    def __len__(self) -> int:
        return len(self.by_kid)

    def __bool__(self) -> bool:
        return bool(self.by_thumbprint)

    def __repr__(self) -> str:
        return f"JWKSet(kids={sorted(self.by_kid)!r}, keys={len(self.by_thumbprint)})"


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


def _optional_str(entry: Mapping[str, Any], name: str) -> str | None:
    value = entry.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"JWK member {name!r} is not a string")
    return value


def _signing_jwk(entry: Any) -> JWK | None:
    """One JWKS entry as a signing key, or None when it may not verify any signature here."""
    if not isinstance(entry, Mapping):
        return None
    # RFC 7517 section 4.2: "use" other than "sig" (or not a string) is not for signatures.
    if entry.get("use", "sig") != "sig":
        return None
    # RFC 7517 section 4.3: key_ops, when present, must allow "verify".
    ops = entry.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return None
    try:
        alg = _optional_str(entry, "alg")
        kid = _optional_str(entry, "kid")
        x5t = _optional_str(entry, "x5t")
        key = _jwk_to_key(entry)
    except (KeyError, ValueError, TypeError, UnicodeEncodeError):
        return None  # JOSEError is a ValueError
    if key is None:
        return None
    jwk = jwk_for_key(key, kid=kid, x5t=x5t, alg=alg)
    return jwk if jwk.algorithms else None  # weak keys, or an alg we never verify


def parse_jwks(document: Any) -> JWKSet:
    """Parse a JWKS document (RFC 7517 section 5, RFC 7518 section 6: ``RSA`` ``n``/``e``,
    ``EC`` P-256 ``x``/``y``) into its usable signing keys.

    Skipped: entries that are not for signatures (``use``, ``key_ops``), of other key types,
    too weak, naming an ``alg`` they cannot verify here, or malformed. The first entry wins a
    ``kid`` (or ``x5t``) that several entries claim. A document without a ``keys`` list, or
    without a single usable key, is refused (``malformed``), so a caller keeps its last good
    set. This is the one JWKS parser of the SDK: access tokens and SETs use it alike.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise InvalidJWKS("JWKS has no 'keys' list")
    by_kid: dict[str, JWK] = {}
    by_x5t: dict[str, JWK] = {}
    others: list[JWK] = []
    for entry in document["keys"]:
        jwk = _signing_jwk(entry)
        if jwk is None:
            continue
        if jwk.kid is not None:
            by_kid.setdefault(jwk.kid, jwk)
        if jwk.x5t is not None:
            by_x5t.setdefault(jwk.x5t, jwk)
        if jwk.kid is None and jwk.x5t is None:
            others.append(jwk)
    keys = JWKSet(by_kid, by_x5t, others)
    if not keys:
        raise InvalidJWKS("JWKS has no usable signing key")
    return keys
