"""The httpx-backed HTTP client MSAL uses for every identity provider call.

MSAL talks to its ``http_client`` through a small ``requests``-like surface
(``msal/oauth2cli/http.py``): ``get(url, params=, headers=, **kw)`` and
``post(url, params=, data=, headers=, **kw)`` returning an object with ``status_code``,
``text``, ``headers`` and ``raise_for_status()``. Routing MSAL through httpx gives token requests
the application's TLS trust, proxy and timeout settings, and makes them visible to respx.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import requests

from ..core.errors import ConfigurationError
from ..core.urls import loggable_url

__all__ = ["HttpSettings", "MsalHttpClient"]


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Transport settings shared by MSAL's client and, through it, every token request.

    ``verify`` is ``True`` (system trust), ``False`` (tests only), a CA bundle path or an
    ``ssl.SSLContext``; ``proxy`` is a proxy URL; ``timeout`` is in seconds.
    """

    verify: bool | str | ssl.SSLContext = True
    proxy: str | None = None
    timeout: float = 30.0

    def build_client(self) -> httpx.Client:
        return httpx.Client(verify=self.ssl_verify(), proxy=self.proxy, timeout=self.timeout)

    def ssl_verify(self) -> bool | ssl.SSLContext:
        """``verify`` as httpx wants it (a CA bundle path becomes an ``SSLContext``)."""
        if not isinstance(self.verify, str):
            return self.verify
        try:
            if os.path.isdir(self.verify):
                return ssl.create_default_context(capath=self.verify)
            return ssl.create_default_context(cafile=self.verify)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(f"cannot load CA bundle {self.verify!r}: {exc}") from None


class MsalHttpClient:
    """Adapter with the HTTP surface MSAL expects, backed by one ``httpx.Client``.

    Transport failures surface as ``requests`` exceptions because MSAL catches exactly those
    (``requests.exceptions.RequestException``) to fall back to a still-valid cached token when a
    proactive refresh cannot reach the identity provider (``msal/application.py``).
    """

    def __init__(self, settings: HttpSettings | None = None, *, client: httpx.Client | None = None):
        self._owned = client is None
        self._client = client if client is not None else (settings or HttpSettings()).build_client()

    def get(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        return self._send("GET", url, params=params, headers=headers, timeout=kwargs.get("timeout"))

    def post(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        body: dict[str, Any] = {}
        if isinstance(data, Mapping):
            # Form-encode as requests would: drop None members and send bytes as text (MSAL
            # passes signed client assertions as bytes; httpx would send their repr).
            body["data"] = {
                k: v.decode("utf-8") if isinstance(v, bytes) else v
                for k, v in data.items()
                if v is not None
            }
        elif data is not None:
            body["content"] = data
        return self._send(
            "POST", url, params=params, headers=headers, timeout=kwargs.get("timeout"), **body
        )

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        timeout: float | None,
        **body: Any,
    ) -> httpx.Response:
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        try:
            response = self._client.request(
                method, url, params=clean_params, headers=dict(headers or {}), **body, **extra
            )
        except httpx.TimeoutException as exc:
            raise requests.exceptions.Timeout(f"{method} {loggable_url(url)} timed out") from exc
        except httpx.TransportError as exc:
            raise requests.exceptions.ConnectionError(
                f"{method} {loggable_url(url)} failed: {type(exc).__name__}"
            ) from exc
        except httpx.RequestError as exc:  # a body that does not decode, too many redirects
            raise requests.exceptions.RequestException(
                f"{method} {loggable_url(url)} failed: {type(exc).__name__}"
            ) from exc
        return response  # not streamed: httpx has already read the body

    def close(self) -> None:
        """Close the underlying client unless the application passed it in (it owns it)."""
        if self._owned:
            self._client.close()
