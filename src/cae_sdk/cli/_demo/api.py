"""The demo's protected API: FastAPI behind ``CAEMiddleware``, with the SSF push receiver mounted.

Routes: ``GET /health`` (no token), ``GET /api/data`` (any valid token), ``GET /api/stepup/data``
(authentication context ``c1``) and ``POST /ssf/events`` (RFC 8935 push endpoint, authenticated
by the stream's Authorization header instead of a bearer token).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..._extras import missing_extra

__all__ = ["DeferredApp", "build_api"]

STEP_UP_PREFIX = "/api/stepup"
PUSH_PATH = "/ssf/events"


class DeferredApp:
    """An ASGI app set after the server starts (the push receiver needs the stream's audience,
    which the transmitter assigns when the stream is created). Until then: 503."""

    def __init__(self) -> None:
        self.app: Callable[[Scope, Receive, Send], Any] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})


def build_api(push_receiver: DeferredApp) -> Any:
    """The FastAPI app (without the middleware, which the caller adds with its settings)."""
    try:
        from fastapi import FastAPI
    except ModuleNotFoundError as exc:
        raise missing_extra(exc, "demo", "the demo API") from None

    app = FastAPI(title="cae-sdk demo API", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    # Request is imported at module level: FastAPI resolves the (postponed) annotations of
    # these handlers in the module's globals.
    def _caller(request: Request) -> dict[str, Any]:
        claims = request.auth.claims
        return {
            "caller": claims.object_id or claims.app_id,
            "app_only": claims.is_app_only,
            "iat": claims.issued_at,
            "acrs": list(claims.acrs),
        }

    @app.get("/api/data")
    async def data(request: Request) -> dict[str, Any]:
        return {"data": "orders", **_caller(request)}

    @app.get(STEP_UP_PREFIX + "/data")
    async def step_up_data(request: Request) -> dict[str, Any]:
        return {"data": "payroll (needs authentication context c1)", **_caller(request)}

    # A Route (not a Mount): the transmitter POSTs to the exact path, with no slash redirect.
    app.router.routes.append(Route(PUSH_PATH, push_receiver, methods=["POST"]))
    return app
