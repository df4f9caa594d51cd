"""Make an absolute deadline bind every socket operation of MSAL's HTTP client.

httpx's timeouts are per operation: a read timeout restarts on every byte, so an identity
provider that trickles one byte every half second (status line and headers included) holds a
call for as long as it likes. httpcore lets a connection pool use any network backend
(httpcore's "Network backends" documentation); this one wraps the pool's own and, while
:func:`~cae_sdk.client._exchange.socket_deadline` is set in the calling context, shortens the
timeout of every connect, TLS handshake, write and read to the time left, and fails the
operation (``httpcore.ConnectTimeout`` / ``WriteTimeout`` / ``ReadTimeout``, which httpx maps to
its own timeouts) once the deadline has passed. Outside such a context it changes nothing, so it
is safe to install on a client the application also uses for other calls.

httpx does not take a network backend as an argument; :func:`install_deadlines` reaches the
pools of a client's transports (``Client._transport``, ``Client._mounts``,
``HTTPTransport._pool``, ``ConnectionPool._network_backend``). When that layout is not there (a
custom transport, another httpx version), it reports ``False`` and the HTTP adapter runs each
call under :mod:`cae_sdk.client._watchdog` instead: the caller's deadline never depends on
these private attributes, only how promptly a late call is stopped does.

Why not a transport of our own: httpx's ``timeout`` request extension is read once per phase
by httpcore (a header trickle restarts each read's timeout), and a client built with
``transport=`` ignores proxy environment variables (``HTTPS_PROXY``, ``NO_PROXY``) that would
then have to be re-implemented; neither reaches an application's own client either.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from ._exchange import current_socket_deadline

__all__ = ["install_deadlines"]


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    deadline = current_socket_deadline()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the token request's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self.inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self.inner.connect_tcp(host, port, bounded, local_address, socket_options))

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self.inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def install_deadlines(client: httpx.Client) -> bool:
    """Wrap the network backend of every pool of ``client``; ``True`` when all were reached."""
    transports = [getattr(client, "_transport", None)]
    transports.extend(getattr(client, "_mounts", {}).values())
    complete = True
    for transport in transports:
        if transport is None:  # a mount that disables proxying for some URLs
            continue
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, _Backend):
            continue
        if not isinstance(backend, httpcore.NetworkBackend):
            complete = False
            continue
        pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
    return complete
