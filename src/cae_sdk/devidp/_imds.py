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

**Caching, as Azure does it.** The managed identity back end keeps the token it issued per
identity and resource and hands the same one back until it nears expiry (Microsoft Learn,
"Managed identity best practice recommendations", section "Limitation of using managed
identities for authorization"; "How to use managed identities for Azure resources on an Azure
VM to acquire an access token", section "Token caching"). MSAL sends IMDS no claims
(``_obtain_token_on_azure_vm`` passes only ``resource`` and the identity), so after a
revocation a VM's managed identity is handed the revoked token again: the path a CAE client
must survive. With ``IdPSettings.imds_cache_tokens`` (default ``True``) this emulator does the
same; set it to ``False`` to mint a fresh token on every call. The issuance rules still run
on every call, so a disabled, deleted or blocked identity gets nothing (the emulator fails
closed), and a caller that names the cached token with ``token_sha256_to_refresh`` (the
revocation parameter MSAL sends to Service Fabric's endpoint,
``_obtain_token_on_service_fabric``) gets a fresh one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ._context import IdPContext
from ._directory import ManagedIdentity
from ._errors import EntraError, oauth_error
from ._oauth import app_only_token
from ._tokens import ClaimsEvaluation

__all__ = ["ImdsTokenCache", "build_imds_app"]

VM_PATH = "/metadata/identity/oauth2/token"
APP_SERVICE_PATH = "/msi/token"

# A cached token is not handed out once less than this is left: MSAL already treats such a
# token as expired (msal/managed_identity.py, ``expires_in < 5*60``) and would ask again.
REFRESH_MARGIN_SECONDS = 5 * 60

_CacheKey = tuple[str, str, bool]  # (identity client id, scope, cp1)


@dataclass(frozen=True, slots=True)
class _IssuedToken:
    access_token: str
    issued_at: int
    expires_on: int


class ImdsTokenCache:
    """The managed identity endpoint's own token cache (pure: the caller passes ``now``).

    One token per (identity, resource, cp1). :meth:`get` answers the cached token while more
    than ``refresh_margin`` seconds of it remain, unless ``refresh_sha256`` names it (the
    caller reports it revoked).
    """

    def __init__(self, refresh_margin: float = REFRESH_MARGIN_SECONDS) -> None:
        self.refresh_margin = refresh_margin
        self._tokens: dict[_CacheKey, _IssuedToken] = {}

    def get(
        self, key: _CacheKey, now: float, *, refresh_sha256: str | None = None
    ) -> _IssuedToken | None:
        cached = self._tokens.get(key)
        if cached is None or cached.expires_on - now <= self.refresh_margin:
            return None
        if refresh_sha256 and hmac.compare_digest(
            refresh_sha256.lower(), hashlib.sha256(cached.access_token.encode()).hexdigest()
        ):
            return None
        return cached

    def put(self, key: _CacheKey, token: _IssuedToken) -> None:
        self._tokens[key] = token

    def clear(self) -> None:
        self._tokens.clear()


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
    now = ctx.now()
    # The issuance rules run on every call (a disabled, deleted or blocked identity gets
    # nothing, cached or not); the cache only decides which token is handed back.
    body = app_only_token(ctx, app, mi.tenant_id, scope, ClaimsEvaluation(cp1=cp1))
    issued = int(now)
    token = _IssuedToken(body["access_token"], issued, issued + int(body["expires_in"]))
    if ctx.settings.imds_cache_tokens:
        cache: ImdsTokenCache = ctx.extensions["imds_cache"]
        key = (mi.client_id, scope, cp1)
        cached = cache.get(key, now, refresh_sha256=params.get("token_sha256_to_refresh"))
        if cached is None:
            cache.put(key, token)
        else:
            token = cached
    # IMDS sends every number as a string; expires_in counts down for a cached token.
    remaining = str(max(0, token.expires_on - issued))
    return {
        "access_token": token.access_token,
        "client_id": mi.client_id,
        "expires_in": remaining,
        "expires_on": str(token.expires_on),
        "ext_expires_in": remaining,
        "not_before": str(token.issued_at),
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
    ctx.extensions.setdefault("imds_cache", ImdsTokenCache())
    return app
