"""Run an ASGI app with uvicorn on a loopback port in a background thread (demo and tests).

The thread is the dev identity provider's :class:`~cae_sdk.devidp._server.ServerThread`: one
way to run uvicorn beside the caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..._extras import missing_extra
from .._output import CLIError, ExitCode

if TYPE_CHECKING:
    from ...devidp._server import ServerThread

__all__ = ["BackgroundServer", "serve"]

_STOP_GRACE = 5.0  # seconds in-flight requests get before the server is forced down


class BackgroundServer:
    """A started uvicorn server; ``url`` is ``http://host:port``."""

    def __init__(self, thread: ServerThread, host: str, port: int) -> None:
        self._thread = thread
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        self._thread.stop()


@contextmanager
def serve(
    app: Any, *, host: str = "127.0.0.1", startup_timeout: float = 10.0
) -> Iterator[BackgroundServer]:
    """Serve ``app`` on ``host`` and a free port (the OS picks it: never a fixed port)."""
    try:
        import uvicorn

        from ...devidp._server import ServerThread, bind_loopback
    except ModuleNotFoundError as exc:
        raise missing_extra(exc, "demo", "serving an API on loopback") from None
    sock = bind_loopback(host)
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", lifespan="auto", access_log=False)
    thread = ServerThread(
        [(config, sock)],
        what=f"the server on {host}:{port}",
        name=f"uvicorn-{port}",
        grace=_STOP_GRACE,
    )
    try:
        thread.start(startup_timeout)
    except RuntimeError as exc:
        sock.close()
        raise CLIError(str(exc), ExitCode.UNAVAILABLE) from None
    background = BackgroundServer(thread, host, port)
    try:
        yield background
    finally:
        background.stop()
