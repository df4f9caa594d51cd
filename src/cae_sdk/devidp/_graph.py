"""A minimal Microsoft Graph v1.0 surface over the directory, for the Graph event bridge.

``/v1.0/users/delta`` and ``/v1.0/servicePrincipals/delta`` (``$select``, ``$deltatoken``,
``$skiptoken``, ``Prefer: odata.maxpagesize=N``), ``/v1.0/identityProtection/riskyUsers`` and
``riskyServicePrincipals``, ``/v1.0/identity/conditionalAccess/namedLocations`` and
``policies``. Calls need an app-only token this provider issued for the Graph resource with the
matching role (``User.Read.All``, ``Application.Read.All``, ``IdentityRiskyUser.Read.All``,
``IdentityRiskyServicePrincipal.Read.All``, ``Policy.Read.All``). Errors use Graph's
``{"error": {"code", "message"}}`` body.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._context import GRAPH_PATH, IdPContext
from ._errors import GraphError
from ._graph_delta import (
    DeltaState,
    decode_state,
    delta_page,
    encode_state,
    parse_select,
)
from ._seed import GRAPH_APP_ID

__all__ = ["graph_routes", "graph_time"]

DEFAULT_PAGE_SIZE = 100
USER_PROPERTIES = (
    "id",
    "userPrincipalName",
    "mail",
    "displayName",
    "accountEnabled",
    "signInSessionsValidFromDateTime",
    "lastPasswordChangeDateTime",
)
SP_PROPERTIES = (
    "id",
    "appId",
    "displayName",
    "accountEnabled",
    "servicePrincipalType",
    "appOwnerOrganizationId",
)
_MAX_PAGE = re.compile(r"odata\.maxpagesize=(\d{1,4})")


def graph_time(epoch: float) -> str | None:
    """Graph's DateTimeOffset in UTC, ``None`` for "never"."""
    if not epoch:
        return None
    moment = _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _authorize(ctx: IdPContext, request: Request, role: str) -> None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
    try:
        claims = ctx.keys.verify(
            token.strip(), ctx.now(), audience=[ctx.graph_base_url, GRAPH_APP_ID]
        )
    except jwt.InvalidTokenError:
        raise GraphError(
            401, "InvalidAuthenticationToken", "Access token validation failure."
        ) from None
    if role not in (claims.get("roles") or []):
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )


def _risk_state(level: str, updated: float) -> str:
    return "atRisk" if level != "none" else ("dismissed" if updated else "none")


def _delta(
    ctx: IdPContext,
    request: Request,
    kind: str,
    allowed: tuple[str, ...],
    view: Callable[[str], Mapping[str, Any] | None],
) -> dict[str, Any]:
    params = request.query_params
    changes = ctx.directory.changes
    latest = changes[-1].seq if changes else 0
    token = params.get("$skiptoken") or params.get("$deltatoken")
    if token == "latest":
        # "$deltatoken=latest": no objects, only a delta link from now on (Graph delta query
        # overview, "Use $deltatoken=latest").
        select = parse_select(params.get("$select"), allowed)
        state = DeltaState(since=latest, upto=latest, offset=0, select=select)
    elif token:
        state = decode_state(token, latest)
    else:
        state = DeltaState(select=parse_select(params.get("$select"), allowed))
    match = _MAX_PAGE.search(request.headers.get("prefer", ""))
    page_size = max(1, int(match.group(1))) if match else DEFAULT_PAGE_SIZE
    page = delta_page(changes, kind, state, page_size, view)
    base = f"{ctx.graph_base_url}{request.url.path.removeprefix(GRAPH_PATH)}"
    body: dict[str, Any] = {
        "@odata.context": f"{ctx.graph_base_url}/v1.0/$metadata",
        "value": page.items,
    }
    if page.next_state is not None:
        body["@odata.nextLink"] = (
            f"{base}?{urlencode({'$skiptoken': encode_state(page.next_state)})}"
        )
    if page.delta_state is not None:
        body["@odata.deltaLink"] = (
            f"{base}?{urlencode({'$deltatoken': encode_state(page.delta_state)})}"
        )
    return body


def _users_delta(ctx: IdPContext, request: Request) -> dict[str, Any]:
    def view(oid: str) -> Mapping[str, Any] | None:
        user = ctx.directory.users.get(oid)
        return None if user is None or user.deleted else user.graph_view(graph_time)

    return _delta(ctx, request, "user", USER_PROPERTIES, view)


