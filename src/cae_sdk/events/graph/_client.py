"""A thin httpx adapter for the Graph calls the bridge needs: paging, throttling, delta reset."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from ...core.errors import EventSourceError
from .._auth import BearerSource, bearer_auth

__all__ = ["DeltaReset", "GraphClient", "GraphPage"]

_log = logging.getLogger("cae_sdk.events.graph")

# Graph answers an expired or unknown delta token with 410 Gone (or 400) and one of these codes;
# the client must start a full round again (Graph delta query overview, "Synchronization reset").
_RESET_CODES = frozenset({"syncStateNotFound", "resyncRequired", "syncStateInvalid"})
_MAX_PAGE_BYTES = 16 * 1024 * 1024


class DeltaReset(EventSourceError):
    """The delta link is no longer valid: drop it and synchronise from the start."""


class GraphPage:
    """One page of a Graph collection."""

    __slots__ = ("delta_link", "items", "next_link")

    def __init__(self, items: list[dict[str, Any]], next_link: str | None, delta_link: str | None):
        self.items = items
        self.next_link = next_link
        self.delta_link = delta_link


class GraphClient:
    """Microsoft Graph over an ``httpx.AsyncClient``: pages, throttling (``Retry-After``) and
    delta reset, with tokens from ``auth``."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        auth: BearerSource,
        *,
        base_url: str = "https://graph.microsoft.com",
        scopes: tuple[str, ...] | None = None,
        max_retries: int = 5,
        max_retry_after: float = 120.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http
        self._auth = bearer_auth(auth, scopes or (f"{self.base_url}/.default",))
        self._max_retries = max_retries
        self._max_retry_after = max_retry_after
        self._sleep = sleep

    def url(self, path: str) -> str:
        """``path`` under ``base_url``; an absolute link (nextLink, a stored deltaLink) must
        already be under it: the bearer token goes only to Graph, never to a host a response
        or a tampered cursor in the shared store names."""
        if not path.startswith(("https://", "http://")):
            return f"{self.base_url}/{path.lstrip('/')}"
        if not path.startswith(f"{self.base_url}/"):
            # A delta reset: the bridge drops such a stored cursor and starts a full round.
            raise DeltaReset("Graph link points outside the Graph base URL")
        return path

    async def get_page(self, url: str) -> GraphPage:
        """GET one page, waiting out ``429``/``503`` with ``Retry-After`` (Graph throttling
        guidance) up to ``max_retries`` times."""
        for attempt in range(self._max_retries + 1):
            response = await self._http.get(
                url, auth=self._auth, headers={"Accept": "application/json"}
            )
            if response.status_code in (429, 503, 504) and attempt < self._max_retries:
                delay = _retry_after(response, default=2.0**attempt)
                _log.info("Graph throttled (%d); retrying in %.1fs", response.status_code, delay)
                await self._sleep(min(delay, self._max_retry_after))
                continue
            return _page_of(response)
        raise EventSourceError("Graph kept throttling", status=429)  # pragma: no cover

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        """POST an action (e.g. ``/v1.0/users/{id}/revokeSignInSessions``); raises on errors."""
        response = await self._http.post(self.url(path), json=body, auth=self._auth)
        if not response.is_success:
            raise EventSourceError(
                f"Graph answered HTTP {response.status_code}",
                status=response.status_code,
                code=_error_code(response),
            )
        return response

    async def pages(self, url: str) -> AsyncIterator[GraphPage]:
        """Follow ``@odata.nextLink`` until a page without one (which may carry a deltaLink)."""
        next_url: str | None = self.url(url)
        while next_url is not None:
            page = await self.get_page(next_url)
            yield page
            next_url = None if page.next_link is None else self.url(page.next_link)


def _retry_after(response: httpx.Response, *, default: float) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _page_of(response: httpx.Response) -> GraphPage:
    if not response.is_success:
        code = _error_code(response)
        if response.status_code == 410 or code in _RESET_CODES:
            raise DeltaReset("Graph delta state expired", status=response.status_code, code=code)
        raise EventSourceError(
            f"Graph answered HTTP {response.status_code}", status=response.status_code, code=code
        )
    if len(response.content) > _MAX_PAGE_BYTES:
        raise EventSourceError("Graph page is too large", status=response.status_code)
    try:
        body = response.json()
    except ValueError:
        raise EventSourceError("Graph answer is not JSON", status=response.status_code) from None
    if not isinstance(body, dict) or not isinstance(body.get("value", []), list):
        raise EventSourceError("Graph answer is not a collection", status=response.status_code)
    items = [item for item in body.get("value", []) if isinstance(item, dict)]
    next_link = body.get("@odata.nextLink")
    delta_link = body.get("@odata.deltaLink")
    return GraphPage(
        items,
        next_link if isinstance(next_link, str) else None,
        delta_link if isinstance(delta_link, str) else None,
    )
