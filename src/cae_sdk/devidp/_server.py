"""Several uvicorn servers on one event loop in a background thread, and the ``start()`` /
``stop()`` context manager protocol of the things that run them.

Sockets are bound by the caller (port 0, the real port read back before the app is built), so
URLs are known up front and nothing races for a port.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import uvicorn

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ServerThread", "Service", "bind_loopback"]


def bind_loopback(host: str) -> socket.socket:
    # proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP (base_events._set_nodelay); without it every response written in two parts
    # (headers, body) waits for the peer's delayed ACK, about 40 ms per request.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class ServerThread:
    """Run ``(config, socket)`` pairs until :meth:`stop`; ``on_shutdown`` runs on the loop
    after the servers stop (to end background tasks cleanly). ``what`` names the servers in
    errors and ``name`` is the thread's; :meth:`stop` gives in-flight requests ``grace``
    seconds before it forces the servers down."""

    def __init__(
        self,
        servers: Sequence[tuple[uvicorn.Config, socket.socket]],
        *,
        what: str,
        name: str,
        grace: float = 0.5,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._servers = [(uvicorn.Server(config), sock) for config, sock in servers]
        self._what = what
        self._name = name
        self._grace = grace
        self._on_shutdown = on_shutdown
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, timeout: float) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not all(server.started for server, _ in self._servers):
            if self._error is not None or not self._thread.is_alive():
                self.stop()
                raise RuntimeError(f"{self._what} failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self._what} did not start in time")
            time.sleep(0.005)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(
                asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in self._servers))
            )
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            self._error = exc
        finally:
            for _, sock in self._servers:
                sock.close()
            loop.run_until_complete(self._shutdown())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _shutdown(self) -> None:
        if self._on_shutdown is not None:
            await self._on_shutdown()
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def stop(self) -> None:
        for server, _ in self._servers:
            server.should_exit = True
        if self._thread is None:
            return
        # Idle keep-alive TLS connections of callers would hold a graceful shutdown until its
        # timeout; give in-flight requests a moment, then stop without waiting.
        self._thread.join(timeout=self._grace)
        if self._thread.is_alive():
            for server, _ in self._servers:
                server.force_exit = True
            self._thread.join(timeout=5)
        self._thread = None


class Service:
    """``start()`` and ``stop()`` as a context manager; ``async with`` runs them in a worker
    thread (they block while servers start and stop)."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)
