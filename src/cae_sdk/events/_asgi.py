"""Tiny ASGI helpers shared by the push receiver and the admin app (no framework on the path)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.types import Receive, Scope, Send

__all__ = ["handle_lifespan", "is_http", "read_body", "respond", "respond_json"]


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` or the client went away."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
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
