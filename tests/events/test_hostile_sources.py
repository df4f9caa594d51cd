"""Event sources that trickle, never finish, or answer without end: every outbound call of the
poll client, the stream client and the Graph client ends by a deadline of its own and reads a
bounded body, whatever the peer does (real uvicorn peers, real httpx)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from _hostile import Hostile
from _ssf_helpers import AUDIENCE, RSA_KEY, running

from cae_sdk.core.errors import CAEError
from cae_sdk.events import InMemoryEventStore
from cae_sdk.events.graph import GraphClient
from cae_sdk.events.ssf import PollClient, SetReceiver, StreamClient


def _receiver() -> SetReceiver:
    return SetReceiver.for_transmitter(
        "https://tx.example", AUDIENCE, InMemoryEventStore(), jwks={"keys": [RSA_KEY.jwk()]}
    )


async def _ends(call: Callable[[], Awaitable[Any]], within: float) -> float:
    began = time.monotonic()
    with pytest.raises(CAEError):
        await asyncio.wait_for(call(), within + 10)  # the test's own guard, far beyond
    return time.monotonic() - began


@pytest.mark.parametrize("mode", ["trickle", "endless"])
async def test_a_hostile_poll_endpoint_cannot_hold_or_flood_the_poll_client(mode: str) -> None:
    hostile = Hostile()
    hostile.mode = mode
    async with running(hostile.app()) as url, httpx.AsyncClient() as http:
        poller = PollClient(
            _receiver(), f"{url}/poll", http=http, auth="t", request_timeout=1.0,
            max_response_bytes=256 * 1024,
        )  # fmt: skip
        assert await _ends(poller.poll_once, 1.0) < 3.0
        if mode == "endless":
            assert hostile.sent < 4 * 1024 * 1024  # stopped reading near the cap


@pytest.mark.parametrize("mode", ["trickle", "endless"])
async def test_a_hostile_transmitter_cannot_hold_stream_management(mode: str) -> None:
    hostile = Hostile()
    hostile.mode = mode
    async with running(hostile.app()) as url, httpx.AsyncClient() as http:
        streams = StreamClient(url, http=http, auth="t", timeout=1.0)
        assert await _ends(streams.discover, 1.0) < 3.0
        if mode == "endless":
            assert hostile.sent < 4 * 1024 * 1024


async def test_a_hostile_graph_cannot_hold_the_bridge() -> None:
    hostile = Hostile()
    async with running(hostile.app()) as url, httpx.AsyncClient() as http:
        graph = GraphClient(http, "t", base_url=url, timeout=1.0)
        assert await _ends(lambda: graph.get_page(f"{url}/v1.0/users/delta"), 1.0) < 3.0
        assert await _ends(lambda: graph.post("/v1.0/users/x/revokeSignInSessions"), 1.0) < 3.0
