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

from typing import cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ._jwk import (
    JWK,
    InvalidJWKS,
    JWKSet,
    PublicKey,
    jwk_for_key,
    jwk_thumbprint,
    key_algorithms,
    parse_jwks,
)

# The other refusal reasons, re-exported for adapters that map them (``jose.BAD_KEY``...).
from ._jws import BAD_ALGORITHM as BAD_ALGORITHM
from ._jws import BAD_KEY as BAD_KEY
from ._jws import BAD_SIGNATURE as BAD_SIGNATURE
from ._jws import (
    MALFORMED,
    SUPPORTED_ALGORITHMS,
    CompactJWS,
    JOSEHeaderView,
    b64url_decode,
    check_header,
    decode_compact,
    decode_json_object,
    decode_signature,
    parse_compact,
    split_compact,
)
from ._jws import UNSUPPORTED_HEADER as UNSUPPORTED_HEADER
from .errors import JOSEError

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

_SHA256 = hashes.SHA256()
_PKCS1 = padding.PKCS1v15()
# RFC 7518 section 3.5: PS256 uses MGF1 with SHA-256 and a salt as long as the hash.
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
_ECDSA = ec.ECDSA(hashes.SHA256())


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
