"""Test keys, token minting and real uvicorn servers on 127.0.0.1 (free ports)."""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cae_sdk.core import ClaimsChallenge, find_claims_challenge

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP_ID = "11111111-2222-3333-4444-555555555555"
USER_OID = "aaaaaaaa-0000-0000-0000-000000000001"
CLIENT_APP = "cccccccc-0000-0000-0000-000000000002"


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class SigningKeys:
    """RSA-2048 and P-256 keys with their JWKS."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.rsa_kid = "rsa-" + uuid.uuid4().hex[:8]
        self.ec_kid = "ec-" + uuid.uuid4().hex[:8]

    def jwks(self) -> dict[str, Any]:
        rn = self.rsa.public_key().public_numbers()
        en = self.ec.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "kid": self.rsa_kid,
                    "x5t": self.rsa_kid,
                    "n": _b64(rn.n),
                    "e": _b64(rn.e),
                },
                {
                    "kty": "EC",
                    "use": "sig",
                    "kid": self.ec_kid,
                    "crv": "P-256",
                    "x": _b64(en.x).rjust(43, "A"),
                    "y": _b64(en.y).rjust(43, "A"),
                },
            ]
        }


def claims(issuer: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": issuer,
        "aud": f"api://{APP_ID}",
        "iat": now - 10,
        "nbf": now - 10,
        "exp": now + 3600,
        "tid": TENANT,
        "oid": USER_OID,
        "sub": "subject-1",
        "azp": CLIENT_APP,
        "scp": "access_as_user",
        "xms_cc": ["cp1"],
        "ver": "2.0",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(
    keys: SigningKeys,
    payload: dict[str, Any],
    *,
    alg: str = "RS256",
    headers: dict[str, Any] | None = None,
) -> str:
    key: Any = keys.ec if alg == "ES256" else keys.rsa
    kid = keys.ec_kid if alg == "ES256" else keys.rsa_kid
    hdr = {"kid": kid, **(headers or {})}
    return jwt.encode(payload, key, algorithm=alg, headers=hdr)


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def other_spellings(segment: str) -> list[str]:
    """The other strings the stdlib decoder reads as ``segment``'s bytes: its last character
    with other bits past the data (4 of them after 2 characters of a group, 2 after 3)."""
    spare = {2: 0b1111, 3: 0b11}.get(len(segment) % 4, 0)
    value = _ALPHABET.index(segment[-1])
    return [
        segment[:-1] + char
        for char in _ALPHABET
        if char != segment[-1] and _ALPHABET.index(char) & ~spare == value & ~spare
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(app: Any, *, lifespan: str = "off") -> Iterator[str]:
    """Run ``app`` under a real uvicorn server in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


class JWKSServer:
    """A local OpenID provider metadata + JWKS endpoint whose behaviour tests can change."""

    def __init__(self, keys: SigningKeys) -> None:
        self.keys = keys
        self.mode = "ok"  # ok | down | garbage | slow
        self.hits = 0
        self.base_url = ""

        async def config(request: Request) -> Response:
            return JSONResponse({"issuer": self.issuer, "jwks_uri": f"{self.base_url}/keys"})

        async def keys_endpoint(request: Request) -> Response:
            self.hits += 1
            if self.mode == "down":
                return Response("down", status_code=503)
            if self.mode == "garbage":
                return Response("{not json", media_type="application/json")
            if self.mode == "slow":
                import asyncio

                await asyncio.sleep(3)
            return JSONResponse(self.keys.jwks())

        self.app = Starlette(
            routes=[
                Route("/tenant/v2.0/.well-known/openid-configuration", config),
                Route("/keys", keys_endpoint),
            ]
        )

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/tenant/v2.0"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"


def assert_revocation_challenge(
    response: Any, *, watermark: int, authorization_uri: str
) -> ClaimsChallenge:
    """The response is Entra's revocation claims challenge asking for ``nbf >= watermark``."""
    assert response.status_code == 401, response.text
    challenge = find_claims_challenge(response.headers)
    assert challenge is not None
    assert challenge.claims_dict == {
        "access_token": {"nbf": {"essential": True, "value": str(watermark)}}
    }
    assert challenge.authorization_uri == authorization_uri
    assert challenge.realm == ""
    assert challenge.error_description == "TokenIssuedBeforeRevocationTimestamp"
    assert response.json()["reason"] == "TokenIssuedBeforeRevocationTimestamp"
    return challenge
