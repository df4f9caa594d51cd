"""Test helpers: signing keys, SET minting, a loopback uvicorn runner, a transmitter stub."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cae_sdk.core.secevents import CAEP, RISC

ISSUER_PATH = ""
AUDIENCE = "https://receiver.example/ssf"
TENANT = "11111111-2222-3333-4444-555555555555"
USER_OID = "aaaaaaaa-0000-0000-0000-000000000001"

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_RSA2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_EC = ec.generate_private_key(ec.SECP256R1())


class SigningKey:
    def __init__(self, kid: str, private: Any, alg: str) -> None:
        self.kid, self.private, self.alg = kid, private, alg

    def jwk(self) -> dict[str, Any]:
        algo = jwt.get_algorithm_by_name(self.alg)
        data = json.loads(algo.to_jwk(self.private.public_key()))
        data.update(kid=self.kid, use="sig", alg=self.alg)
        return data


RSA_KEY = SigningKey("rsa-1", _RSA, "RS256")
RSA_KEY_2 = SigningKey("rsa-2", _RSA2, "RS256")
EC_KEY = SigningKey("ec-1", _EC, "ES256")


def set_claims(
    issuer: str,
    *,
    event_type: str = RISC.ACCOUNT_DISABLED,
    payload: dict[str, Any] | None = None,
    sub_id: dict[str, Any] | None = None,
    iat: int | None = None,
    jti: str | None = None,
    aud: str | list[str] = AUDIENCE,
    oid: str = USER_OID,
) -> dict[str, Any]:
    return {
        "iss": issuer,
        "aud": aud,
        "iat": int(time.time()) if iat is None else iat,
        "jti": jti or uuid.uuid4().hex,
        "sub_id": sub_id or {"format": "iss_sub", "iss": issuer, "sub": oid},
        "events": {event_type: payload or {}},
    }


def sign(claims: dict[str, Any], key: SigningKey = RSA_KEY, **header: Any) -> str:
    headers = {"typ": "secevent+jwt", "kid": key.kid, **header}
    return jwt.encode(claims, key.private, algorithm=header.pop("alg", key.alg), headers=headers)


def session_revoked(issuer: str, **kw: Any) -> dict[str, Any]:
    return set_claims(issuer, event_type=CAEP.SESSION_REVOKED, **kw)


@contextlib.asynccontextmanager
async def running(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with real uvicorn on 127.0.0.1:<free port> in this event loop."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


class TransmitterStub:
    """A minimal SSF transmitter: configuration, JWKS (rotatable) and an RFC 8936 poll endpoint."""

    def __init__(self) -> None:
        self.base_url = ""
        self.keys: list[SigningKey] = [RSA_KEY]
        self.queue: dict[str, str] = {}
        self.polls: list[dict[str, Any]] = []
        self.jwks_fetches = 0
        self.fail_polls = 0
        self.issuer_override: str | None = None
        self.app = Starlette(
            routes=[
                Route("/.well-known/ssf-configuration", self._configuration),
                Route("/jwks", self._jwks),
                Route("/poll", self._poll, methods=["POST"]),
            ]
        )

    @property
    def issuer(self) -> str:
        return self.base_url

    async def _configuration(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer_override or self.base_url,
                "jwks_uri": f"{self.base_url}/jwks",
                "delivery_methods_supported": ["urn:ietf:rfc:8935", "urn:ietf:rfc:8936"],
            }
        )

    async def _jwks(self, request: Request) -> Response:
        self.jwks_fetches += 1
        return JSONResponse({"keys": [k.jwk() for k in self.keys]})

    async def _poll(self, request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer poll-token":
            return JSONResponse({"err": "authentication_failed"}, status_code=401)
        if self.fail_polls:
            self.fail_polls -= 1
            return Response(status_code=503)
        body = await request.json()
        self.polls.append(body)
        for jti in body.get("ack", []):
            self.queue.pop(jti, None)
        for jti in body.get("setErrs", {}):
            self.queue.pop(jti, None)
        if not self.queue and not body.get("returnImmediately", False):
            for _ in range(20):
                await asyncio.sleep(0.01)
                if self.queue:
                    break
        limit = int(body.get("maxEvents", 100))
        sets = dict(list(self.queue.items())[:limit])
        return JSONResponse({"sets": sets, "moreAvailable": len(self.queue) > len(sets)})
