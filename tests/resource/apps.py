"""The Starlette and FastAPI example apps the resource tests run under uvicorn."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from cae_sdk.resource import CAEMiddleware
from cae_sdk.resource.fastapi import (
    install_cae_openapi,
    require_auth_context,
    require_roles,
    require_scopes,
)


async def _me(request: StarletteRequest) -> JSONResponse:
    decision = request.state.cae_decision
    return JSONResponse(
        {
            "oid": request.user.identity,
            "scopes": request.auth.scopes,
            "decision": decision.outcome.value,
        }
    )


@requires("access_as_user")
async def _scoped(request: StarletteRequest) -> JSONResponse:
    return JSONResponse({"ok": True})


async def _health(request: StarletteRequest) -> PlainTextResponse:
    return PlainTextResponse("ok")


def starlette_app(**middleware_options: Any) -> Starlette:
    return Starlette(
        routes=[
            Route("/me", _me),
            Route("/scoped", _scoped),
            Route("/admin/secret", _me),
            Route("/health", _health),
        ],
        middleware=[Middleware(CAEMiddleware, **middleware_options)],  # type: ignore[arg-type]
    )


def fastapi_app(**middleware_options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/me", dependencies=[Depends(require_scopes("access_as_user"))])
    async def me(request: Request) -> dict[str, Any]:
        return {"oid": request.user.identity}

    @app.get("/data", dependencies=[Depends(require_roles("Data.Read"))])
    async def data() -> dict[str, Any]:
        return {"rows": []}

    @app.get("/sensitive", dependencies=[Depends(require_auth_context("c1"))])
    async def sensitive() -> dict[str, Any]:
        return {"secret": 42}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    install_cae_openapi(app)
    app.add_middleware(CAEMiddleware, **middleware_options)  # type: ignore[arg-type]
    return app
