"""The aiohttp contenders of ``bench_adapters``, built once for the timed rounds and the
instruction counts.

``aiohttp.ClientSession`` s against one aiohttp web server on 127.0.0.1, same event loop:

* ``static``: a static ``Authorization`` header (``ClientSession(headers=...)``), the baseline;
* ``noop``: the same, plus a client middleware that only calls the handler: what aiohttp's own
  middleware machinery costs (``build_client_middlewares`` wraps the handler in a closure and
  an extra coroutine per request), which any middleware pays;
* ``cae``: ``CAEClientMiddleware`` with a held, valid token (no challenge);
* ``cae_https``: the same with ``allow_http=True``, so it skips what only a plain-http request
  pays (the check that the URL goes to a loopback host, RFC 6750 section 5.3): what the
  adapter costs on an https request (counted in instructions only).

Run as a script (``python _aiohttp_contenders.py N static,noop,cae``), it warms each session
up, then sends N requests through each in the order given, calling ``os.getppid()`` before the
first and after each: ``valgrind --tool=callgrind --dump-before=getppid`` cuts the count there
(see ``_instructions.py``). The collector is off during the counted requests, so a collection
that happens to fall in one contender's stretch cannot tilt the comparison.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from cae_sdk.client import CredentialBase
from cae_sdk.client.aiohttp import CAEClientMiddleware

SCOPE = "api://bench/.default"
TIMED = ["static", "noop", "cae"]  # the timed rounds; the instruction counts add cae_https


class StaticCredential(CredentialBase):
    """A cae-sdk credential whose token never needs refreshing (no identity provider)."""

    def _acquire(self, scopes: list[str], claims: str | None) -> dict[str, Any]:
        return {"access_token": "static-token", "expires_in": 86400}


async def _noop(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    return await handler(request)


@asynccontextmanager
async def contenders() -> AsyncIterator[tuple[str, dict[str, aiohttp.ClientSession]]]:
    """The server's URL and the sessions (by name), closed on exit."""

    async def ok(request: web.Request) -> web.Response:
        return web.Response(body=b"{}", content_type="application/json")

    app = web.Application()
    app.router.add_get("/x", ok)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    header = {"Authorization": "Bearer static-token"}
    sessions = {
        "static": aiohttp.ClientSession(headers=header),
        "noop": aiohttp.ClientSession(headers=header, middlewares=[_noop]),
        "cae": aiohttp.ClientSession(middlewares=[CAEClientMiddleware(StaticCredential(), SCOPE)]),
        "cae_https": aiohttp.ClientSession(
            middlewares=[CAEClientMiddleware(StaticCredential(), SCOPE, allow_http=True)]
        ),
    }
    try:
        yield str(server.make_url("/x")), sessions
    finally:
        for session in sessions.values():
            await session.close()
        await server.close()


async def get(session: aiohttp.ClientSession, url: str) -> None:
    """One request, its body read (what each contender does per request)."""
    async with session.get(url) as response:
        await response.read()


async def _marked(n: int, names: list[str]) -> None:
    async with contenders() as (url, sessions):
        for name in names:
            for _ in range(50):  # connections open, caches warm
                await get(sessions[name], url)
        gc.collect()
        gc.freeze()
        gc.disable()
        os.getppid()  # marker: everything before is start-up
        for name in names:
            session = sessions[name]
            for _ in range(n):
                await get(session, url)
            os.getppid()  # marker: the end of this contender's stretch
        gc.enable()


if __name__ == "__main__":
    asyncio.run(_marked(int(sys.argv[1]), sys.argv[2].split(",")))
