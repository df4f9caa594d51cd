"""Bearer authentication for the event sources' outbound calls (poll, streams, Graph).

Accepts whatever the application has: an ``httpx.Auth`` (e.g. ``cae_sdk.CAEAuth`` around a cp1
credential), a static token string, any credential with ``get_token(scopes)`` returning a string
or an object with ``.token`` (cae-sdk, azure-identity), or a plain (async) callable returning a
token. ``events`` never imports ``client``: the credential is duck-typed.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any, Protocol

import httpx

from ..core.errors import ConfigurationError

__all__ = ["BearerSource", "TokenProvider", "bearer_auth"]


class TokenProvider(Protocol):
    def get_token(self, scopes: Sequence[str]) -> Any: ...


BearerSource = httpx.Auth | str | TokenProvider | Callable[[], str] | Callable[[], Awaitable[str]]


def _token_text(value: Any) -> str:
    token = value if isinstance(value, str) else getattr(value, "token", None)
    if not isinstance(token, str) or not token:
        raise ConfigurationError("the token source returned no bearer token")
    return token


class _BearerAuth(httpx.Auth):
    """Adds ``Authorization: Bearer``; on a 401 asks the source once more and retries."""

    def __init__(self, source: Any, scopes: Sequence[str]) -> None:
        self._source = source
        self._scopes = list(scopes)

    async def _token(self) -> str:
        source = self._source
        if isinstance(source, str):
            return source
        getter = getattr(source, "get_token", None)
        if callable(getter):
            # Credentials (MSAL) block on network I/O: keep them off the event loop.
            return _token_text(await asyncio.to_thread(getter, self._scopes))
        result = source()
        if inspect.isawaitable(result):
            result = await result
        return _token_text(result)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self._token()}"
        response = yield request
        if response.status_code == 401 and not isinstance(self._source, str):
            request.headers["Authorization"] = f"Bearer {await self._token()}"
            yield request


def bearer_auth(source: BearerSource, scopes: Sequence[str] = ()) -> httpx.Auth:
    """Turn any supported token source into an ``httpx.Auth``."""
    if isinstance(source, httpx.Auth):
        return source
    if isinstance(source, str) and not source:
        raise ConfigurationError("an empty bearer token is not a credential")
    if (
        not isinstance(source, str)
        and not callable(source)
        and not callable(getattr(source, "get_token", None))
    ):
        raise ConfigurationError("token source must be httpx.Auth, str, get_token() or callable")
    return _BearerAuth(source, scopes)
