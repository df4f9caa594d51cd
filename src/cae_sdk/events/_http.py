"""The one way event sources talk HTTP: an overall deadline and a bounded body.

httpx's ``timeout`` bounds each phase (connect, each read, each write), not the exchange: a
transmitter or Graph that answers a byte at a time, or never stops sending, would hold a poll
loop for ever or fill the process's memory. :func:`exchange` gives every outbound call of the
poll client, the stream client and the Graph client one deadline the code enforces itself
(connect, send, receive and read the body, retries of the auth flow included) and reads the body
only up to a cap, then stops. Both failures are :class:`~cae_sdk.core.errors.EventSourceError`,
which every caller already treats as "the source failed: try again later".
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..core.errors import EventSourceError
from ._background import within

__all__ = ["Answer", "exchange"]


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole, bounded HTTP response."""

    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` when it is not (nesting too deep included)."""
        try:
            return json.loads(self.body)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


async def exchange(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    deadline: float,
    max_bytes: int,
    auth: httpx.Auth | None = None,
    json_body: Any = None,
    content: bytes | None = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """One request and its whole response within ``deadline`` seconds, the body read up to
    ``max_bytes`` (decoded). Raises :class:`EventSourceError` when either is exceeded, and
    ``httpx.HTTPError`` for transport errors."""
    try:
        return await within(
            _exchange(http, method, url, max_bytes, auth, json_body, content, params, headers),
            deadline,
        )
    except asyncio.TimeoutError:
        raise EventSourceError(
            f"{method} {_where(url)} did not complete within {deadline:g} s", code="timeout"
        ) from None


async def _exchange(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    max_bytes: int,
    auth: httpx.Auth | None,
    json_body: Any,
    content: bytes | None,
    params: Mapping[str, str] | None,
    headers: Mapping[str, str] | None,
) -> Answer:
    extra: dict[str, Any] = {}
    if auth is not None:
        extra["auth"] = auth
    async with http.stream(
        method, url, json=json_body, content=content, params=params, headers=headers, **extra
    ) as response:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise _too_large(method, url, response.status_code)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise _too_large(method, url, response.status_code)
        return Answer(response.status_code, response.headers, bytes(body))


def _too_large(method: str, url: str, status: int) -> EventSourceError:
    return EventSourceError(
        f"{method} {_where(url)}: answer too large (over the accepted size)",
        status=status,
        code="too_large",
    )


def _where(url: str) -> str:
    # Never a query string in a message: delta links and poll URLs can carry tokens.
    return url.split("?", 1)[0]
