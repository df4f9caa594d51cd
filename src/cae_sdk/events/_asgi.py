"""Tiny ASGI helpers shared by the push receiver and the admin app (no framework on the path)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from enum import Enum
from typing import Any

from starlette.types import Receive, Scope, Send

from ._background import within

__all__ = ["NoBody", "handle_lifespan", "is_http", "read_body", "respond", "respond_json"]


class NoBody(Enum):
    """Why :func:`read_body` has no body to return."""

    TOO_LARGE = "too_large"
    TIMEOUT = "timeout"
    """Not complete within the deadline: answer 408 (RFC 9110 section 15.5.9, repeatable)."""
    GONE = "gone"
    """The client disconnected."""


async def read_body(receive: Receive, limit: int, deadline: float) -> bytes | NoBody:
    """The request body, read within ``deadline`` seconds: servers set no limit on how slowly
    a client may send it, so a client sending a byte at a time held the endpoint for ever."""
    try:
        if sys.version_info >= (3, 11):
            # In this task (no second task per request, which cost the push endpoint about a
            # tenth of its throughput); asyncio.timeout keeps an outer cancellation intact.
            async with asyncio.timeout(deadline):
                return await _read_body(receive, limit)
        return await within(_read_body(receive, limit), deadline)
    except asyncio.TimeoutError:
        return NoBody.TIMEOUT


async def _read_body(receive: Receive, limit: int) -> bytes | NoBody:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return NoBody.GONE
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return NoBody.TOO_LARGE
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def respond(
    send: Send,
    status: int,
    body: bytes = b"",
    *,
    content_type: bytes | None = None,
    extra: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    headers = [(b"content-length", str(len(body)).encode()), *extra]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def respond_json(
    send: Send, status: int, data: Any, *, extra: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps(data, separators=(",", ":")).encode()
    await respond(send, status, body, content_type=b"application/json", extra=extra)


async def handle_lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge lifespan messages so the app also runs standalone under uvicorn."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def is_http(scope: Scope, receive: Receive, send: Send) -> bool:
    """True for an HTTP request; answers lifespan itself and ignores other scope types."""
    if scope["type"] == "lifespan":
        await handle_lifespan(receive, send)
    return bool(scope["type"] == "http")
