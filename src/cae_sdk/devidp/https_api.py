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

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import uvicorn

from ._server import ServerThread, Service, bind_loopback

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._runner import DevIdentityProvider

__all__ = ["HttpsApi"]

Lifespan = Literal["auto", "on", "off"]

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 1  # graceful; TLS peers that keep a socket open would hold it longer
# Written by tls.generate_server_tls beside the CA the provider publishes as ``ca_bundle``.
_CERT_FILE, _KEY_FILE = "server.pem", "server-key.pem"


class HttpsApi(Service):
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
        self._server: ServerThread | None = None
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
        self._server = ServerThread(
            [(config, sock)],
            what=f"the API on {self.host}:{self.port}",
            name=f"cae-https-api-{self.port}",
            grace=_STOP_TIMEOUT + 1,
        )
        try:
            self._server.start(_START_TIMEOUT)
        except BaseException:
            self._server = None
            sock.close()
            raise
        return self

    def stop(self) -> None:
        """Stop gracefully (lifespan shutdown runs; in-flight requests finish), forcing the
        server down only when that takes longer than a few seconds."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __repr__(self) -> str:
        state = f"https://{self.host}:{self.port}" if self._server else "stopped"
        return f"HttpsApi({state})"
