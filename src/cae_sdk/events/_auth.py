"""Bearer authentication for the event sources' outbound calls (poll, streams, Graph).

Accepts whatever the application has: an ``httpx.Auth`` (e.g. ``cae_sdk.CAEAuth`` around a cp1
credential), a static token string, a credential, or a plain (async) callable returning a token.
Credentials come in two shapes, told apart by their signature: cae-sdk's
``get_token(scopes)`` (a sequence) and azure-core's ``TokenCredential.get_token(*scopes,
claims=None, tenant_id=None, enable_cae=False, **kwargs)`` (azure-identity, sync or
``azure.identity.aio``); either returns a string or an object with ``.token``. A credential needs
the ``scopes`` to ask for. ``events`` never imports ``client``: the credential is duck-typed.
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
    def get_token(self, *args: Any, **kwargs: Any) -> Any: ...


BearerSource = httpx.Auth | str | TokenProvider | Callable[[], str] | Callable[[], Awaitable[str]]


def _token_text(value: Any) -> str:
    token = value if isinstance(value, str) else getattr(value, "token", None)
    if not isinstance(token, str) or not token:
        raise ConfigurationError("the token source returned no bearer token")
    return token


def _takes_varargs(function: Callable[..., Any]) -> bool:
    """True for azure-core's ``get_token(*scopes, ...)`` shape."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)


class _BearerAuth(httpx.Auth):
    """Adds ``Authorization: Bearer``; on a 401 asks the source once more and retries."""

    def __init__(self, source: Any, scopes: Sequence[str]) -> None:
        self._source = source
        self._scopes = list(scopes)
        getter = getattr(source, "get_token", None)
        self._getter: Callable[..., Any] | None = getter if callable(getter) else None
        self._varargs = self._getter is not None and _takes_varargs(self._getter)
        self._async = self._getter is not None and inspect.iscoroutinefunction(self._getter)

    async def _token(self) -> str:
        source = self._source
        if isinstance(source, str):
            return source
        getter = self._getter
        if getter is not None:
            args: tuple[Any, ...] = tuple(self._scopes) if self._varargs else (self._scopes,)
            if self._async:
                return _token_text(await getter(*args))
            # Sync credentials (MSAL, azure-identity) block on network I/O: off the loop.
            return _token_text(await asyncio.to_thread(getter, *args))
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
    credential = not isinstance(source, str) and callable(getattr(source, "get_token", None))
    if not isinstance(source, str) and not callable(source) and not credential:
        raise ConfigurationError("token source must be httpx.Auth, str, get_token() or callable")
    if credential and not scopes:
        raise ConfigurationError("a credential needs the scopes to ask for (scopes=[...])")
    return _BearerAuth(source, scopes)
