"""Serve your own ASGI API over HTTPS on loopback, trusted through the dev IdP's CA.

Azure SDK clients refuse to send a bearer token over plain HTTP (azure-core's
``BearerTokenCredentialPolicy`` raises ``ServiceRequestError`` for a non-https URL), and kiota
only makes an exception for ``localhost``. :class:`HttpsApi` runs an API under uvicorn with TLS,
using the certificate the running :class:`~cae_sdk.devidp.DevIdentityProvider` serves itself
(issued by its throw-away CA for its host and ``localhost``), so one trust anchor,
``idp.ca_bundle``, covers both the identity provider and the API::

    with DevIdentityProvider() as idp, HttpsApi(app, idp) as api:
        httpx.get(f"{api.url}/health", verify=ssl.create_default_context(cafile=api.ca_bundle))

The server runs in a background thread (uvicorn's own event loop); :meth:`HttpsApi.stop` (or
leaving the ``with`` block) stops it gracefully, so the app's lifespan shutdown runs. Loopback
only, like the identity provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import uvicorn

from ._server import bind_loopback

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._runner import DevIdentityProvider

__all__ = ["HttpsApi"]

Lifespan = Literal["auto", "on", "off"]

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 1  # graceful; TLS peers that keep a socket open would hold it longer
# Written by tls.generate_server_tls beside the CA the provider publishes as ``ca_bundle``.
_CERT_FILE, _KEY_FILE = "server.pem", "server-key.pem"


class HttpsApi:
    """An ASGI ``app`` served over HTTPS on the dev identity provider's host and a free port.

    ``url`` is ``https://{host}:{port}`` and ``ca_bundle`` the provider's CA (the same file as
    ``idp.ca_bundle``). ``lifespan`` is uvicorn's setting (``"auto"`` runs startup/shutdown
    handlers when the app has them).
    """

    def __init__(self, app: Any, idp: DevIdentityProvider, *, lifespan: Lifespan = "auto") -> None:
        self.app = app
        self.host = idp.host
        self.ca_bundle = idp.ca_bundle
        if not self.ca_bundle:
            raise RuntimeError("start the DevIdentityProvider before serving an API with its CA")
        folder = Path(self.ca_bundle).parent
        self._cert, self._key = folder / _CERT_FILE, folder / _KEY_FILE
        if not (self._cert.is_file() and self._key.is_file()):
            raise RuntimeError("the dev identity provider's TLS files are gone (is it stopped?)")
        self._lifespan = lifespan
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("HttpsApi is not started")
        return f"https://{self.host}:{self.port}"

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("HttpsApi is already running")
        sock = bind_loopback(self.host)
        sock.setblocking(True)  # uvicorn's own loop makes it non-blocking again
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            ssl_certfile=str(self._cert),
            ssl_keyfile=str(self._key),
            log_level="warning",
            access_log=False,  # headers and query strings can hold secrets
            lifespan=self._lifespan,
            timeout_graceful_shutdown=_STOP_TIMEOUT,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"cae-https-api-{self.port}",
            daemon=True,
        )
        self._server, self._thread, self._socket = server, thread, sock
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the API on {self.host}:{self.port} did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop gracefully (lifespan shutdown runs; in-flight requests finish), forcing the
        server down only when that takes longer than a few seconds."""
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(_STOP_TIMEOUT + 1)
        if thread.is_alive():
            server.force_exit = True
            thread.join(_STOP_TIMEOUT)
        if sock is not None:
            _close_quietly(sock)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    def __repr__(self) -> str:
        state = f"https://{self.host}:{self.port}" if self._server else "stopped"
        return f"HttpsApi({state})"


def _close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
