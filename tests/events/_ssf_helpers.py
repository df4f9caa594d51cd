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
        "sub_id": sub_id or user_subject(oid),
        "events": {event_type: payload or {}},
    }


def user_subject(oid: str = USER_OID, tenant: str = TENANT) -> dict[str, Any]:
    """SSF 1.0 section 3.3 complex subject: the user (Entra object id) in the tenant."""
    return {
        "format": "complex",
        "user": {"format": "opaque", "id": oid},
        "tenant": {"format": "opaque", "id": tenant},
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
        self.fail_jwks = False
        self.issuer_override: str | None = None
        self.app = Starlette(
            routes=[
                Route("/.well-known/ssf-configuration", self._configuration),
                Route("/jwks", self._jwks),
                Route("/poll", self._poll, methods=["POST"]),
                Route("/streams", self._streams, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
                Route("/status", self._status, methods=["GET", "POST"]),
                Route("/verify", self._verify, methods=["POST"]),
                Route("/subjects:add", self._add_subject, methods=["POST"]),
                Route("/subjects:remove", self._remove_subject, methods=["POST"]),
            ]
        )
        self.streams: dict[str, dict[str, Any]] = {}
        self.subjects: dict[str, list[dict[str, Any]]] = {}
        self.statuses: dict[str, str] = {}

    @property
    def issuer(self) -> str:
        return self.base_url

    async def _configuration(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer_override or self.base_url,
                "jwks_uri": f"{self.base_url}/jwks",
                "delivery_methods_supported": ["urn:ietf:rfc:8935", "urn:ietf:rfc:8936"],
                "configuration_endpoint": f"{self.base_url}/streams",
                "status_endpoint": f"{self.base_url}/status",
                "verification_endpoint": f"{self.base_url}/verify",
                "add_subject_endpoint": f"{self.base_url}/subjects:add",
                "remove_subject_endpoint": f"{self.base_url}/subjects:remove",
            }
        )

    async def _jwks(self, request: Request) -> Response:
        if self.fail_jwks:
            return Response(status_code=503)
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

    def _denied(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != "Bearer mgmt-token":
            return JSONResponse({"error": "access_denied"}, status_code=401)
        return None

    async def _streams(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        stream_id = request.query_params.get("stream_id")
        if request.method == "POST":
            body = await request.json()
            stream_id = uuid.uuid4().hex
            delivery = dict(body["delivery"])
            if delivery["method"] == "urn:ietf:rfc:8936":
                delivery["endpoint_url"] = f"{self.base_url}/poll"
            stream = {
                "stream_id": stream_id,
                "iss": self.issuer,
                "aud": AUDIENCE,
                "delivery": delivery,
                "events_requested": body.get("events_requested", []),
                "events_delivered": body.get("events_requested", []),
            }
            self.streams[stream_id] = stream
            self.statuses[stream_id] = "enabled"
            return JSONResponse(stream, status_code=201)
        if request.method == "GET":
            if stream_id is None:
                return JSONResponse(list(self.streams.values()))
            if stream_id not in self.streams:
                return JSONResponse({"error": "not_found"}, status_code=404)
            return JSONResponse(self.streams[stream_id])
        if request.method == "DELETE":
            self.streams.pop(stream_id or "", None)
            return Response(status_code=204)
        body = await request.json()
        stream = self.streams[body["stream_id"]]
        if request.method == "PUT":
            stream = {"stream_id": body["stream_id"], "iss": self.issuer, "aud": AUDIENCE}
        stream.update({k: v for k, v in body.items() if k != "stream_id"})
        self.streams[body["stream_id"]] = stream
        return JSONResponse(stream)

    async def _status(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        if request.method == "GET":
            stream_id = request.query_params["stream_id"]
            return JSONResponse({"stream_id": stream_id, "status": self.statuses[stream_id]})
        body = await request.json()
        self.statuses[body["stream_id"]] = body["status"]
        return JSONResponse({"stream_id": body["stream_id"], "status": body["status"]})

    async def _add_subject(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        body = await request.json()
        self.subjects.setdefault(body["stream_id"], []).append(body["subject"])
        return Response(status_code=200)

    async def _remove_subject(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        body = await request.json()
        self.subjects.get(body["stream_id"], []).remove(body["subject"])
        return Response(status_code=204)

    def sign_set(self, claims: dict[str, Any]) -> str:
        return sign(claims, self.keys[0])

    async def _verify(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        body = await request.json()
        stream = self.streams[body["stream_id"]]
        claims = set_claims(
            self.issuer,
            event_type="https://schemas.openid.net/secevent/ssf/event-type/verification",
            payload={"state": body["state"]},
            sub_id={"format": "opaque", "id": body["stream_id"]},
        )
        token = self.sign_set(claims)
        delivery = stream["delivery"]
        if delivery["method"] == "urn:ietf:rfc:8935":
            import httpx

            async with httpx.AsyncClient() as http:
                await http.post(
                    delivery["endpoint_url"],
                    content=token,
                    headers={
                        "authorization": delivery["authorization_header"],
                        "content-type": "application/secevent+jwt",
                    },
                )
        else:
            self.queue[claims["jti"]] = token
        return Response(status_code=204)


def user_token(idp: Any) -> str:
    """A cp1 user token from a real MSAL device code flow (auto-approved by the dev IdP)."""
    from cae_sdk.devidp import device_code_token, msal_public_app

    session = idp.http_session()
    try:
        result = device_code_token(idp, msal_public_app(idp, http=session))
    finally:
        session.close()
    assert "access_token" in result, result
    return str(result["access_token"])
