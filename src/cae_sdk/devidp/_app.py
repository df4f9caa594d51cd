"""Assembly of the Starlette application: discovery, keys, token endpoints, federation issuer,
admin API, Shared Signals transmitter and Graph surface."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._admin import admin_routes
from ._context import FEDERATION_PATH, IdPContext
from ._device import DEVICE_CODE_GRANT, device_authorization, redeem_device_code
from ._errors import EntraError, oauth_error
from ._graph import graph_routes
from ._oauth import TokenEndpoint, error_response, resolve_tenant
from ._password import PASSWORD_GRANT, redeem_password
from ._ssf import ssf_routes

__all__ = ["build_app"]

# Named as when the module was public, so logging configuration that names it keeps working.
logger = logging.getLogger("cae_sdk.devidp.app")


def openid_configuration(ctx: IdPContext, tenant_id: str, version: int) -> dict[str, Any]:
    """OIDC Discovery 1.0 section 3 document, in Entra's shape (v2.0 or v1)."""
    base = f"{ctx.base_url}/{tenant_id}"
    v2 = version == 2
    return {
        "issuer": ctx.issuer_v2(tenant_id) if v2 else ctx.issuer_v1(tenant_id),
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize"
        if v2
        else f"{base}/oauth2/authorize",
        "token_endpoint": f"{base}/oauth2/v2.0/token" if v2 else f"{base}/oauth2/token",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "jwks_uri": f"{base}/discovery/v2.0/keys" if v2 else f"{base}/discovery/keys",
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "grant_types_supported": [
            "client_credentials",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
            "password",
        ],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_parameter_supported": True,
        "tenant_region_scope": "NA",
        "cloud_instance_name": "dev.cae-sdk.local",
        "msgraph_host": ctx.graph_base_url,
    }


def _discovery(ctx: IdPContext, version: int) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(openid_configuration(ctx, resolve_tenant(ctx, request), version))
        except EntraError as err:
            return error_response(ctx, err, request)

    return endpoint


def _routes(ctx: IdPContext) -> list[BaseRoute]:
    token = TokenEndpoint(
        ctx, {DEVICE_CODE_GRANT: redeem_device_code, PASSWORD_GRANT: redeem_password}
    )

    async def keys(request: Request) -> Response:
        return JSONResponse(ctx.keys.jwks(ctx.now()))

    async def federation_configuration(request: Request) -> Response:
        issuer = ctx.federation_issuer
        return JSONResponse(
            {
                "issuer": issuer,
                "jwks_uri": f"{issuer}/openid/v1/jwks",
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def federation_keys(request: Request) -> Response:
        return JSONResponse(ctx.federation_keys.jwks(ctx.now()))

    return [
        Route("/{tenant}/v2.0/.well-known/openid-configuration", _discovery(ctx, 2)),
        Route("/{tenant}/.well-known/openid-configuration", _discovery(ctx, 1)),
        Route("/{tenant}/discovery/v2.0/keys", keys),
        Route("/{tenant}/discovery/keys", keys),
        Route("/{tenant}/oauth2/v2.0/token", token.handle, methods=["POST"]),
        Route("/{tenant}/oauth2/token", token.handle, methods=["POST"]),
        Route("/{tenant}/oauth2/v2.0/devicecode", device_authorization, methods=["POST"]),
        Route(FEDERATION_PATH + "/.well-known/openid-configuration", federation_configuration),
        Route(FEDERATION_PATH + "/openid/v1/jwks", federation_keys),
        *admin_routes(ctx),
        *ssf_routes(ctx),
        *graph_routes(ctx),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    error = {404: "not_found", 405: "method_not_allowed"}.get(status, "invalid_request")
    return JSONResponse(oauth_error(error, str(getattr(exc, "detail", ""))), status)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # A bug, never the client's fault; logged without request data (it may hold secrets).
    logger.error("devidp internal error on %s: %s", request.url.path, type(exc).__name__)
    return JSONResponse(oauth_error("server_error", "internal error"), 500)


def build_app(ctx: IdPContext) -> Starlette:
    app = Starlette(
        routes=_routes(ctx),
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
    )
    app.state.ctx = ctx
    return app
