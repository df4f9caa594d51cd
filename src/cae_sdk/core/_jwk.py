"""JSON Web Keys (RFC 7517): a JWKS document parsed into the signing keys it may use, each with
the algorithms it fits (RFC 8725 section 3.1) and its RFC 7638 thumbprint. The rules are
:mod:`cae_sdk.core.jose`'s.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ._jws import MALFORMED, b64url_decode
from .errors import ConfigurationError, JOSEError

__all__ = [
    "JWK",
    "MIN_RSA_BITS",
    "InvalidJWKS",
    "JWKSet",
    "PublicKey",
    "jwk_for_key",
    "jwk_thumbprint",
    "key_algorithms",
    "parse_jwks",
]

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
_STANDARD_TO_URL = bytes.maketrans(b"+/", b"-_")


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
