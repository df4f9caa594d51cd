"""Bad input table: every malformed or forged token is refused with a stable reason, and the
middleware answers with the right RFC 6750 response (never a 500, never acceptance)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from cae_sdk.core.errors import TokenValidationError
from cae_sdk.events import InMemoryEventStore
from cae_sdk.resource import CAEMiddleware, TokenValidator

from .helpers import APP_ID, TENANT, JWKSServer, SigningKeys, claims, sign


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_token(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"x") -> str:
    return ".".join(
        [_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()), _b64(signature)]
    )


ATTACKER = SigningKeys()
ISSUER_PINNED = "https://issuer.test/v2.0"


def _public_jwk(keys: SigningKeys) -> dict[str, Any]:
    return dict(keys.jwks()["keys"][0])


def _foreign(payload: dict[str, Any], kid: str, **header: Any) -> str:
    """Signed with the attacker's key; the header names ``kid`` and carries ``header``."""
    import jwt

    return jwt.encode(payload, ATTACKER.rsa, algorithm="RS256", headers={"kid": kid, **header})


def _duplicate_alg(kid: str, payload: dict[str, Any]) -> str:
    head = f'{{"alg":"RS256","kid":"{kid}","alg":"none"}}'.encode()
    return f"{_b64(head)}.{_b64(json.dumps(payload).encode())}."


@pytest.fixture
def validator(idp: JWKSServer) -> TokenValidator:
    return TokenValidator(
        issuer=idp.issuer, audiences=[f"api://{APP_ID}", APP_ID], jwks_uri=f"{idp.base_url}/keys"
    )


