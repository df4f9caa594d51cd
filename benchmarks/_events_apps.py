"""Apps the events benchmark runs in separate uvicorn processes (configured by environment).

``replica_app``: a CAE resource (``CAEMiddleware`` + ``RedisEventStore``) with the admin API
mounted at ``/admin``. ``push_app``: an RFC 8935 push receiver with pinned transmitter keys.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from cae_sdk.events import InMemoryEventStore
from cae_sdk.events._admin import AdminApp
from cae_sdk.events.redis import RedisEventStore
from cae_sdk.events.ssf import DirectorySubjectResolver, PushReceiverApp, SetReceiver
from cae_sdk.resource import CAEMiddleware, TokenValidator


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
    return CAEMiddleware(inner, validator=validator, store=store, exclude_paths=["/admin/"])


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
