"""Adapter benchmarks: what each cae-sdk adapter adds per request, against a static token.

Each adapter is timed against a baseline on the same transport that differs only by the
adapter (a held, valid token; no challenge): goal at most 10 % more time per request.

* ``requests``: ``CAESession`` against a session with a static ``Authorization`` header, over an
  in-memory transport adapter.
* ``aiohttp``: a session with ``CAEClientMiddleware`` against one with a static header, over an
  aiohttp web server on 127.0.0.1 (same event loop); a third session with the static header and
  a no-op middleware shows what aiohttp's middleware machinery itself costs, so the part that is
  the adapter's own is clear (``_aiohttp_contenders.py``). Also counted in instructions per
  request (valgrind's callgrind, ``_instructions.py``), a figure the machine's load cannot move.
* azure-core ``BearerTokenCredentialPolicy`` (sync, in-memory transport) and
  ``AsyncBearerTokenCredentialPolicy`` (aiohttp, loopback): the policy with
  ``credential.as_azure_credential()`` / ``as_async_azure_credential()`` against the same policy
  with a static azure-core credential (the policy's own work is the same in both).
* kiota (``HttpxRequestAdapter`` + ``AzureIdentityAuthenticationProvider``, in-memory httpx
  transport): kiota asks the credential on every request, so this is where the adapter's held
  token matters; baseline: the same provider with a static azure-core credential.

Time is the process's CPU time per request (``time.process_time``: client and, for the
loopback cases, the in-process server), so other processes on a shared machine disturb it far
less than wall time (wall time is kept too, and printed for aiohttp). The contenders run in
short interleaved rounds, the order rotating each round, and the overhead is the median of the
per-round ratios (quartiles printed): drift in the machine's load hits both sides of a ratio
alike.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import requests
from _aiohttp_contenders import SCOPE, TIMED, contenders, get
from _aiohttp_contenders import StaticCredential as _StaticCredential
from _instructions import per_request
from _report import Row, print_goal_table
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest, Response
from requests.structures import CaseInsensitiveDict

from cae_sdk.client.requests import CAESession

URL = "https://api.bench/x"
OVERHEAD_GOAL = 0.10
ROUNDS = 21
INSTRUCTION_REQUESTS = 200  # per contender, under callgrind

Sample = tuple[float, float]  # CPU and wall seconds per request, one round
Times = dict[str, list[Sample]]


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


def _rotated(names: list[str], index: int) -> list[str]:
    shift = index % len(names)
    return names[shift:] + names[:shift]


def _rounds(contenders: dict[str, Callable[[int], Sample]], n: int) -> Times:
    """``ROUNDS`` interleaved rounds of ``n`` requests per contender, the order rotating."""
    names = list(contenders)
    for name in names:
        contenders[name](max(n // 5, 20))  # warm up
    times: Times = {name: [] for name in names}
    for index in range(ROUNDS):
        for name in _rotated(names, index):
            times[name].append(contenders[name](n))
    return times


async def _arounds(contenders: dict[str, Callable[[int], Awaitable[Sample]]], n: int) -> Times:
    names = list(contenders)
    for name in names:
        await contenders[name](max(n // 5, 20))
    times: Times = {name: [] for name in names}
    for index in range(ROUNDS):
        for name in _rotated(names, index):
            times[name].append(await contenders[name](n))
    return times


def _timed(call: Callable[[], object]) -> Callable[[int], Sample]:
    def run(n: int) -> Sample:
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(n):
            call()
        return (time.process_time() - cpu) / n, (time.perf_counter() - wall) / n

    return run


def _atimed(call: Callable[[], Awaitable[object]]) -> Callable[[int], Awaitable[Sample]]:
    async def run(n: int) -> Sample:
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(n):
            await call()
        return (time.process_time() - cpu) / n, (time.perf_counter() - wall) / n

    return run


def _overheads(times: Times, ours: str, baseline: str, clock: int = 0) -> list[float]:
    """Per-round overhead of ``ours`` over ``baseline`` (``clock`` 0: CPU, 1: wall), sorted."""
    pairs = zip(times[ours], times[baseline], strict=True)
    return sorted(mine[clock] / theirs[clock] - 1 for mine, theirs in pairs)


def _spread(overheads: list[float]) -> str:
    low, middle, high = statistics.quantiles(overheads, n=4)
    return f"{middle * 100:+.1f} % (quartiles {low * 100:+.1f} / {high * 100:+.1f} %)"


# -- requests -----------------------------------------------------------------------------------


def bench_requests() -> Times:
    static = requests.Session()
    static.headers["Authorization"] = "Bearer static-token"
    cae = CAESession(_StaticCredential(), SCOPE)
    for session in (static, cae):
        session.mount("https://api.bench", _MemoryAdapter())
    return _rounds(
        {"cae": _timed(lambda: cae.get(URL)), "static": _timed(lambda: static.get(URL))}, 400
    )


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


def bench_azure_core() -> Times:
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
        {
            "cae": _timed(lambda: cae.send_request(HttpRequest("GET", URL))),
            "static": _timed(lambda: static.send_request(HttpRequest("GET", URL))),
        },
        300,
    )


# -- async: aiohttp, azure-core async and kiota --------------------------------------------------


async def bench_async() -> dict[str, Times]:
    results: dict[str, Times] = {}
    async with contenders() as (url, sessions):
        results["aiohttp"] = await _arounds(
            {name: _atimed(lambda s=sessions[name]: get(s, url)) for name in TIMED},
            400,
        )
        results["azure-core async"] = await _bench_azure_async(url)
    results["kiota"] = await _bench_kiota()
    return results


async def _bench_azure_async(url: str) -> Times:
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
        return await _arounds(
            {"cae": _atimed(lambda: send(cae)), "static": _atimed(lambda: send(static))}, 150
        )


async def _bench_kiota() -> Times:
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

    async def send(kiota: HttpxRequestAdapter) -> None:
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
        return await _arounds(
            {"cae": _atimed(lambda: send(cae)), "static": _atimed(lambda: send(static))}, 500
        )


# -- the table -------------------------------------------------------------------------------------


def _goal_row(name: str, times: Times) -> Row:
    overheads = _overheads(times, "cae", "static")
    ours = statistics.median(sample[0] for sample in times["cae"])
    theirs = statistics.median(sample[0] for sample in times["static"])
    return (
        f"{name}: adapter vs static token (CPU)",
        f"{_spread(overheads)}; {ours * 1e6:.0f} vs {theirs * 1e6:.0f} us",
        f"<= {OVERHEAD_GOAL:.0%}",
        statistics.median(overheads) <= OVERHEAD_GOAL,
    )


def _aiohttp_rows(times: Times) -> list[Row]:
    """What aiohttp's middleware machinery costs, what the adapter costs beyond it, and the
    instruction counts (callgrind) of the sessions."""
    rows: list[tuple[str, str]] = [
        ("aiohttp: the same, wall clock", _spread(_overheads(times, "cae", "static", 1))),
        (
            "aiohttp: no-op middleware vs static (aiohttp's)",
            _spread(_overheads(times, "noop", "static")),
        ),
        ("aiohttp: adapter vs no-op middleware (ours)", _spread(_overheads(times, "cae", "noop"))),
    ]
    return [(name, value, "report", True) for name, value in rows + _instruction_rows()]


def _instruction_rows() -> list[tuple[str, str]]:
    """Instructions per request of the aiohttp sessions (callgrind, a child process)."""
    script = Path(__file__).resolve().parent / "_aiohttp_contenders.py"
    label = "aiohttp: instructions per request"
    try:
        counts = per_request(script, INSTRUCTION_REQUESTS, [*TIMED, "cae_https"])
    except (OSError, subprocess.CalledProcessError, RuntimeError) as error:
        return [(label, f"failed: {error}")]
    if counts is None:
        return [(label, "skipped: valgrind not installed")]
    static, noop, cae, https = (counts[name] for name in (*TIMED, "cae_https"))

    def over(ours: float, theirs: float) -> str:
        return f"{ours - theirs:+,.0f} ({(ours / theirs - 1) * 100:+.1f} %)"

    return [
        ("aiohttp: instructions/request, static header", f"{static:,.0f}"),
        ("aiohttp: instructions, adapter vs static", over(cae, static)),
        ("aiohttp: instructions, no-op middleware vs static", over(noop, static)),
        ("aiohttp: instructions, adapter vs no-op (ours)", over(cae, noop)),
        ("aiohttp: instructions, the same without the http check", over(https, noop)),
    ]


def main() -> int:
    results = {"requests": bench_requests(), "azure-core": bench_azure_core()}
    results |= asyncio.run(bench_async())
    rows = [_goal_row(name, times) for name, times in results.items()]
    at = list(results).index("aiohttp") + 1
    rows[at:at] = _aiohttp_rows(results["aiohttp"])
    return print_goal_table(rows)


if __name__ == "__main__":
    raise SystemExit(main())
