"""FastAPI integration: route dependencies and the OpenAPI description of CAE refusals.

``require_scopes(...)``, ``require_roles(...)`` and ``require_auth_context("c1")`` read what
:class:`CAEMiddleware` put in the scope; a refusal is concluded by the middleware's request path
(:meth:`CAEAuthCredentials.refuse`: logged, given to the ``on_decision`` hooks, counted, with
one reason) and raised as an ``HTTPException`` whose ``detail`` is the refusal body and whose
``WWW-Authenticate`` is the RFC 6750 / claims challenge.
:func:`install_cae_openapi` renders those bodies flat (``{"error", "error_description",
"reason"}``) and documents the bearer scheme plus 401/403 responses on every operation.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Request, Security
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ..core._permissions import evaluate_permissions
from ..core.decisions import Decision
from ..core.tokens import TokenClaims
from ..observability._logfields import log_fields
from ._access import auth_context_decision
from ._middleware import CAEAuthCredentials
from ._responses import Refusal, refusal_for_token_error

__all__ = [
    "CAE_RESPONSES",
    "bearer_scheme",
    "install_cae_openapi",
    "require_auth_context",
    "require_roles",
    "require_scopes",
]

log = logging.getLogger("cae_sdk.resource")

bearer_scheme = HTTPBearer(auto_error=False, description="OAuth 2.0 bearer access token")
"""Registers the ``HTTPBearer`` security scheme in the OpenAPI document."""

_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "error_description": {"type": "string"},
        "reason": {"type": "string"},
    },
    "required": ["error", "error_description", "reason"],
}
_WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "description": "RFC 6750 Bearer challenge; a CAE claims challenge "
        '(error="insufficient_claims", claims=...) for cp1 clients',
        "schema": {"type": "string"},
    }
}
CAE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "Missing or invalid token, or a claims challenge (revoked token, "
        "location, authentication context)",
        "headers": _WWW_AUTHENTICATE,
        "content": {"application/json": {"schema": _ERROR_SCHEMA}},
    },
    403: {
        "description": "Insufficient scope or role, or blocked by policy",
        "headers": _WWW_AUTHENTICATE,
        "content": {"application/json": {"schema": _ERROR_SCHEMA}},
    },
}
"""The 401/403 responses CAE adds to a route, for FastAPI's ``responses=`` (OpenAPI)."""

Dependency = Callable[..., Awaitable[TokenClaims]]


def _raise(refusal: Refusal) -> None:
    headers = {"WWW-Authenticate": refusal.www_authenticate} if refusal.www_authenticate else None
    raise HTTPException(
        refusal.status,
        detail={
            "error": refusal.error,
            "error_description": refusal.description,
            "reason": refusal.reason,
        },
        headers=headers,
    )


def _credentials(request: Request) -> CAEAuthCredentials:
    auth = request.scope.get("auth")
    if not isinstance(auth, CAEAuthCredentials):
        # No CAEMiddleware verified a token for this request (an excluded path, or no
        # middleware in front): refused, and logged here, as the request path never saw it.
        refusal = refusal_for_token_error(
            "missing_token", "no token was verified for this path", realm=None
        )
        method, path = request.method, request.url.path
        log.warning(
            "refused %s %r: %d %s (%s): the route needs a token, and CAEMiddleware verified "
            "none for it (an excluded path, or no CAEMiddleware in front)",
            method,
            path,
            refusal.status,
            refusal.error,
            refusal.reason,
            extra=log_fields(
                event="refusal",
                method=method,
                path=path,
                status=refusal.status,
                error=refusal.error,
                reason=refusal.reason,
            ),
        )
        _raise(refusal)
    assert isinstance(auth, CAEAuthCredentials)
    return auth


def _dependency(check: Callable[[TokenClaims], Decision], uri: str | None = None) -> Dependency:
    """A dependency that refuses the request unless ``check`` allows the verified claims.

    Declaring ``bearer_scheme`` puts the bearer scheme on the operation in OpenAPI."""

    async def dependency(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    ) -> TokenClaims:
        credentials = _credentials(request)
        claims = credentials.claims
        decision = check(claims)
        if not decision.allowed:
            # Through the request path: logged, hooked and counted with the body's reason.
            refusal = await credentials.refuse(request.scope, decision, authorization_uri=uri)
            _raise(refusal)
        return claims

    return dependency


def require_scopes(*scopes: str) -> Dependency:
    """403 ``insufficient_scope`` unless the token's ``scp`` holds every one of ``scopes``."""
    return _dependency(lambda claims: evaluate_permissions(claims, scopes=scopes))


def require_roles(*roles: str) -> Dependency:
    """403 ``insufficient_scope`` unless the token's ``roles`` holds every one of ``roles``."""
    return _dependency(lambda claims: evaluate_permissions(claims, roles=roles))


def require_auth_context(context_id: str, *, authorization_uri: str | None = None) -> Dependency:
    """Step-up: a token without ``context_id`` in ``acrs`` gets a claims challenge for it (cp1
    clients) or 401 ``invalid_token``; an app-only token gets 403. ``authorization_uri``
    (default: the middleware's) may hold ``{tenantid}``."""
    return _dependency(lambda claims: auth_context_decision(claims, context_id), authorization_uri)


async def _render_refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.detail, dict) and "error" in exc.detail:
        return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def install_cae_openapi(app: FastAPI) -> None:
    """Render CAE refusals flat and document the bearer scheme and 401/403 on every
    operation of ``app``'s OpenAPI schema."""
    app.add_exception_handler(StarletteHTTPException, _render_refusal)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})["HTTPBearer"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, spec in CAE_RESPONSES.items():
                    responses.setdefault(str(status), spec)
                operation.setdefault("security", [{"HTTPBearer": []}])
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
