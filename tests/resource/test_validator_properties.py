"""Property-based tests over the whole validator (signed tokens in, claims or a typed refusal
out) and over JWKS documents fed to the key source: never another exception, never acceptance
of a token that breaks a rule."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cae_sdk.core import jose
from cae_sdk.core.errors import JOSEError, TokenValidationError
from cae_sdk.keys import KeySource
from cae_sdk.resource import TokenValidator

ISSUER = "https://issuer.test/{tenantid}/v2.0"
TENANT = "t-1"
AUD = "api://app"
KEY = ec.generate_private_key(ec.SECP256R1())
JWK = {
    **jwt.algorithms.ECAlgorithm.to_jwk(KEY.public_key(), as_dict=True),
    "kid": "ec",
    "use": "sig",
}
REASONS = {
    "malformed_token",
    "missing_claim",
    "token_expired",
    "token_not_yet_valid",
    "token_lifetime_too_long",
    "bad_issuer",
    "bad_audience",
    "bad_tenant",
}
MAX_LIFETIME = 28 * 3600
NOW = time.time()

_DATE = (
    st.floats(NOW - 2 * MAX_LIFETIME, NOW + 2 * MAX_LIFETIME)
    | st.integers(int(NOW) - 100, int(NOW) + 100)
    | st.sampled_from([10**400, 1e300, -1, float("inf"), float("nan"), True, "123", None])
)
_STRINGS = st.sampled_from(
    [AUD, "api://other", "", "API://APP", f"https://issuer.test/{TENANT}/v2.0", TENANT, "T-1"]
)
_CLAIM = _DATE | _STRINGS | st.lists(_STRINGS | st.integers(), max_size=3) | st.none()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _sign(payload: dict[str, Any]) -> str:
    """ES256 over any JSON payload (PyJWT refuses to encode some of the values tried here)."""
    header = _b64(json.dumps({"alg": "ES256", "kid": "ec"}).encode())
    body = _b64(json.dumps(payload).encode())
    r, s = decode_dss_signature(KEY.sign(f"{header}.{body}".encode(), ec.ECDSA(hashes.SHA256())))
    return f"{header}.{body}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _validator() -> TokenValidator:
    return TokenValidator(
        issuer=ISSUER,
        audiences=[AUD],
        jwks={"keys": [JWK]},
        tenants=[TENANT],
        max_lifetime=MAX_LIFETIME,
    )


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "iss": _STRINGS | _CLAIM,
            "aud": _CLAIM,
            "tid": _STRINGS | _CLAIM,
            "exp": _DATE,
            "nbf": _DATE,
            "iat": _DATE,
            "oid": _STRINGS,
        },
    )
)
def test_any_signed_payload_is_claims_or_a_typed_refusal(payload: dict[str, Any]) -> None:
    payload = {k: v for k, v in payload.items() if v is not None}
    token = _sign(payload)
    validator = _validator()
    try:
        claims = asyncio.run(validator.validate(token))
    except TokenValidationError as error:
        assert error.reason in REASONS, error.reason
        return
    now = time.time()
    exp, iat, nbf = payload["exp"], payload["iat"], payload.get("nbf")
    assert payload["iss"] == f"https://issuer.test/{TENANT}/v2.0"
    assert payload["tid"] == TENANT
    aud = payload["aud"]
    assert aud == AUD or (isinstance(aud, list) and AUD in aud)
    for value in (exp, iat, nbf):
        assert value is None or (
            type(value) in (int, float) and math.isfinite(value) and value >= 0
        )
    assert now <= exp + 60 + 5
    assert exp - iat <= MAX_LIFETIME
    assert claims.issued_at == math.floor(iat)


_JWK_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "kty": st.sampled_from(["EC", "RSA", "oct", 1]),
        "crv": st.sampled_from(["P-256", "P-384", 3]),
        "x": st.sampled_from([JWK["x"], "AQAB", "!", 5]),
        "y": st.sampled_from([JWK["y"], "AQAB", ""]),
        "kid": st.sampled_from(["ec", "other", 1, None]),
        "use": st.sampled_from(["sig", "enc", 1, None]),
        "alg": st.sampled_from(["ES256", "RS256", "none", 7, None]),
        "key_ops": st.sampled_from([["verify"], ["sign"], "verify", [], None]),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_JWK_ENTRY, max_size=4) | st.sampled_from([[], {}, "keys", 1]))
def test_any_jwks_is_a_key_set_or_a_typed_refusal(entries: Any) -> None:
    document = {"keys": entries} if isinstance(entries, list) else entries
    try:
        source = KeySource(jwks=document)
    except JOSEError as error:
        assert error.reason == "malformed"
        return
    keys = source.keys
    assert keys
    token = jwt.encode({"sub": "x"}, KEY, "ES256", headers={"kid": "ec"})
    compact = jose.parse_compact(token, max_bytes=16_384)
    key = keys.find("ec", None)
    if key is None:
        return
    # A key that made it in is fit for signatures: the ES256 token verifies, or is refused
    # with a typed error when the published key material or alg is another one.
    try:
        jose.verify_signature("ES256", compact.signing_input, compact.signature(), key)
    except JOSEError as error:
        assert error.reason in ("bad_key", "bad_signature")
    else:
        assert "ES256" in key.algorithms and key.thumbprint == jose.jwk_thumbprint(KEY.public_key())
