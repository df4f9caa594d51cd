"""Adapter benchmarks: what each cae-sdk adapter adds per request, against a static token.

Each adapter is timed against a baseline on the same transport that differs only by the
adapter (a held, valid token; no challenge): goal at most 10 % more time per request.

* ``requests``: ``CAESession`` against a session with a static ``Authorization`` header, over an
  in-memory transport adapter.
* ``aiohttp``: a session with ``CAEClientMiddleware`` against one with a static header, over an
  aiohttp web server on 127.0.0.1 (same event loop).
* azure-core ``BearerTokenCredentialPolicy`` (sync, in-memory transport) and
  ``AsyncBearerTokenCredentialPolicy`` (aiohttp, loopback): the policy with
  ``credential.as_azure_credential()`` / ``as_async_azure_credential()`` against the same policy
  with a static azure-core credential (the policy's own work is the same in both).
* kiota (``HttpxRequestAdapter`` + ``AzureIdentityAuthenticationProvider``, in-memory httpx
  transport): kiota asks the credential on every request, so this is where the adapter's held
  token matters; baseline: the same provider with a static azure-core credential.

Time is the process's CPU time per request (``time.process_time``: client and, for the
loopback cases, the in-process server), so other processes on a shared machine disturb it far
less than wall time. Rounds are interleaved (adapter, baseline, adapter, ...) and the cheapest
round of each counts, so drift hits both alike.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import requests
from _report import print_goal_table
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest, Response
from requests.structures import CaseInsensitiveDict

from cae_sdk.client import CredentialBase
from cae_sdk.client.requests import CAESession

SCOPE = "api://bench/.default"
URL = "https://api.bench/x"
OVERHEAD_GOAL = 0.10
ROUNDS = 7


class _StaticCredential(CredentialBase):
    """A cae-sdk credential whose token never needs refreshing (no identity provider)."""

    def _acquire(self, scopes: list[str], claims: str | None) -> dict[str, Any]:
        return {"access_token": "static-token", "expires_in": 86400}


class _MemoryAdapter(HTTPAdapter):
    """requests transport that answers 200 without a socket."""

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        response = Response()
        response.status_code = 200
        response.headers = CaseInsensitiveDict({"Content-Length": "2"})
        response._content = b"{}"
        response.raw = io.BytesIO(b"{}")
        response.url = str(request.url)
        response.request = request
        response.connection = self
        return response


def _rounds(
    adapter: Callable[[int], float], baseline: Callable[[int], float], n: int
) -> tuple[float, float]:
    adapter(max(n // 10, 20)), baseline(max(n // 10, 20))  # warm up
    ours, theirs = [], []
    for _ in range(ROUNDS):
        ours.append(adapter(n))
        theirs.append(baseline(n))
    return min(ours), min(theirs)


async def _arounds(
    adapter: Callable[[int], Awaitable[float]],
    baseline: Callable[[int], Awaitable[float]],
    n: int,
) -> tuple[float, float]:
    await adapter(max(n // 10, 20)), await baseline(max(n // 10, 20))
    ours, theirs = [], []
    for _ in range(ROUNDS):
        ours.append(await adapter(n))
        theirs.append(await baseline(n))
    return min(ours), min(theirs)


def _timed(call: Callable[[], object]) -> Callable[[int], float]:
    def run(n: int) -> float:
        start = time.process_time()
        for _ in range(n):
            call()
        return (time.process_time() - start) / n

    return run


def _atimed(call: Callable[[], Awaitable[object]]) -> Callable[[int], Awaitable[float]]:
    async def run(n: int) -> float:
        start = time.process_time()
        for _ in range(n):
            await call()
        return (time.process_time() - start) / n

    return run


# -- requests -----------------------------------------------------------------------------------


def bench_requests() -> tuple[float, float]:
    static = requests.Session()
    static.headers["Authorization"] = "Bearer static-token"
    cae = CAESession(_StaticCredential(), SCOPE)
    for session in (static, cae):
        session.mount("https://api.bench", _MemoryAdapter())
    return _rounds(_timed(lambda: cae.get(URL)), _timed(lambda: static.get(URL)), 2000)


# -- azure-core, sync ---------------------------------------------------------------------------


class _StaticAzureCredential:
    """An azure-core credential with a constant token (what the baseline policies use)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken as AzureAccessToken

        return AzureAccessToken("static-token", int(time.time()) + 86400)


