"""A JWKS endpoint on 127.0.0.1 that misbehaves on purpose: silent, trickling, or huge.

A raw asyncio server (not an ASGI app) so it can do what a well-behaved framework would not:
accept and never answer, send one byte every half second, or stream 48 MB.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

HUGE_BYTES = 48 * 1024 * 1024


class HostileJWKS:
    """``mode``: ok | silent | trickle | huge | huge-declared (a Content-Length of 48 MB)."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.mode = "ok"
        self.hits = 0
        self.bytes_sent = 0
        self.url = ""
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await reader.readuntil(b"\r\n\r\n")
            self.hits += 1
            await self._answer(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter) -> None:
        mode = self.mode
        if mode == "ok":
            body = json.dumps(self.jwks).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        elif mode == "silent":
            await asyncio.sleep(3600)  # accepted, never answered, never closed
        elif mode == "trickle":
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: 100000\r\n\r\n"
            )
            for _ in range(100_000):
                writer.write(b" ")  # JSON whitespace, one byte every half second
                await writer.drain()
                self.bytes_sent += 1
                await asyncio.sleep(0.5)
        else:
            length = f"content-length: {HUGE_BYTES}\r\n" if mode == "huge-declared" else ""
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                + length.encode()
                + b"\r\n"
            )
            chunk = b" " * 65536
            while self.bytes_sent < HUGE_BYTES:
                writer.write(chunk)
                await writer.drain()
                self.bytes_sent += len(chunk)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[HostileJWKS]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/keys"
        try:
            yield self
        finally:
            server.close()
            for writer in list(self._writers):
                writer.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
