"""Managed identity endpoints, served over plain HTTP on loopback like the real ones.

* Azure VM IMDS: ``GET {AZURE_POD_IDENTITY_AUTHORITY_HOST}/metadata/identity/oauth2/token``
  with ``api-version``, ``resource`` and optionally ``client_id`` / ``object_id`` /
  ``msi_res_id``, header ``Metadata: true`` (msal ``managed_identity.py``,
  ``_obtain_token_on_azure_vm``). MSAL does not require http or https: it uses the caller's
  ``http_client``; plain http keeps the real IMDS shape so default sessions work.
* App Service: ``GET {IDENTITY_ENDPOINT}`` (``/msi/token`` here) with ``api-version=2019-08-01``
  and header ``X-IDENTITY-HEADER: {IDENTITY_HEADER}``; ids as ``client_id`` / ``object_id`` /
  ``mi_res_id`` (``_obtain_token_on_app_service``).

IMDS has no way to announce client capabilities, so with ``imds_cp1`` (default) tokens are issued
as for a cp1 client; an ``xms_cc`` query parameter (Service Fabric's form) also counts.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .context import IdPContext
from .directory import ManagedIdentity
from .errors import EntraError, oauth_error
from .oauth import app_only_token
from .tokens import ClaimsEvaluation

__all__ = ["build_imds_app"]

VM_PATH = "/metadata/identity/oauth2/token"
APP_SERVICE_PATH = "/msi/token"


def _identity(ctx: IdPContext, params: Mapping[str, str], res_id_name: str) -> ManagedIdentity:
    """The identity a request names by client id, object id or resource id, else the
    default one (what a VM with a single assigned identity answers)."""
    named = [params[name] for name in ("client_id", "object_id", res_id_name) if params.get(name)]
    key = named[0] if named else ctx.extensions.get("default_managed_identity")
    mi = ctx.directory.managed_identity(key) if isinstance(key, str) else None
    if mi is None:
        raise LookupError("Identity not found")
    return mi


def _issue(ctx: IdPContext, params: Mapping[str, str], res_id_name: str) -> dict[str, str]:
    resource = params.get("resource", "")
    if not resource:
        raise ValueError("Required query variable 'resource' is missing")
    mi = _identity(ctx, params, res_id_name)
    app = ctx.directory.applications[mi.client_id]
    cp1 = ctx.settings.imds_cp1 or "cp1" in params.get("xms_cc", "").lower().split(",")
    scope = resource.rstrip("/") + "/.default"
    body = app_only_token(ctx, app, mi.tenant_id, scope, ClaimsEvaluation(cp1=cp1))
    now = int(ctx.now())
    lifetime = int(body["expires_in"])
    # IMDS sends every number as a string.
    return {
        "access_token": body["access_token"],
        "client_id": mi.client_id,
        "expires_in": str(lifetime),
        "expires_on": str(now + lifetime),
        "ext_expires_in": str(lifetime),
        "not_before": str(now),
        "resource": resource,
        "token_type": "Bearer",
    }


async def vm_token(request: Request) -> JSONResponse:
    ctx: IdPContext = request.app.state.ctx
    params = dict(request.query_params)
    if request.headers.get("metadata", "").lower() != "true":
        return JSONResponse(
            oauth_error("invalid_request", "Required metadata header not specified"), 400
        )
    if not params.get("api-version"):
        return JSONResponse(
            oauth_error("invalid_request", "Required query variable 'api-version' is missing"), 400
        )
    try:
        return JSONResponse(_issue(ctx, params, "msi_res_id"))
    except (LookupError, ValueError) as exc:
        return JSONResponse(oauth_error("invalid_request", str(exc)), 400)
    except EntraError as err:
        return JSONResponse(oauth_error(err.error, str(err)), 400)


async def app_service_token(request: Request) -> JSONResponse:
    ctx: IdPContext = request.app.state.ctx
    params = dict(request.query_params)
    header = request.headers.get("x-identity-header", "")
    if not hmac.compare_digest(header.encode(), ctx.settings.identity_header.encode()):
        return JSONResponse({"statusCode": 401, "message": "Unauthorized"}, status_code=401)
    try:
        body = _issue(ctx, params, "mi_res_id")
    except (LookupError, ValueError) as exc:
        return JSONResponse({"statusCode": 400, "message": str(exc)}, status_code=400)
    except EntraError as err:
        return JSONResponse({"statusCode": 400, "message": str(err)}, status_code=400)
    return JSONResponse(
        {k: body[k] for k in ("access_token", "client_id", "expires_on", "resource", "token_type")}
    )


def build_imds_app(ctx: IdPContext) -> Starlette:
    app = Starlette(routes=[Route(VM_PATH, vm_token), Route(APP_SERVICE_PATH, app_service_token)])
    app.state.ctx = ctx
    return app