def _sps_delta(ctx: IdPContext, request: Request) -> dict[str, Any]:
    by_object = {a.service_principal_id: a for a in ctx.directory.applications.values()}

    def view(object_id: str) -> Mapping[str, Any] | None:
        app = by_object.get(object_id)
        return None if app is None or app.deleted else app.graph_view()

    return _delta(ctx, request, "servicePrincipal", SP_PROPERTIES, view)


RISKY_USER_PROPERTIES = (
    "id",
    "userPrincipalName",
    "riskLevel",
    "riskState",
    "riskDetail",
    "riskLastUpdatedDateTime",
    "isDeleted",
)
RISKY_SP_PROPERTIES = (
    "id",
    "appId",
    "displayName",
    "accountEnabled",
    "riskLevel",
    "riskState",
    "riskLastUpdatedDateTime",
)


def _collection(
    request: Request, items: list[dict[str, Any]], allowed: tuple[str, ...]
) -> dict[str, Any]:
    """A non-delta collection, narrowed by ``$select`` like Graph does."""
    select = parse_select(request.query_params.get("$select"), allowed)
    if select:
        items = [{k: item.get(k) for k in ("id", *select)} for item in items]
    return {"value": items}


def _risky_users(ctx: IdPContext, request: Request) -> dict[str, Any]:
    return _collection(
        request,
        [
            {
                "id": u.object_id,
                "userPrincipalName": u.username,
                "riskLevel": u.risk_level,
                "riskState": _risk_state(u.risk_level, u.risk_updated_at),
                "riskDetail": "none",
                "riskLastUpdatedDateTime": graph_time(u.risk_updated_at),
                "isDeleted": u.deleted,
            }
            for u in ctx.directory.users.values()
            if u.risk_updated_at
        ],
        RISKY_USER_PROPERTIES,
    )


def _risky_sps(ctx: IdPContext, request: Request) -> dict[str, Any]:
    return _collection(
        request,
        [
            {
                "id": a.service_principal_id,
                "appId": a.app_id,
                "displayName": a.display_name,
                "accountEnabled": a.enabled,
                "riskLevel": a.risk_level,
                "riskState": _risk_state(a.risk_level, a.risk_updated_at),
                "riskLastUpdatedDateTime": graph_time(a.risk_updated_at),
            }
            for a in ctx.directory.applications.values()
            if a.risk_updated_at
        ],
        RISKY_SP_PROPERTIES,
    )


def _named_locations(ctx: IdPContext, request: Request) -> dict[str, Any]:
    def cidr(value: str) -> dict[str, str]:
        family = "iPv6CidrRange" if ":" in value else "iPv4CidrRange"
        return {"@odata.type": f"#microsoft.graph.{family}", "cidrAddress": value}

    return {
        "value": [
            {
                "@odata.type": "#microsoft.graph.ipNamedLocation",
                "id": loc.id,
                "displayName": loc.display_name,
                "isTrusted": loc.is_trusted,
                "ipRanges": [cidr(r) for r in loc.ip_ranges],
            }
            for loc in ctx.directory.named_locations.values()
        ]
    }


def _policies(ctx: IdPContext, request: Request) -> dict[str, Any]:
    return {"value": [p.graph_view() for p in ctx.directory.policies.values()]}


def _endpoint(
    ctx: IdPContext, role: str, build: Callable[[IdPContext, Request], dict[str, Any]]
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            _authorize(ctx, request, role)
            return JSONResponse(build(ctx, request))
        except GraphError as err:  # DeltaError included
            return JSONResponse(err.body(), err.status)

    return endpoint


def graph_routes(ctx: IdPContext) -> list[Route]:
    v1 = f"{GRAPH_PATH}/v1.0"
    table: list[tuple[str, str, Callable[[IdPContext, Request], dict[str, Any]]]] = [
        ("/users/delta", "User.Read.All", _users_delta),
        ("/servicePrincipals/delta", "Application.Read.All", _sps_delta),
        ("/identityProtection/riskyUsers", "IdentityRiskyUser.Read.All", _risky_users),
        (
            "/identityProtection/riskyServicePrincipals",
            "IdentityRiskyServicePrincipal.Read.All",
            _risky_sps,
        ),
        ("/identity/conditionalAccess/namedLocations", "Policy.Read.All", _named_locations),
        ("/identity/conditionalAccess/policies", "Policy.Read.All", _policies),
    ]
    return [Route(v1 + path, _endpoint(ctx, role, build)) for path, role, build in table]
