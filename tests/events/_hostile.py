"""A peer that answers 200 at once, then trickles its body or never stops sending it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


class Hostile:
    """Answers 200 at once, then trickles a byte every 50 ms for ever, or streams without end."""

    def __init__(self) -> None:
        self.sent = 0
        self.mode = "trickle"

    async def _body(self) -> AsyncIterator[bytes]:
        if self.mode == "trickle":
            yield b'{"sets": {'
            while True:
                await asyncio.sleep(0.05)
                self.sent += 1
                yield b" "
        else:
            yield b'{"issuer": "'
            chunk = b"x" * 65536
            while True:
                self.sent += len(chunk)
                yield chunk
                await asyncio.sleep(0)

    async def answer(self, request: Request) -> Response:
        return StreamingResponse(self._body(), media_type="application/json")

    def app(self) -> Starlette:
        methods = ["GET", "POST"]
        return Starlette(routes=[Route("/{path:path}", self.answer, methods=methods)])