class _AsyncStaticAzureCredential:
    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        return _StaticAzureCredential().get_token(*scopes)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> _AsyncStaticAzureCredential:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def bench_azure_core() -> tuple[float, float]:
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.rest import HttpRequest

    def client(credential: Any) -> PipelineClient[Any, Any]:
        session = requests.Session()
        session.mount("https://api.bench", _MemoryAdapter())
        policy = BearerTokenCredentialPolicy(credential, SCOPE, enable_cae=True)
        transport = RequestsTransport(session=session, session_owner=False)
        return PipelineClient("https://api.bench", policies=[policy], transport=transport)

    cae = client(_StaticCredential().as_azure_credential())
    static = client(_StaticAzureCredential())
    return _rounds(
        _timed(lambda: cae.send_request(HttpRequest("GET", URL))),
        _timed(lambda: static.send_request(HttpRequest("GET", URL))),
        2000,
    )


# -- async: aiohttp, azure-core async and kiota --------------------------------------------------


async def bench_async() -> dict[str, tuple[float, float]]:
    import aiohttp
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from cae_sdk.client.aiohttp import CAEClientMiddleware

    async def ok(request: web.Request) -> web.Response:
        return web.Response(body=b"{}", content_type="application/json")

    app = web.Application()
    app.router.add_get("/x", ok)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("/x"))
    results: dict[str, tuple[float, float]] = {}
    try:
        static = aiohttp.ClientSession(headers={"Authorization": "Bearer static-token"})
        cae = aiohttp.ClientSession(middlewares=[CAEClientMiddleware(_StaticCredential(), SCOPE)])

        async def get(session: aiohttp.ClientSession) -> None:
            async with session.get(url) as response:
                await response.read()

        async with static, cae:
            results["aiohttp"] = await _arounds(
                _atimed(lambda: get(cae)), _atimed(lambda: get(static)), 500
            )
        results["azure-core async"] = await _bench_azure_async(url)
    finally:
        await server.close()
    results["kiota"] = await _bench_kiota()
    return results


async def _bench_azure_async(url: str) -> tuple[float, float]:
    from azure.core import AsyncPipelineClient
    from azure.core.pipeline.policies import AsyncBearerTokenCredentialPolicy
    from azure.core.pipeline.transport import AioHttpTransport
    from azure.core.rest import HttpRequest

    def client(credential: Any) -> AsyncPipelineClient[Any, Any]:
        policy = AsyncBearerTokenCredentialPolicy(credential, SCOPE, enable_cae=True)
        return AsyncPipelineClient(url, policies=[policy], transport=AioHttpTransport())

    async def send(client: AsyncPipelineClient[Any, Any]) -> None:
        response = await client.send_request(HttpRequest("GET", url), enforce_https=False)
        await response.read()

    async with (
        client(_StaticCredential().as_async_azure_credential()) as cae,
        client(_AsyncStaticAzureCredential()) as static,
    ):
        return await _arounds(_atimed(lambda: send(cae)), _atimed(lambda: send(static)), 500)


async def _bench_kiota() -> tuple[float, float]:
    from kiota_abstractions.method import Method
    from kiota_abstractions.request_information import RequestInformation
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from kiota_http.httpx_request_adapter import HttpxRequestAdapter

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"{}"))

    def adapter(credential: Any, http: httpx.AsyncClient) -> HttpxRequestAdapter:
        provider = AzureIdentityAuthenticationProvider(
            credential, scopes=[SCOPE], allowed_hosts=["api.bench"]
        )
        return HttpxRequestAdapter(provider, http_client=http)

    async def get(kiota: HttpxRequestAdapter) -> None:
        info = RequestInformation()
        info.http_method = Method.GET
        info.url = URL
        await kiota.send_primitive_async(info, "bytes", {})

    async with (
        httpx.AsyncClient(transport=transport) as ours,
        httpx.AsyncClient(transport=transport) as theirs,
    ):
        cae = adapter(_StaticCredential().as_async_azure_credential(), ours)
        static = adapter(_AsyncStaticAzureCredential(), theirs)
        return await _arounds(_atimed(lambda: get(cae)), _atimed(lambda: get(static)), 1000)


def main() -> int:
    results = {"requests": bench_requests(), "azure-core": bench_azure_core()}
    results |= asyncio.run(bench_async())
    rows = []
    for name, (ours, baseline) in results.items():
        overhead = ours / baseline - 1
        rows.append(
            (
                f"{name}: adapter vs static token",
                f"{ours * 1e6:.0f} vs {baseline * 1e6:.0f} us ({overhead * 100:+.1f} %)",
                f"<= {OVERHEAD_GOAL:.0%}",
                overhead <= OVERHEAD_GOAL,
            )
        )
    return print_goal_table(rows)


if __name__ == "__main__":
    raise SystemExit(main())
