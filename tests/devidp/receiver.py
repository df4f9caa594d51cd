"""A tiny Shared Signals push receiver (RFC 8935) on uvicorn 127.0.0.1, for tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cae_sdk.devidp._server import bind_loopback


@dataclass
class Receiver:
    url: str = ""
    received: list[str] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    content_types: list[str | None] = field(default_factory=list)
    # Scripted answers: each entry (status, json body or None) is used once, then 202.
    script: list[tuple[int, dict[str, str] | None]] = field(default_factory=list)
    attempts: int = 0

    async def endpoint(self, request: Request) -> Response:
        self.attempts += 1
        body = (await request.body()).decode()
        if self.script:
            status, payload = self.script.pop(0)
            return JSONResponse(payload, status) if payload else Response(status_code=status)
        self.received.append(body)
        self.authorizations.append(request.headers.get("authorization"))
        self.content_types.append(request.headers.get("content-type"))
        return Response(status_code=202)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.received) >= count, f"got {len(self.received)} SETs, wanted {count}"
        return list(self.received)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/events", receiver.endpoint, methods=["POST"])])
    sock = bind_loopback("127.0.0.1")
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/events"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield receiver
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()
