"""The admin API: post an event, list live watermarks, report health. Off by default.

Mount it only where operators can reach it, and turn it on explicitly::

    admin = AdminApp(store, enabled=True, static_key=os.environ["CAE_ADMIN_KEY"])
    # or: AdminApp(store, enabled=True, validator=token_validator, required_role="CAE.Admin")

Routes (relative to the mount point): ``GET /health``, ``GET /watermarks`` (one page:
``?limit=`` 1 to :data:`~cae_sdk.events.MAX_WATERMARK_PAGE`, default 100, and
``?cursor=`` the ``next`` of the page before), ``POST /events`` (body:
:func:`~cae_sdk.events.event_to_dict` JSON). Authentication is
``Authorization: Bearer <static key>`` or a bearer access token whose ``roles`` contain
``required_role`` (validated by any object with ``async validate(token) -> TokenClaims``).
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from ..core.errors import CAEError, ConfigurationError, StoreUnavailable
from ..core.tokens import TokenClaims
from ._asgi import NoBody, is_http, read_body, respond_json
from ._model import Event, RevocationEvent, canonical_event, event_from_dict
from ._store import EventStore

__all__ = ["AdminApp", "AdminTokenValidator"]

_log = logging.getLogger("cae_sdk.events.admin")
_MAX_BODY = 1024 * 1024
_DEFAULT_PAGE = 100
MAX_FUTURE_SECONDS = 300
"""How far ahead of this server's clock an admin-posted time may be (clock skew between the
operator's machine and the server). Stores merge by the greatest time (a watermark) or order
by it (risk, locations), so one time in the future, such as milliseconds sent for seconds,
would pin that state for good: later reports from the Graph bridge or a transmitter would be
ignored as older."""


class AdminTokenValidator(Protocol):
    async def validate(self, token: str) -> TokenClaims: ...


class AdminApp:
    """The admin API as an ASGI app: ``GET /health``, ``GET /watermarks``, ``POST /events``.
    Off unless ``enabled``; callers authenticate with ``static_key`` or an access token
    (``validator``) whose ``roles`` contain ``required_role``."""

    def __init__(
        self,
        store: EventStore,
        *,
        enabled: bool = False,
        static_key: str | None = None,
        validator: AdminTokenValidator | None = None,
        required_role: str = "CAE.Admin",
        body_timeout: float = 10.0,
    ) -> None:
        if enabled and not static_key and validator is None:
            raise ConfigurationError("the admin API needs a static_key or a token validator")
        if static_key is not None and len(static_key) < 16:
            raise ConfigurationError("the admin static key must be at least 16 characters")
        self.store = store
        self.enabled = enabled
        self._key = static_key.encode() if static_key else None
        self._validator = validator
        self._role = required_role
        self._body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await is_http(scope, receive, send):
            return
        if not self.enabled:
            await respond_json(send, 404, {"error": "not_found"})
            return
        headers = dict(scope["headers"])
        denied = await self._authenticate(headers.get(b"authorization"))
        if denied is not None:
            status, error = denied
            extra = [(b"www-authenticate", f'Bearer error="{error}"'.encode())]
            await respond_json(send, status, {"error": error}, extra=extra)
            return
        route = (scope["method"], scope.get("path", "").rstrip("/") or "/")
        if route[1].endswith("/health") and route[0] == "GET":
            await respond_json(send, 200, self._health())
        elif route[1].endswith("/watermarks") and route[0] == "GET":
            await self._list_watermarks(scope.get("query_string", b""), send)
        elif route[1].endswith("/events") and route[0] == "POST":
            await self._post_event(receive, send)
        else:
            await respond_json(send, 404, {"error": "not_found"})

    async def _list_watermarks(self, query: bytes, send: Send) -> None:
        """One page of the store's watermarks (the store reads one page from its backend)."""
        try:
            limit, cursor = _page_query(query)
            page = await self.store.watermark_page(limit, cursor)
        except ValueError as exc:
            await respond_json(send, 400, {"error": "invalid_request", "description": str(exc)})
            return
        except StoreUnavailable:
            await respond_json(send, 503, {"error": "store_unavailable"})
            return
        listing = [
            {"subject": str(subject), "not_before": not_before}
            for subject, not_before in page.watermarks
        ]
        await respond_json(send, 200, {"watermarks": listing, "next": page.next_cursor})

    def _health(self) -> dict[str, Any]:
        # O(1): a load balancer probes this every few seconds, and listing a million
        # watermarks to count them held the event loop for seconds each time.
        return {"healthy": self.store.healthy, "watermarks": self.store.watermark_count()}

    async def _authenticate(self, header: bytes | None) -> tuple[int, str] | None:
        if header is None or header[:7].lower() != b"bearer ":
            return 401, "invalid_token"
        token = header[7:].strip()
        if self._key is not None and hmac.compare_digest(token, self._key):
            return None
        if self._validator is None:
            return 401, "invalid_token"
        try:
            claims = await self._validator.validate(token.decode("ascii"))
        except (CAEError, UnicodeDecodeError):
            return 401, "invalid_token"
        if self._role not in claims.roles:
            return 403, "insufficient_scope"
        return None

    async def _post_event(self, receive: Receive, send: Send) -> None:
        body = await read_body(receive, _MAX_BODY, self._body_timeout)
        if body is NoBody.TIMEOUT:
            await respond_json(send, 408, {"error": "request_timeout"})
            return
        try:
            if not isinstance(body, bytes):
                raise ValueError("body too large (or the client went away)")
            try:
                data = json.loads(body) if body else None
            except RecursionError:
                raise ValueError("JSON nested too deeply") from None
            if not isinstance(data, Mapping):
                raise ValueError("body must be a JSON object")
            event = canonical_event(event_from_dict(data))
            _refuse_future(event, now=int(time.time()))
        except (ValueError, KeyError, TypeError) as exc:
            await respond_json(send, 400, {"error": "invalid_request", "description": str(exc)})
            return
        try:
            changed = await self.store.apply(event)
        except StoreUnavailable:
            await respond_json(send, 503, {"error": "store_unavailable"})
            return
        _log.info("admin posted %s event (changed=%s)", data.get("type"), changed)
        await respond_json(send, 202, {"changed": changed})


def _refuse_future(event: Event, *, now: int) -> None:
    """``ValueError`` when the event's time is more than :data:`MAX_FUTURE_SECONDS` ahead."""
    when = event.not_before if isinstance(event, RevocationEvent) else event.at
    if when > now + MAX_FUTURE_SECONDS:
        raise ValueError(
            f"event time {when} is {when - now} s ahead of this server's clock (at most "
            f"{MAX_FUTURE_SECONDS} s): send Unix time in seconds"
        )


def _page_query(query: bytes) -> tuple[int, str | None]:
    """``limit`` and ``cursor`` of a ``GET /watermarks`` query; ``ValueError`` when malformed
    (a parameter given twice, a limit that is not a decimal number)."""
    params = parse_qs(query.decode("latin-1"), keep_blank_values=True, max_num_fields=8)
    if any(len(values) > 1 for values in params.values()):
        raise ValueError("a query parameter is given twice")
    limit = params.get("limit", [str(_DEFAULT_PAGE)])[0]
    if not (limit.isascii() and limit.isdigit()):
        raise ValueError("limit must be a decimal number")
    cursor = params.get("cursor", [None])[0]
    return int(limit), cursor
