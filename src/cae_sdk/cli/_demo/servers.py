"""Run an ASGI app with uvicorn on a loopback port in a background thread (demo and tests)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..._extras import missing_extra
from .._output import CLIError, ExitCode

__all__ = ["BackgroundServer", "serve"]


class BackgroundServer:
    """A started uvicorn server; ``url`` is ``http://host:port``."""

    def __init__(self, server: Any, thread: threading.Thread, host: str, port: int) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)


@contextmanager
def serve(
    app: Any, *, host: str = "127.0.0.1", startup_timeout: float = 10.0
) -> Iterator[BackgroundServer]:
    """Serve ``app`` on ``host`` and a free port (the OS picks it: never a fixed port)."""
    try:
        import uvicorn
    except ModuleNotFoundError as exc:
        raise missing_extra(exc, "demo", "serving an API on loopback") from None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="auto", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise CLIError(f"the server on {host}:{port} did not start", ExitCode.UNAVAILABLE)
        time.sleep(0.01)
    background = BackgroundServer(server, thread, host, port)
    try:
        yield background
    finally:
        background.stop()
        sock.close()
