"""The httpx-backed HTTP client MSAL uses for every identity provider call.

MSAL talks to its ``http_client`` through a small ``requests``-like surface
(``msal/oauth2cli/http.py``): ``get(url, params=, headers=, **kw)`` and
``post(url, params=, data=, headers=, **kw)`` returning an object with ``status_code``,
``text``, ``headers`` and ``raise_for_status()``. Routing MSAL through httpx gives token requests
the application's TLS trust, proxy and timeout settings, and makes them visible to respx.

Every call is bounded by the client itself: at most ``timeout`` seconds from the first byte out
to the last byte in, and no later than the deadline of the token acquisition it belongs to
(:mod:`cae_sdk.client._exchange`); the answer is streamed and refused past ``max_answer_bytes``.
On httpx's own transport the deadline binds every socket operation in the calling thread
(connect, TLS, every write and read: :mod:`cae_sdk.client._deadline_backend`). When that cannot
be installed (a client passed in with a transport of its own, or an httpx whose layout
changed), the call runs in a watchdog thread the caller stops waiting for at the deadline
(:mod:`cae_sdk.client._watchdog`): the guarantee to the caller is the same either way.
"""

from __future__ import annotations

import logging
import os
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx

from ..core._urls import loggable_url
from ..core.errors import ConfigurationError
from . import _exchange
from ._answer import read_body, retry_after_seconds
from ._deadline_backend import install_deadlines
from ._exchange import AnswerTimeout, AnswerUnreadable, IdentityProviderUnreachable
from ._redact import install_log_redaction
from ._watchdog import call_before

__all__ = ["DEFAULT_MAX_ANSWER_BYTES", "HttpSettings", "MsalHttpClient"]

logger = logging.getLogger("cae_sdk.client")

DEFAULT_MAX_ANSWER_BYTES = 1024 * 1024
"""Identity provider answers (token responses, discovery documents) are a few kilobytes."""

# Headers that described the body as it travelled; the answer handed to MSAL is already decoded.
_BODY_FRAMING = ("content-encoding", "content-length", "transfer-encoding")


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Transport settings shared by MSAL's client and, through it, every token request.

    ``verify`` is ``True`` (system trust), ``False`` (tests only), a CA bundle path or an
    ``ssl.SSLContext``; ``proxy`` is a proxy URL; ``timeout`` is the most one HTTP call (and one
    token acquisition as a whole) may take, in seconds, enforced by the client;
    ``max_answer_bytes`` caps the size of an answer read.
    """

    verify: bool | str | ssl.SSLContext = True
    proxy: str | None = field(default=None, repr=False)  # its userinfo may hold a password
    timeout: float = 30.0
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES

    def __post_init__(self) -> None:
        if not self.timeout > 0 or self.max_answer_bytes < 1:
            raise ConfigurationError("timeout and max_answer_bytes must be positive")

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
        self.settings = settings or HttpSettings()
        self._owned = client is None
        self._client = client if client is not None else self.settings.build_client()
        # Whether the deadline binds every socket operation of this client in the calling
        # thread; if not, each call runs under the watchdog instead.
        self.socket_bound = install_deadlines(self._client)
        if not self.socket_bound:
            logger.info(
                "the HTTP client for the identity provider has a transport cae-sdk cannot "
                "bound at the socket; each token request runs in a watchdog thread that the "
                "caller stops waiting for at the deadline"
            )
        install_log_redaction()

    @property
    def timeout(self) -> float:
        return self.settings.timeout

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
        exchange = _exchange.current()
        start = time.monotonic()
        budget = self.settings.timeout if timeout is None else min(float(timeout), self.timeout)
        deadline = start + budget
        if exchange is not None and exchange.deadline is not None:
            deadline = min(deadline, exchange.deadline)
        # Last in every message: a URL ending in ".../token" followed by ": " reads as a
        # "token: value" field to the log redaction.
        where = f"{method} {loggable_url(url)}"
        if deadline <= start:
            raise AnswerTimeout(f"the token request's deadline has passed ({where})")
        if exchange is not None:
            exchange.sent += 1
            exchange.status = exchange.retry_after = None  # about this request from now on
        send = partial(
            self._request_once, method, url, where, deadline, exchange, params, headers, body
        )
        return send() if self.socket_bound else call_before(deadline, send, what=where)

    def _request_once(
        self,
        method: str,
        url: str,
        where: str,
        deadline: float,
        exchange: _exchange.Exchange | None,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        body: dict[str, Any],
    ) -> httpx.Response:
        """One request and its answer, read in full within ``deadline``."""
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        send_headers = {**(headers or {}), "Accept-Encoding": "identity"}
        try:
            with (
                _exchange.socket_deadline(deadline),
                self._client.stream(
                    method,
                    url,
                    params=clean_params,
                    headers=send_headers,
                    timeout=max(0.001, deadline - time.monotonic()),
                    # Never, whatever the application's client says: a 307 would send the form
                    # (client secret, assertion, refresh token) to wherever it points.
                    follow_redirects=False,
                    **body,
                ) as response,
            ):
                if exchange is not None:
                    exchange.answered += 1
                    exchange.status = response.status_code
                    exchange.retry_after = retry_after_seconds(response.headers, now=time.time())
                # A transport may hand over a response it has already read (httpx's
                # MockTransport does): then its decoded content is all there is.
                consumed = response.is_stream_consumed
                content = read_body(
                    [response.content] if consumed else response.iter_raw(),
                    content_encoding=""
                    if consumed
                    else response.headers.get("content-encoding", ""),
                    deadline=deadline,
                    max_bytes=self.settings.max_answer_bytes,
                )
        except AnswerTimeout as exc:
            raise AnswerTimeout(f"{exc} ({where})") from None
        except AnswerUnreadable as exc:
            raise AnswerUnreadable(f"{exc} ({where})", reason=exc.reason) from None
        except httpx.TimeoutException:
            raise AnswerTimeout(f"timed out ({where})") from None
        except httpx.TransportError as exc:
            raise IdentityProviderUnreachable(f"{type(exc).__name__} ({where})") from None
        except httpx.RequestError as exc:  # too many redirects, an invalid URL
            raise AnswerUnreadable(
                f"{type(exc).__name__} ({where})", reason="undecodable"
            ) from None
        headers_out = [(k, v) for k, v in response.headers.multi_items() if k not in _BODY_FRAMING]
        return httpx.Response(
            response.status_code, headers=headers_out, content=content, request=response.request
        )

    def close(self) -> None:
        """Close the underlying client unless the application passed it in (it owns it)."""
        if self._owned:
            self._client.close()