def _bad_tokens(idp: JWKSServer, keys: SigningKeys) -> list[tuple[str, str, str]]:
    good = claims(idp.issuer)
    kid = keys.rsa_kid
    pem = keys.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_header = _b64(json.dumps({"alg": "HS256", "kid": kid}).encode())
    hs_payload = _b64(json.dumps(good).encode())
    hs_sig = hmac.new(pem, f"{hs_header}.{hs_payload}".encode(), hashlib.sha256).digest()
    valid = sign(keys, good)
    head, body, sig = valid.split(".")
    tampered_payload = _b64(json.dumps({**good, "oid": "someone-else"}).encode())
    now = int(time.time())
    return [
        ("empty segments", "..", "malformed_token"),
        ("two parts", "abc.def", "malformed_token"),
        ("four parts", valid + ".x", "malformed_token"),
        ("bad base64 header", "!!!." + body + "." + sig, "malformed_token"),
        ("padded base64", head + "=." + body + "." + sig, "malformed_token"),
        ("header not json", _b64(b"nope") + "." + body + "." + sig, "malformed_token"),
        ("header is a list", _b64(b"[1]") + "." + body + "." + sig, "malformed_token"),
        ("payload not json", head + "." + _b64(b"{") + "." + sig, "malformed_token"),
        ("alg none", _raw_token({"alg": "none", "kid": kid}, good, b""), "bad_algorithm"),
        ("alg None", _raw_token({"alg": "None", "kid": kid}, good), "bad_algorithm"),
        ("alg HS256 with public key", f"{hs_header}.{hs_payload}.{_b64(hs_sig)}", "bad_algorithm"),
        ("alg missing", _raw_token({"kid": kid}, good), "bad_algorithm"),
        ("alg RS512", _raw_token({"alg": "RS512", "kid": kid}, good), "bad_algorithm"),
        (
            "crit header",
            _raw_token({"alg": "RS256", "kid": kid, "crit": ["x"]}, good),
            "malformed_token",
        ),
        ("no kid", _raw_token({"alg": "RS256"}, good), "unknown_key"),
        ("unknown kid", _raw_token({"alg": "RS256", "kid": "nope"}, good), "unknown_key"),
        ("tampered payload", f"{head}.{tampered_payload}.{sig}", "bad_signature"),
        ("bad signature", f"{head}.{body}.{_b64(b'0' * 256)}", "bad_signature"),
        (
            "RS256 header on EC key",
            _raw_token({"alg": "RS256", "kid": keys.ec_kid}, good),
            "bad_key",
        ),
        (
            "ES256 short sig",
            _raw_token({"alg": "ES256", "kid": keys.ec_kid}, good, b"ab"),
            "bad_signature",
        ),
        ("wrong issuer", sign(keys, claims("https://evil.example/v2.0")), "bad_issuer"),
        ("wrong audience", sign(keys, claims(idp.issuer, aud="api://other")), "bad_audience"),
        (
            "audience list without ours",
            sign(keys, claims(idp.issuer, aud=["x", "y"])),
            "bad_audience",
        ),
        ("expired", sign(keys, claims(idp.issuer, exp=now - 61)), "token_expired"),
        ("not yet valid", sign(keys, claims(idp.issuer, nbf=now + 120)), "token_not_yet_valid"),
        ("issued in future", sign(keys, claims(idp.issuer, iat=now + 120)), "token_not_yet_valid"),
        ("exp not a number", sign(keys, claims(idp.issuer, exp="soon")), "malformed_token"),
        ("exp infinite", sign(keys, claims(idp.issuer, exp=float("inf"))), "malformed_token"),
        ("nbf NaN", sign(keys, claims(idp.issuer, nbf=float("nan"))), "malformed_token"),
        ("exp 10**400", sign(keys, claims(idp.issuer, exp=10**400)), "malformed_token"),
        ("exp 1e300", sign(keys, claims(idp.issuer, exp=1e300)), "malformed_token"),
        ("iat is a bool", sign(keys, claims(idp.issuer, iat=True)), "malformed_token"),
        ("iat negative", sign(keys, claims(idp.issuer, iat=-1)), "malformed_token"),
        (
            "issuer in another case",
            sign(keys, claims(idp.issuer.replace("http://", "HTTP://"))),
            "bad_issuer",
        ),
        ("issuer trailing slash", sign(keys, claims(idp.issuer + "/")), "bad_issuer"),
        (
            "audience list with a number",
            sign(keys, claims(idp.issuer, aud=[f"api://{APP_ID}", 1])),
            "bad_audience",
        ),
        ("audience empty list", sign(keys, claims(idp.issuer, aud=[])), "bad_audience"),
        (
            "lifetime over 28 h",
            sign(keys, claims(idp.issuer, iat=now - 10, exp=now + 28 * 3600)),
            "token_lifetime_too_long",
        ),
        ("missing exp", sign(keys, claims(idp.issuer, exp=None)), "missing_claim"),
        ("missing iat", sign(keys, claims(idp.issuer, iat=None)), "missing_claim"),
        ("non ascii", "é" + valid, "malformed_token"),
        ("oversized", "a" * 20_000, "malformed_token"),
        # RFC 8725 sections 2.8 and 3.11: another kind of JWT from the same issuer and keys.
        ("a SET", sign(keys, good, headers={"typ": "secevent+jwt"}), "malformed_token"),
        ("a logout token", sign(keys, good, headers={"typ": "logout+jwt"}), "malformed_token"),
        (
            "a DPoP proof",
            sign(keys, good, headers={"typ": "application/dpop+jwt"}),
            "malformed_token",
        ),
        ("a JWT refresh token", sign(keys, good, headers={"typ": "rt+jwt"}), "malformed_token"),
        ("typ not a string", sign(keys, good, headers={"typ": ["JWT"]}), "malformed_token"),
        # JWE (RFC 7516 section 7.1: five parts) and a JWS nested in a JWS payload.
        ("JWE compact", f"{head}.{body}.{body}.{body}.{sig}", "malformed_token"),
        ("nested JWS", f"{head}.{_b64(json.dumps(valid).encode())}.{sig}", "malformed_token"),
        # RFC 7515 sections 4.1.2-4.1.5: keys the token names or carries are never used.
        ("embedded jwk", _foreign(good, kid, jwk=_public_jwk(ATTACKER)), "bad_signature"),
        ("jku", _foreign(good, kid, jku="https://evil.example/keys"), "bad_signature"),
        ("x5u", _foreign(good, kid, x5u="https://evil.example/cert"), "bad_signature"),
        ("kid path", _foreign(good, "../../keys/" + kid), "unknown_key"),
        ("kid url", _foreign(good, "https://evil.example/keys#" + kid), "unknown_key"),
        # RFC 7515 section 4: a duplicate header member is read as its last value - one parse
        # for the check and the verification: "alg" RS256 then none is an unsigned token.
        ("duplicate alg", _duplicate_alg(kid, good), "bad_algorithm"),
    ]


