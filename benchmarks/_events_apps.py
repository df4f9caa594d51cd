"""Apps the events benchmark runs in separate uvicorn processes (configured by environment).

``replica_app``: a CAE resource (``CAEMiddleware`` + ``RedisEventStore``) with the admin API
mounted at ``/admin``, wrapped in :class:`Stamped`, which takes the propagation timestamps in
the replica itself. ``push_app``: an RFC 8935 push receiver with pinned transmitter keys.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cae_sdk.events import Event, InMemoryEventStore, RevocationEvent
from cae_sdk.events._admin import AdminApp
from cae_sdk.events.redis import RedisEventStore
from cae_sdk.events.ssf import DirectorySubjectResolver, PushReceiverApp, SetReceiver
from cae_sdk.resource import CAEMiddleware, TokenValidator

STAMPS_PATH = "/bench/stamps"
ROUND_HEADER = b"x-bench-oid"


class Stamped:
    """Timestamps taken in the replica (``time.monotonic``: CLOCK_MONOTONIC, one clock for every
    process of the machine), so the benchmark measures the replica, not its own polling:

    * ``applied``: when the store's mirror took the revocation of a user (from that instant
      every request with an older token is refused);
    * ``refused``: arrival and response of the first request refused for that user (requests
      name the user in ``x-bench-oid``);
    * ``written``: arrival of the last write to the admin API (on the replica that takes it).

    ``GET /bench/stamps?oid=...`` answers (and forgets) both for one user; it is served before
    ``CAEMiddleware``, so reading the stamps costs the replica almost nothing.
    """

    def __init__(self, app: ASGIApp, store: RedisEventStore) -> None:
        self.app = app
        self.store = store
        self.applied: dict[str, float] = {}
        self.refused: dict[str, tuple[float, float]] = {}
        self.written: float | None = None
        store.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, RevocationEvent):
            self.applied.setdefault(event.subject.value, time.monotonic())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == STAMPS_PATH:
            await self._stamps(scope, send)
            return
        arrival = time.monotonic()
        if scope["path"].startswith("/admin/"):
            self.written = arrival
        oid = next((v.decode() for k, v in scope["headers"] if k == ROUND_HEADER), None)
        if oid is None or oid in self.refused:
            await self.app(scope, receive, send)
            return

        async def stamped_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.refused.setdefault(oid, (arrival, time.monotonic()))
            await send(message)

        await self.app(scope, receive, stamped_send)

    async def _stamps(self, scope: Scope, send: Send) -> None:
        oid = scope["query_string"].decode().removeprefix("oid=")
        body = json.dumps(
            {
                "applied": self.applied.pop(oid, None),
                "refused": self.refused.pop(oid, None),
                "written": self.written,
                "healthy": self.store.healthy,
            }
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def replica_app() -> Any:
    store = RedisEventStore(os.environ["BENCH_REDIS_URL"], prefix=os.environ["BENCH_PREFIX"])

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.start()
        yield
        await store.close()

    admin = AdminApp(store, enabled=True, static_key=os.environ["BENCH_ADMIN_KEY"])
    inner = Starlette(routes=[Route("/", hello), Mount("/admin", app=admin)], lifespan=lifespan)
    with open(os.environ["BENCH_JWKS"], encoding="utf-8") as handle:
        jwks = json.load(handle)
    validator = TokenValidator(
        issuer=os.environ["BENCH_ISSUER"], audiences=[os.environ["BENCH_AUDIENCE"]], jwks=jwks
    )
    cae = CAEMiddleware(inner, validator=validator, store=store, exclude_paths=["/admin/"])
    return Stamped(cae, store)


def push_app() -> Any:
    with open(os.environ["BENCH_JWKS"], encoding="utf-8") as handle:
        jwks = json.load(handle)
    issuer = os.environ["BENCH_ISSUER"]
    receiver = SetReceiver.for_transmitter(
        issuer,
        os.environ["BENCH_AUDIENCE"],
        InMemoryEventStore(),
        jwks=jwks,
        resolver=DirectorySubjectResolver(tenant_for_issuer={issuer: "bench-tenant"}),
    )
    return PushReceiverApp(receiver, authorization="Bearer bench-push")
