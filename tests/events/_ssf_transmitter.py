"""An independent SSF 1.0 transmitter for conformance tests: its own keys and configuration,
streams with push (RFC 8935) or poll (RFC 8936) delivery, status (with transmitter-initiated
changes announced by stream-updated events, SSF 1.0 section 8.1.5), subjects, verification
(with the wrong-state / wrong-subject answers the OpenID receiver test plan sends), short-lived
management tokens, and tampered SETs. It records every answer the receiver gives.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from _ssf_helpers import RSA_KEY, RSA_KEY_2, SigningKey, user_subject
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cae_sdk.core.secevents import (
    DELIVERY_POLL,
    DELIVERY_PUSH,
    SECEVENT_CONTENT_TYPE,
    SET_TYP,
    SSF,
    set_claims,
)

PUSH = DELIVERY_PUSH
POLL = DELIVERY_POLL


@dataclass
class Delivered:
    """One push answer, or one poll acknowledgement / error report."""

    jti: str
    status: int  # HTTP status (push), 202 for an ack, 400 for a setErrs report (poll)
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Stream:
    stream_id: str
    config: dict[str, Any]
    status: str = "enabled"
    queue: dict[str, str] = field(default_factory=dict)  # jti -> SET, in order
    held: dict[str, str] = field(default_factory=dict)  # while paused
    removed: list[dict[str, Any]] = field(default_factory=list)
    added: list[dict[str, Any]] = field(default_factory=list)


class ConformanceTransmitter:
    def __init__(self, *, critical_subject_members: list[str] | None = None) -> None:
        self.base_url = ""
        self.key: SigningKey = RSA_KEY
        self.streams: dict[str, Stream] = {}
        self.answers: list[Delivered] = []
        self.calls: list[tuple[str, str]] = []  # (method, path) of authorized management calls
        self.critical = critical_subject_members
        self.create_iss_override: str | None = None
        self.next_verification: str | None = None  # "wrong-state" | "wrong-subject"
        self.tokens: dict[str, float] = {}  # bearer token -> expiry
        self.tokens_issued = 0
        self.expired_rejections = 0
        self.token_lifetime = 3600.0
        self.http = httpx.AsyncClient(timeout=5.0)
        self.app = Starlette(
            routes=[
                Route("/.well-known/ssf-configuration", self._configuration),
                Route("/jwks", self._jwks),
                Route("/token", self._token, methods=["POST"]),
                Route("/streams", self._streams, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
                Route("/status", self._status, methods=["GET", "POST"]),
                Route("/verify", self._verify, methods=["POST"]),
                Route("/subjects:add", self._add_subject, methods=["POST"]),
                Route("/subjects:remove", self._remove_subject, methods=["POST"]),
                Route("/poll/{stream_id}", self._poll, methods=["POST"]),
            ]
        )

    @property
    def issuer(self) -> str:
        return self.base_url

    # -- tokens (client credentials, short-lived: CAEP interop profile 2.7) ------------------
    def issue_token(self) -> str:
        token = secrets.token_urlsafe(16)
        self.tokens[token] = time.time() + self.token_lifetime
        self.tokens_issued += 1
        return token

    async def _token(self, request: Request) -> Response:
        return JSONResponse({"access_token": self.issue_token(), "token_type": "Bearer"})

    def _denied(self, request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expiry = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if expiry is None or expiry < time.time():
            if expiry is not None:
                self.expired_rejections += 1
            return JSONResponse(
                {"err": "authentication_failed", "description": "bad or expired token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        self.calls.append((request.method, request.url.path))
        return None

    # -- discovery ---------------------------------------------------------------------------
    async def _configuration(self, request: Request) -> Response:
        config: dict[str, Any] = {
            "spec_version": "1_0",
            "issuer": self.issuer,
            "jwks_uri": f"{self.base_url}/jwks",
            "delivery_methods_supported": [PUSH, POLL],
            "configuration_endpoint": f"{self.base_url}/streams",
            "status_endpoint": f"{self.base_url}/status",
            "verification_endpoint": f"{self.base_url}/verify",
            "add_subject_endpoint": f"{self.base_url}/subjects:add",
            "remove_subject_endpoint": f"{self.base_url}/subjects:remove",
        }
        if self.critical is not None:
            config["critical_subject_members"] = self.critical
        return JSONResponse(config)

    async def _jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.jwk()]})

    # -- streams -----------------------------------------------------------------------------
    async def _streams(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        stream_id = request.query_params.get("stream_id")
        if request.method == "POST":
            body = await request.json()
            stream_id = uuid.uuid4().hex
            delivery = dict(body["delivery"])
            if delivery["method"] == POLL:
                delivery["endpoint_url"] = f"{self.base_url}/poll/{stream_id}"
            config = {
                "stream_id": stream_id,
                "iss": self.create_iss_override or self.issuer,
                "aud": body.get("aud", "https://receiver.example/ssf"),
                "delivery": delivery,
                "events_supported": body.get("events_requested", []),
                "events_requested": body.get("events_requested", []),
                "events_delivered": body.get("events_requested", []),
            }
            self.streams[stream_id] = Stream(stream_id, config)
            return JSONResponse(config, status_code=201)
        if request.method == "GET" and stream_id is None:
            return JSONResponse([s.config for s in self.streams.values()])
        if request.method == "DELETE":
            if self.streams.pop(stream_id or "", None) is None:
                return JSONResponse({"err": "not_found"}, status_code=404)
            return Response(status_code=204)
        if request.method == "GET":
            found = self.streams.get(stream_id or "")
            if found is None:
                return JSONResponse({"err": "not_found"}, status_code=404)
            return JSONResponse(found.config)
        body = await request.json()
        stream = self.streams[body["stream_id"]]
        if request.method == "PUT":
            stream.config = {k: v for k, v in stream.config.items() if k in ("stream_id", "iss")}
        stream.config.update({k: v for k, v in body.items() if k != "stream_id"})
        return JSONResponse(stream.config)

    async def _status(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        if request.method == "GET":
            stream = self.streams[request.query_params["stream_id"]]
            return JSONResponse({"stream_id": stream.stream_id, "status": stream.status})
        body = await request.json()
        stream = self.streams[body["stream_id"]]
        self._set_status(stream, body["status"])
        return JSONResponse({"stream_id": stream.stream_id, "status": stream.status})

    def _set_status(self, stream: Stream, status: str) -> None:
        stream.status = status
        if status == "enabled":
            stream.queue.update(stream.held)
            stream.held.clear()

    async def _add_subject(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        body = await request.json()
        self.streams[body["stream_id"]].added.append(body["subject"])
        return Response(status_code=200)

    async def _remove_subject(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        body = await request.json()
        self.streams[body["stream_id"]].removed.append(body["subject"])
        return Response(status_code=204)

    async def _verify(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        body = await request.json()
        stream = self.streams[body["stream_id"]]
        state: str | None = body.get("state")
        subject = {"format": "opaque", "id": stream.stream_id}
        if self.next_verification == "wrong-state":
            state = (state or "") + "-not-yours"
        elif self.next_verification == "wrong-subject":
            subject = {"format": "opaque", "id": "another-stream"}
        self.next_verification = None
        payload = {} if state is None else {"state": state}
        self.emit(stream.stream_id, SSF.VERIFICATION, payload, subject=subject)
        return Response(status_code=204)

    # -- producing SETs ----------------------------------------------------------------------
    def sign(
        self,
        stream_id: str,
        event_type: str,
        payload: dict[str, Any],
        *,
        subject: dict[str, Any] | None = None,
        iat: int | None = None,
        tamper: str | None = None,
        extra_events: dict[str, dict[str, Any]] | None = None,
    ) -> tuple[str, str]:
        stream = self.streams[stream_id]
        claims = set_claims(
            issuer=self.issuer,
            audience=stream.config["aud"],
            subject=subject or user_subject(),
            event_type=event_type,
            event=payload,
            iat=int(time.time()) if iat is None else iat,
            jti=uuid.uuid4().hex,
        )
        claims["events"].update(extra_events or {})
        private, kid = self.key.private, self.key.kid
        if tamper == "wrong-issuer":
            claims["iss"] = self.issuer + "/impostor"
        elif tamper == "wrong-audience":
            claims["aud"] = "https://someone-else.example"
        elif tamper == "bad-signature":  # our kid, another key's signature
            private = RSA_KEY_2.private
        elif tamper == "unknown-kid":  # a key the JWKS does not publish
            private, kid = RSA_KEY_2.private, "not-published"
        headers = {"typ": SET_TYP, "kid": kid}
        token = jwt.encode(claims, private, algorithm="RS256", headers=headers)
        return claims["jti"], token

    def emit(self, stream_id: str, event_type: str, payload: dict[str, Any], **kw: Any) -> str:
        """Queue a SET (held while the stream is paused, dropped while disabled)."""
        jti, token = self.sign(stream_id, event_type, payload, **kw)
        self.queue(stream_id, jti, token)
        return jti

    def queue(self, stream_id: str, jti: str, token: str) -> None:
        stream = self.streams[stream_id]
        if stream.status == "paused":
            stream.held[jti] = token
        elif stream.status == "enabled":
            stream.queue[jti] = token

    def announce(self, stream_id: str, status: str, reason: str) -> str:
        """Transmitter-initiated status change (SSF 1.0 section 8.1.5): the stream-updated
        event goes out before a pause or disable, and after an enable."""
        stream = self.streams[stream_id]
        subject = {"format": "opaque", "id": stream_id}
        payload = {"status": status, "reason": reason}
        jti, token = self.sign(stream_id, SSF.STREAM_UPDATED, payload, subject=subject)
        if status == "enabled":
            self._set_status(stream, status)
            stream.queue[jti] = token
        else:
            stream.queue[jti] = token  # delivered before the stream stops
            stream.status = status
        return jti

    # -- delivery ----------------------------------------------------------------------------
    async def push_all(self, stream_id: str) -> list[Delivered]:
        """Push every queued SET in order; a 2xx or 400 answer takes it off the queue."""
        stream = self.streams[stream_id]
        delivery = stream.config["delivery"]
        answers = []
        for jti, token in list(stream.queue.items()):
            response = await self.http.post(
                delivery["endpoint_url"],
                content=token,
                headers={
                    "content-type": SECEVENT_CONTENT_TYPE,
                    "authorization": delivery.get("authorization_header", ""),
                },
            )
            body = response.json() if response.content else None
            answer = Delivered(jti, response.status_code, body, dict(response.headers))
            answers.append(answer)
            if response.status_code < 500:
                stream.queue.pop(jti, None)
        self.answers.extend(answers)
        return answers

    async def redeliver(self, stream_id: str, jti: str, token: str) -> None:
        self.streams[stream_id].queue[jti] = token

    async def _poll(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        stream = self.streams.get(request.path_params["stream_id"])
        if stream is None:
            return JSONResponse({"err": "not_found"}, status_code=404)
        body = await request.json()
        for jti in body.get("ack", []):
            stream.queue.pop(jti, None)
            self.answers.append(Delivered(jti, 202))
        for jti, error in body.get("setErrs", {}).items():
            stream.queue.pop(jti, None)
            self.answers.append(Delivered(jti, 400, error))
        limit = int(body.get("maxEvents", 100))
        sets = dict(list(stream.queue.items())[:limit])
        return JSONResponse({"sets": sets, "moreAvailable": len(stream.queue) > len(sets)})

    def answer_for(self, jti: str) -> Delivered | None:
        found = [a for a in self.answers if a.jti == jti]
        return found[-1] if found else None

    async def aclose(self) -> None:
        await self.http.aclose()