async def test_every_bad_token_is_refused_with_its_reason(
    validator: TokenValidator, idp: JWKSServer, keys: SigningKeys
) -> None:
    for name, token, reason in _bad_tokens(idp, keys):
        with pytest.raises(TokenValidationError) as caught:
            await validator.validate(token)
        assert caught.value.reason == reason, name
    await validator.aclose()


async def test_leeway_accepts_recently_expired(
    validator: TokenValidator, idp: JWKSServer, keys: SigningKeys
) -> None:
    token = sign(keys, claims(idp.issuer, exp=int(time.time()) - 30))
    assert (await validator.validate(token)).object_id
    es = sign(keys, claims(idp.issuer), alg="ES256")
    ps = sign(keys, claims(idp.issuer), alg="PS256")
    assert (await validator.validate(es)).tenant_id == TENANT
    assert (await validator.validate(ps)).tenant_id == TENANT
    await validator.aclose()


async def test_x5t_header_selects_the_key(
    validator: TokenValidator, idp: JWKSServer, keys: SigningKeys
) -> None:
    payload = claims(idp.issuer)
    import jwt

    token = jwt.encode(payload, keys.rsa, algorithm="RS256", headers={"x5t": keys.rsa_kid})
    assert (await validator.validate(token)).object_id
    await validator.aclose()


async def test_middleware_answers_bad_input_with_rfc6750_never_500(
    idp: JWKSServer, keys: SigningKeys
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("a bad token reached the app")

    middleware = CAEMiddleware(
        app,
        validator=TokenValidator(
            issuer=idp.issuer,
            audiences=[APP_ID, f"api://{APP_ID}"],
            jwks_uri=f"{idp.base_url}/keys",
        ),
        store=InMemoryEventStore(),
    )
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for name, token, _ in _bad_tokens(idp, keys):
            if not token.isascii():
                continue
            response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code in (400, 401), name
            body = response.json()
            assert set(body) == {"error", "error_description", "reason"}
            assert body["error"] in ("invalid_token", "invalid_request"), name
            assert "www-authenticate" in response.headers
        for header in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer a b",
            "Bearer <script>",
            "Bearer " + "a" * 40_000,
            "bearer\ttoken",
        ]:
            response = await client.get("/", headers={"Authorization": header})
            assert response.status_code in (400, 401), header
            assert response.json()["error"] in ("invalid_request", "invalid_token"), header
        twice = await client.get(
            "/", headers=[("Authorization", "Bearer a.b.c"), ("Authorization", "Bearer a.b.c")]
        )
        assert twice.status_code == 400
        assert 'error="invalid_request"' in twice.headers["www-authenticate"]


async def test_access_token_types_are_accepted(keys: SigningKeys) -> None:
    validator = TokenValidator(
        issuer=ISSUER_PINNED, audiences=[f"api://{APP_ID}"], jwks=keys.jwks()
    )
    good = claims(ISSUER_PINNED)
    for typ in ("JWT", "jwt", "at+jwt", "application/at+jwt", "Application/AT+JWT"):
        assert (await validator.validate(sign(keys, good, headers={"typ": typ}))).object_id, typ
    untyped = _raw_token({"alg": "RS256", "kid": keys.rsa_kid}, good)
    with pytest.raises(TokenValidationError) as caught:
        await validator.validate(untyped)
    assert caught.value.reason == "bad_signature"  # no typ: parsed, checked further
    custom = TokenValidator(
        issuer=ISSUER_PINNED,
        audiences=[f"api://{APP_ID}"],
        jwks=keys.jwks(),
        token_types=["application/vnd.example.at+jwt"],
    )
    odd = sign(keys, good, headers={"typ": "vnd.example.at+jwt"})
    assert (await custom.validate(odd)).object_id
    with pytest.raises(TokenValidationError):
        await custom.validate(sign(keys, good, headers={"typ": "JWT"}))
