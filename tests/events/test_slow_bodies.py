"""A client that sends its request body a byte at a time (after the right headers) cannot hold
the push endpoint or the admin API: each reads the body under a deadline of its own and answers
408, which RFC 9110 section 15.5.9 lets the client repeat (real uvicorn, raw socket)."""

from __future__ import annotations

import asyncio
import time

import pytest
from _ssf_helpers import AUDIENCE, RSA_KEY, running

from cae_sdk.core.secevents import SECEVENT_CONTENT_TYPE
from cae_sdk.events import InMemoryEventStore
from cae_sdk.events._admin import AdminApp
from cae_sdk.events.ssf import PushReceiverApp, SetReceiver

KEY = "admin-key-0123456789"


def _push() -> PushReceiverApp:
    receiver = SetReceiver.for_transmitter(
        "https://tx.example", AUDIENCE, InMemoryEventStore(), jwks={"keys": [RSA_KEY.jwk()]}
    )
    return PushReceiverApp(receiver, authorization="Bearer p", body_timeout=1.0)


async def _trickle(url: str, headers: str) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(headers.encode())
    await writer.drain()

    async def drip() -> None:
        while True:
            await asyncio.sleep(0.2)
            writer.write(b"x")
            await writer.drain()

    dripping = asyncio.create_task(drip())
    try:
        return await asyncio.wait_for(reader.readline(), 8)  # the test's own guard, far beyond
    finally:
        dripping.cancel()
        writer.close()


@pytest.mark.parametrize("target", ["push", "admin"])
async def test_a_trickled_body_is_answered_408_by_the_endpoints_own_deadline(target: str) -> None:
    if target == "push":
        app: object = _push()
        auth, content_type = "Bearer p", SECEVENT_CONTENT_TYPE
    else:
        app = AdminApp(InMemoryEventStore(), enabled=True, static_key=KEY, body_timeout=1.0)
        auth, content_type = f"Bearer {KEY}", "application/json"
    async with running(app) as url:
        began = time.monotonic()
        status = await _trickle(
            url,
            f"POST /events HTTP/1.1\r\nhost: x\r\nauthorization: {auth}\r\n"
            f"content-type: {content_type}\r\ncontent-length: 1000\r\n\r\n",
        )
        assert status.startswith(b"HTTP/1.1 408"), status
        assert time.monotonic() - began < 5
