"""HTTP surface of the transmitter (SSF 1.0 sections 7 and 8, RFC 8936).

Management calls and polling need a bearer token this provider issued for the SSF audience
(``idp.ssf_access_token()``, or client credentials with scope ``{ssf_issuer}/.default``). A
stream belongs to the client (``azp``) that created it; other clients get 404.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...core.secevents import DELIVERY_POLL, DELIVERY_PUSH, SSF_CONFIGURATION_PATH
from .._context import SSF_PATH, IdPContext
from .poll import parse_poll_request, poll_stream
from .streams import (
    STATUSES,
    Stream,
    StreamError,
    apply_stream_update,
    new_stream,
    validate_subject,
)
from .transmitter import Transmitter, transmitter_of

__all__ = ["ssf_routes"]

MAX_BODY = 64 * 1024
MANAGE_ROLE = "ssf.manage"


def ssf_configuration(ctx: IdPContext) -> dict[str, Any]:
    """Transmitter configuration metadata (SSF 1.0 section 7.1)."""
    base = ctx.ssf_issuer
    return {
        "spec_version": "1_0",
        "issuer": base,
        "jwks_uri": f"{base}/jwks",
        "delivery_methods_supported": [DELIVERY_PUSH, DELIVERY_POLL],
        "configuration_endpoint": f"{base}/streams",
        "status_endpoint": f"{base}/status",
        "add_subject_endpoint": f"{base}/subjects/add",
        "remove_subject_endpoint": f"{base}/subjects/remove",
        "verification_endpoint": f"{base}/verify",
        "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6749"}],
        "default_subjects": "ALL",
    }


Handler = Callable[[Transmitter, str, Request, dict[str, Any]], Awaitable[Response]]


def _owner(ctx: IdPContext, request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise StreamError(401, "authentication_failed", "bearer token required")
    try:
        claims = ctx.keys.verify(token.strip(), ctx.now(), audience=ctx.ssf_issuer)
    except jwt.InvalidTokenError:
        raise StreamError(401, "authentication_failed", "invalid bearer token") from None
    owner = claims.get("azp") or claims.get("appid")
    if not isinstance(owner, str) or MANAGE_ROLE not in (claims.get("roles") or []):
        raise StreamError(403, "access_denied", f"token lacks the {MANAGE_ROLE} role")
    return owner


def _stream(tx: Transmitter, owner: str, stream_id: Any) -> Stream:
    stream = tx.streams.get(stream_id) if isinstance(stream_id, str) else None
    if stream is None or stream.owner != owner:
        raise StreamError(404, "not_found", "no such stream")
    return stream


async def _create(tx: Transmitter, owner: str, request: Request, body: dict[str, Any]) -> Response:
    stream = new_stream(
        body,
        owner=owner,
        issuer=tx.issuer,
        poll_base=f"{tx.issuer}/poll",
        allow_remote_push=tx.ctx.settings.ssf_allow_remote_push,
    )
    tx.streams[stream.stream_id] = stream
    return JSONResponse(stream.configuration(), status_code=201)


async def _streams(tx: Transmitter, owner: str, request: Request, body: dict[str, Any]) -> Response:
    stream_id = request.query_params.get("stream_id")
    if request.method == "GET" and stream_id is None:
        mine = [s.configuration() for s in tx.streams.values() if s.owner == owner]
        return JSONResponse(mine)
    if request.method == "POST":
        return await _create(tx, owner, request, body)
    stream = _stream(tx, owner, stream_id if stream_id is not None else body.get("stream_id"))
    if request.method == "DELETE":
        tx.remove(stream.stream_id)
        return Response(status_code=204)
    if request.method in ("PATCH", "PUT"):
        apply_stream_update(
            stream,
            body,
            poll_base=f"{tx.issuer}/poll",
            replace=request.method == "PUT",
            allow_remote_push=tx.ctx.settings.ssf_allow_remote_push,
        )
    return JSONResponse(stream.configuration())


async def _status(tx: Transmitter, owner: str, request: Request, body: dict[str, Any]) -> Response:
    if request.method == "GET":
        return JSONResponse(_stream(tx, owner, request.query_params.get("stream_id")).status_body())
    stream = _stream(tx, owner, body.get("stream_id"))
    status = body.get("status")
    if status not in STATUSES:
        raise StreamError(400, "invalid_request", f"status must be one of {list(STATUSES)}")
    reason = body.get("reason")
    stream.status, stream.status_reason = status, reason if isinstance(reason, str) else None
    tx.status_changed(stream)
    return JSONResponse(stream.status_body())


async def _announce(
    tx: Transmitter, owner: str, request: Request, body: dict[str, Any]
) -> Response:
    """Dev only: what the transmitter's operator does, a status change of the transmitter's
    own making, announced with a stream-updated event (SSF 1.0 section 8.1.5)."""
    stream = _stream(tx, owner, body.get("stream_id"))
    status, reason = body.get("status"), body.get("reason")
    if status not in STATUSES or (reason is not None and not isinstance(reason, str)):
        raise StreamError(400, "invalid_request", f"status must be one of {list(STATUSES)}")
    tx.announce_status(stream, status, reason)
    return JSONResponse(stream.status_body())


async def _add_subject(
    tx: Transmitter, owner: str, request: Request, body: dict[str, Any]
) -> Response:
    stream = _stream(tx, owner, body.get("stream_id"))
    subject = validate_subject(body)
    stream.excluded_subjects = [s for s in stream.excluded_subjects if s != subject]
    return Response(status_code=200)


async def _remove_subject(
    tx: Transmitter, owner: str, request: Request, body: dict[str, Any]
) -> Response:
    stream = _stream(tx, owner, body.get("stream_id"))
    subject = validate_subject(body)
    if subject not in stream.excluded_subjects:
        stream.excluded_subjects.append(subject)
    return Response(status_code=204)


async def _verify(tx: Transmitter, owner: str, request: Request, body: dict[str, Any]) -> Response:
    stream = _stream(tx, owner, body.get("stream_id"))
    state = body.get("state")
    if state is not None and not isinstance(state, str):
        raise StreamError(400, "invalid_request", "state must be a string")
    tx.verify(stream, state)
    return Response(status_code=204)


async def _poll(tx: Transmitter, owner: str, request: Request, body: dict[str, Any]) -> Response:
    stream = _stream(tx, owner, request.path_params["stream_id"])
    if stream.delivery_method != DELIVERY_POLL:
        raise StreamError(400, "invalid_request", "stream is not configured for poll delivery")
    return JSONResponse(await poll_stream(stream, parse_poll_request(body)))


def _endpoint(ctx: IdPContext, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        tx = transmitter_of(ctx)
        try:
            owner = _owner(ctx, request)
            raw = await request.body()
            if len(raw) > MAX_BODY:
                raise StreamError(413, "invalid_request", "body too large")
            try:
                body = json.loads(raw) if raw.strip() else {}
            except (ValueError, RecursionError):  # RecursionError: deeply nested JSON
                raise StreamError(400, "invalid_request", "body is not JSON") from None
            if not isinstance(body, dict):
                raise StreamError(400, "invalid_request", "body must be a JSON object")
            return await handler(tx, owner, request, body)
        except StreamError as err:
            headers = (
                {"WWW-Authenticate": 'Bearer error="invalid_token"'} if err.status == 401 else None
            )
            return JSONResponse(
                {"err": err.err, "description": err.description}, err.status, headers=headers
            )

    return endpoint


def ssf_routes(ctx: IdPContext) -> list[Route]:
    transmitter_of(ctx)  # subscribe to the directory from the start

    async def configuration(request: Request) -> Response:
        return JSONResponse(ssf_configuration(ctx))

    async def jwks(request: Request) -> Response:
        return JSONResponse(transmitter_of(ctx).keys.jwks(ctx.now()))

    return [
        Route(SSF_CONFIGURATION_PATH, configuration),
        Route(SSF_CONFIGURATION_PATH + SSF_PATH, configuration),  # RFC 8414 style, path suffix
        Route(f"{SSF_PATH}/jwks", jwks),
        Route(
            f"{SSF_PATH}/streams",
            _endpoint(ctx, _streams),
            methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
        ),
        Route(f"{SSF_PATH}/status", _endpoint(ctx, _status), methods=["GET", "POST"]),
        Route(f"{SSF_PATH}/dev/announce-status", _endpoint(ctx, _announce), methods=["POST"]),
        Route(f"{SSF_PATH}/subjects/add", _endpoint(ctx, _add_subject), methods=["POST"]),
        Route(f"{SSF_PATH}/subjects/remove", _endpoint(ctx, _remove_subject), methods=["POST"]),
        Route(f"{SSF_PATH}/verify", _endpoint(ctx, _verify), methods=["POST"]),
        Route(SSF_PATH + "/poll/{stream_id}", _endpoint(ctx, _poll), methods=["POST"]),
    ]
