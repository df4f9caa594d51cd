"""The admin JSON API (``/admin/...``, bearer admin key); its client is ``AdminClient``.

Every state-changing call goes through :class:`~.directory.Directory`, so it lands in the Graph
change log and, for CAE-relevant actions, becomes a Shared Signals event. Errors are JSON
``{"error": {"code", "message"}}`` (Graph style) with 400 / 401 / 404, never a 500.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._context import IdPContext
from ._device import approve_device_code, device_codes
from ._directory import (
    RISK_LEVELS,
    Application,
    CertificateCredential,
    ConditionalAccessPolicy,
    Directory,
    FederatedCredential,
    NamedLocationEntry,
    User,
)
from ._errors import GraphError

__all__ = ["AdminError", "admin_routes"]


class AdminError(GraphError):
    """A refused admin call: HTTP ``status``, Graph-style ``code`` and ``message``. Raised by the
    API handlers and, with what the server said, by :class:`AdminClient`."""


Handler = Callable[[IdPContext, Request, dict[str, Any]], Awaitable[Any]]


def _user(ctx: IdPContext, request: Request) -> User:
    user = ctx.directory.users.get(str(request.path_params["oid"]).lower())
    if user is None or user.deleted:
        raise AdminError(404, "Request_ResourceNotFound", "No such user.")
    return user


def _sp(ctx: IdPContext, request: Request) -> Application:
    app = ctx.directory.applications.get(str(request.path_params["app_id"]).lower())
    if app is None or app.deleted:
        raise AdminError(404, "Request_ResourceNotFound", "No such service principal.")
    return app


def _risk(body: dict[str, Any]) -> str:
    level = body.get("level")
    if level not in RISK_LEVELS:
        raise AdminError(400, "invalid_request", f"level must be one of {list(RISK_LEVELS)}")
    return str(level)


def _str_list(body: dict[str, Any], name: str, default: list[str]) -> list[str]:
    value = body.get(name, default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AdminError(400, "invalid_request", f"{name} must be a list of strings")
    return list(value)


def _text(body: dict[str, Any], name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise AdminError(400, "invalid_request", f"{name} must be a non-empty string")
    return value


SpAction = Callable[[Directory, Application, float, dict[str, Any]], Any]
UserAction = Callable[[Directory, User, float, dict[str, Any]], Any]


def _on_sp(action: SpAction) -> Handler:
    async def handler(ctx: IdPContext, request: Request, body: dict[str, Any]) -> Any:
        return action(ctx.directory, _sp(ctx, request), ctx.now(), body)

    return handler


def _on_user(action: UserAction) -> Handler:
    async def handler(ctx: IdPContext, request: Request, body: dict[str, Any]) -> Any:
        return action(ctx.directory, _user(ctx, request), ctx.now(), body)

    return handler


def _revoke(directory: Directory, user: User, now: float, body: dict[str, Any]) -> Any:
    directory.revoke_sessions(user, now)
    return {"value": True}


def _set_mfa(directory: Directory, user: User, now: float, body: dict[str, Any]) -> Any:
    registered = body.get("registered", True)
    if not isinstance(registered, bool):
        raise AdminError(400, "invalid_request", "registered must be a boolean")
    directory.set_mfa_registered(user, registered, now)


def _reset_password(directory: Directory, user: User, now: float, body: dict[str, Any]) -> Any:
    password = _text(body, "password", secrets.token_urlsafe(16))
    directory.reset_password(user, password, now)
    return {"password": password}


async def _rotate(ctx: IdPContext, request: Request, body: dict[str, Any]) -> Any:
    key = ctx.keys.rotate(ctx.now(), ctx.settings.key_overlap_seconds)
    return {"kid": key.kid}


async def _create_user(ctx: IdPContext, request: Request, body: dict[str, Any]) -> Any:
    username = _text(body, "username")
    tenant_id = _tenant(ctx, body)
    if ctx.directory.user_by_name(tenant_id, username) is not None:
        raise AdminError(400, "Request_BadRequest", "A user with this username exists.")
    mfa = body.get("mfa_registered", True)
    if not isinstance(mfa, bool):
        raise AdminError(400, "invalid_request", "mfa_registered must be a boolean")
    user = ctx.directory.add_user(
        User(
            object_id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            username=username,
            password=_text(body, "password", secrets.token_urlsafe(16)),
            display_name=_text(body, "display_name", username),
            mfa_registered=mfa,
        )
    )
    return {"object_id": user.object_id, "username": user.username, "password": user.password}


def _tenant(ctx: IdPContext, body: dict[str, Any]) -> str:
    tenant_id = str(body.get("tenant_id", ctx.default_tenant_id)).lower()
    if tenant_id not in ctx.directory.tenants:
        raise AdminError(404, "Request_ResourceNotFound", "No such tenant.")
    return tenant_id


def _roles(body: dict[str, Any]) -> dict[str, list[str]]:
    roles = body.get("roles", {})
    if not isinstance(roles, dict):
        raise AdminError(400, "invalid_request", "roles must map resource app ids to role lists")
    return {str(r).lower(): _str_list(roles, str(r), []) for r in roles}


async def _create_tenant(ctx: IdPContext, request: Request, body: dict[str, Any]) -> Any:
    tenant_id = str(uuid.uuid4())
    ctx.directory.add_tenant(tenant_id, _text(body, "display_name", "dev tenant"))
    return {"tenant_id": tenant_id}


async def _create_managed_identity(ctx: IdPContext, request: Request, body: dict[str, Any]) -> Any:
    identity = ctx.directory.create_managed_identity(
        _tenant(ctx, body), _text(body, "display_name", "dev-identity"), _roles(body)
    )
    return {
        "client_id": identity.client_id,
        "object_id": identity.object_id,
        "resource_id": identity.resource_id,
    }


async def _add_certificate(ctx: IdPContext, request: Request, body: dict[str, Any]) -> Any:
    app = _sp(ctx, request)
    pem = _text(body, "certificate_pem").encode()
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise AdminError(
            400, "invalid_request", "certificate_pem is not a PEM certificate"
        ) from None
    sha1 = cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - x5t thumbprint
    sha256 = cert.fingerprint(hashes.SHA256()).hex().upper()
    app.certificates.append(CertificateCredential(sha1, sha256, pem.decode()))
    return {"thumbprint": sha1, "thumbprint_sha256": sha256}


async def _create_application(ctx: IdPContext, request: Request, body: dict[str, Any]) -> Any:
    app = Application(
        app_id=str(uuid.uuid4()),
        tenant_id=_tenant(ctx, body),
        display_name=_text(body, "display_name", "dev application"),
        is_public_client=bool(body.get("public_client", False)),
    )
    secret = None if app.is_public_client else secrets.token_urlsafe(30)
    if secret:
        app.secrets.append(secret)
    app.granted_roles = _roles(body)
    if "identifier_uris" in body:  # makes the new app a resource others can ask tokens for
        app.identifier_uris = _str_list(body, "identifier_uris", [])
        app.app_roles = _str_list(body, "app_roles", [])
        app.scopes = _str_list(body, "scopes", [])
        version = body.get("access_token_version", 2)
        if version not in (1, 2):
            raise AdminError(400, "invalid_request", "access_token_version must be 1 or 2")
        app.access_token_version = version
    ctx.directory.add_application(app)
    return {"client_id": app.app_id, "client_secret": secret, "object_id": app.service_principal_id}


async def _add_federated(ctx: IdPContext, request: Request, body: dict[str, Any]) -> Any:
    app = _sp(ctx, request)
    audiences = _str_list(body, "audiences", ["api://AzureADTokenExchange"])
    app.federated_credentials.append(
        FederatedCredential(_text(body, "issuer"), _text(body, "subject"), tuple(audiences))
    )


async def _approve_device(ctx: IdPContext, request: Request, body: dict[str, Any]) -> Any:
    code = device_codes(ctx).by_user_code(str(request.path_params["user_code"]))
    if code is None:
        raise AdminError(404, "Request_ResourceNotFound", "No pending device code.")
    user_id = _text(body, "user_id", str(ctx.extensions.get("default_user_id", "")))
    mfa = body.get("mfa")
    if mfa is not None and not isinstance(mfa, bool):
        raise AdminError(400, "invalid_request", "mfa must be a boolean")
    if not approve_device_code(ctx, code, user_id, mfa):
        raise AdminError(404, "Request_ResourceNotFound", "No such user in the code's tenant.")


async def _add_location(ctx: IdPContext, request: Request, body: dict[str, Any]) -> Any:
    ranges = _str_list(body, "ip_ranges", [])
    try:
        ranges = [str(ipaddress.ip_network(r, strict=False)) for r in ranges]
    except ValueError as exc:
        raise AdminError(400, "invalid_request", str(exc)) from None
    # Graph's ipNamedLocation.isTrusted: optional, false unless set ("Mark as trusted location"
    # is unchecked in the admin center too).
    trusted = body.get("is_trusted", False)
    if not isinstance(trusted, bool):
        raise AdminError(400, "invalid_request", "is_trusted must be a boolean")
    entry = NamedLocationEntry(str(uuid.uuid4()), _text(body, "display_name"), ranges, trusted)
    ctx.directory.named_locations[entry.id] = entry
    return {"id": entry.id}


async def _add_policy(ctx: IdPContext, request: Request, body: dict[str, Any]) -> Any:
    grant = _text(body, "grant", "mfa")
    if grant not in ("mfa", "block", "passwordChange"):
        raise AdminError(400, "invalid_request", "grant must be mfa, block or passwordChange")
    risk = body.get("min_user_risk")
    if risk is not None and risk not in RISK_LEVELS:
        raise AdminError(400, "invalid_request", "min_user_risk must be a risk level")
    policy = ConditionalAccessPolicy(
        id=str(uuid.uuid4()),
        display_name=_text(body, "display_name"),
        state=_text(body, "state", "enabled"),
        include_users=_str_list(body, "include_users", ["All"]),
        include_applications=_str_list(body, "include_applications", ["All"]),
        grant=grant,
        min_user_risk=risk,
    )
    ctx.directory.policies[policy.id] = policy
    return {"id": policy.id}


async def _delete_policy(ctx: IdPContext, request: Request, body: dict[str, Any]) -> Any:
    if ctx.directory.policies.pop(str(request.path_params["policy_id"]), None) is None:
        raise AdminError(404, "Request_ResourceNotFound", "No such policy.")


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError):  # RecursionError: deeply nested JSON
        raise AdminError(400, "invalid_request", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise AdminError(400, "invalid_request", "The body must be a JSON object.")
    return body


def _endpoint(ctx: IdPContext, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        supplied = request.headers.get("authorization", "")
        expected = f"Bearer {ctx.settings.admin_key}"
        try:
            if not hmac.compare_digest(supplied.encode(), expected.encode()):
                raise AdminError(401, "InvalidAuthenticationToken", "Admin key required.")
            result = await handler(ctx, request, _json_object(await request.body()))
        except AdminError as err:
            return JSONResponse(err.body(), err.status)
        if result is None:
            return Response(status_code=204)
        return JSONResponse(result)

    return endpoint


_ROUTES: list[tuple[str, str, Handler]] = [
    (
        "/admin/servicePrincipals/{app_id}/disable",
        "POST",
        _on_sp(lambda d, app, now, _: d.set_service_principal_enabled(app, False, now)),
    ),
    (
        "/admin/servicePrincipals/{app_id}/enable",
        "POST",
        _on_sp(lambda d, app, now, _: d.set_service_principal_enabled(app, True, now)),
    ),
    (
        "/admin/servicePrincipals/{app_id}",
        "DELETE",
        _on_sp(lambda d, app, now, _: d.delete_service_principal(app, now)),
    ),
    (
        "/admin/servicePrincipals/{app_id}/risk",
        "POST",
        _on_sp(lambda d, app, now, body: d.set_service_principal_risk(app, _risk(body), now)),
    ),
    ("/admin/servicePrincipals/{app_id}/federatedCredentials", "POST", _add_federated),
    ("/admin/servicePrincipals/{app_id}/certificates", "POST", _add_certificate),
    (
        "/admin/users/{oid}/disable",
        "POST",
        _on_user(lambda d, user, now, _: d.set_user_enabled(user, False, now)),
    ),
    (
        "/admin/users/{oid}/enable",
        "POST",
        _on_user(lambda d, user, now, _: d.set_user_enabled(user, True, now)),
    ),
    ("/admin/users/{oid}", "DELETE", _on_user(lambda d, user, now, _: d.delete_user(user, now))),
    ("/admin/users/{oid}/revokeSignInSessions", "POST", _on_user(_revoke)),
    ("/admin/users/{oid}/resetPassword", "POST", _on_user(_reset_password)),
    ("/admin/users/{oid}/mfa", "POST", _on_user(_set_mfa)),
    (
        "/admin/users/{oid}/risk",
        "POST",
        _on_user(lambda d, user, now, body: d.set_user_risk(user, _risk(body), now)),
    ),
    ("/admin/users", "POST", _create_user),
    ("/admin/applications", "POST", _create_application),
    ("/admin/tenants", "POST", _create_tenant),
    ("/admin/managedIdentities", "POST", _create_managed_identity),
    ("/admin/keys/rotate", "POST", _rotate),
    ("/admin/deviceCodes/{user_code}/approve", "POST", _approve_device),
    ("/admin/namedLocations", "POST", _add_location),
    ("/admin/policies", "POST", _add_policy),
    ("/admin/policies/{policy_id}", "DELETE", _delete_policy),
]


def admin_routes(ctx: IdPContext) -> list[Route]:
    return [Route(path, _endpoint(ctx, h), methods=[m]) for path, m, h in _ROUTES]
