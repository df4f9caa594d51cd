"""The token endpoint (RFC 6749 section 3.2) and its grants.

``client_credentials`` (secret, certificate or federated assertion), ``refresh_token`` and the
device code grant (RFC 8628 section 3.4) are served; everything else is
``unsupported_grant_type``. Every refusal is an Entra error body (see :mod:`._errors`); no input
reaches a 500.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse

from ._client_auth import authenticate_client
from ._context import IdPContext
from ._directory import Application, User
from ._errors import EntraError, Refusal, entra_error_body
from ._tokens import (
    AccessTokenSpec,
    ClaimsEvaluation,
    access_token_claims,
    client_info,
    evaluate_claims,
    id_token_claims,
    resolve_scope,
    wait_for_watermark,
)

__all__ = [
    "Grant",
    "TokenEndpoint",
    "error_response",
    "issue_user_tokens",
    "read_form",
    "resolve_tenant",
]

# Named as when the module was public, so logging configuration that names it keeps working.
logger = logging.getLogger("cae_sdk.devidp.oauth")

Grant = Callable[[IdPContext, str, Mapping[str, str], ClaimsEvaluation], dict[str, Any]]
MAX_BODY = 256 * 1024
_REFRESH_AUDIENCE_SUFFIX = "/refresh"


def error_response(
    ctx: IdPContext, err: EntraError, request: Request | None = None
) -> JSONResponse:
    correlation = request.headers.get("client-request-id") if request is not None else None
    body = entra_error_body(err, ctx.now(), correlation_id=_safe_id(correlation))
    return JSONResponse(body, status_code=err.status, headers={"Cache-Control": "no-store"})


def _safe_id(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded body (RFC 6749 appendix B) as ``str -> str``; anything else, duplicated
    parameters included (RFC 6749 section 3.2), is ``invalid_request``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise EntraError.invalid_request(
            "The request body must be application/x-www-form-urlencoded.", code=900143
        )
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise EntraError.invalid_request("The request body is too large.", code=900143)
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=64
        )
    except (UnicodeDecodeError, ValueError):
        raise EntraError.invalid_request(
            "The request body could not be parsed.", code=900143
        ) from None
    values: dict[str, str] = {}
    for key, value in pairs:
        if key in values:
            raise EntraError.invalid_request(f"The parameter '{key[:64]}' is duplicated.", 90015)
        values[key] = value
    return values


def with_basic_credentials(authorization: str | None, form: dict[str, str]) -> dict[str, str]:
    """``client_secret_basic`` (RFC 6749 section 2.3.1): credentials in the Authorization
    header, each form-urlencoded. Using both the header and body credentials is an error."""
    if not authorization:
        return form
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return form
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, or non-ASCII (latin-1) header text
        raise EntraError.invalid_request("The Basic authorization header is malformed.") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep or "client_secret" in form or "client_assertion" in form:
        raise EntraError.invalid_request("Use exactly one client authentication method.", 90015)
    if form.get("client_id", unquote_plus(client_id)) != unquote_plus(client_id):
        raise EntraError.invalid_request("client_id differs from the Basic credentials.", 90015)
    return {**form, "client_id": unquote_plus(client_id), "client_secret": unquote_plus(secret)}


def required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise EntraError.invalid_request(
            f"The request body must contain the following parameter: '{name}'."
        )
    return value


def v1_scope(form: Mapping[str, str]) -> str:
    """The v1 endpoint names the resource (``resource=``) instead of a scope."""
    resource = form.get("resource")
    if not resource:
        return required(form, "scope")
    return resource.rstrip("/") + "/.default"


def resolve_tenant(ctx: IdPContext, request: Request) -> str:
    """The tenant named in the path; ``common`` / ``organizations`` mean the default tenant."""
    tenant = str(request.path_params.get("tenant", "")).lower()
    if tenant in ("common", "organizations"):
        return ctx.default_tenant_id
    if tenant not in ctx.directory.tenants:
        raise Refusal.TENANT_NOT_FOUND.error(tenant=tenant)
    return tenant


def lookup_client(ctx: IdPContext, tenant_id: str, client_id: str) -> Application:
    app = ctx.directory.application(tenant_id, client_id)
    if app is None or app.deleted:
        raise Refusal.APPLICATION_NOT_FOUND.error(app_id=client_id, tenant=tenant_id)
    return app


def check_enabled(app: Application) -> None:
    if not app.enabled:
        raise Refusal.APPLICATION_DISABLED.error(app_id=app.app_id, name=app.display_name)


def lifetime_for(ctx: IdPContext, cp1: bool) -> int:
    return ctx.settings.cp1_token_lifetime if cp1 else ctx.settings.token_lifetime


def sign_access_token(ctx: IdPContext, spec: AccessTokenSpec) -> str:
    return ctx.keys.sign(access_token_claims(spec, base_url=ctx.base_url, now=ctx.now()))


def _token_body(token: str, lifetime: int, scope: str) -> dict[str, Any]:
    return {
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    }


def app_only_token(
    ctx: IdPContext, app: Application, tenant_id: str, scope: str, claims: ClaimsEvaluation
) -> dict[str, Any]:
    """Issue an app-only token for ``app`` (already authenticated) to the scope's resource."""
    resolved = resolve_scope(scope, ctx.directory)
    if not resolved.is_default:
        raise Refusal.SCOPE_NEEDS_DEFAULT.error(scope=scope)
    check_enabled(app)
    if app.risk_level == "high" and ctx.settings.block_high_risk_service_principals:
        raise Refusal.BLOCKED_BY_CONDITIONAL_ACCESS.error()
    resource = resolved.resource
    cp1 = claims.cp1 and "xms_cc" in resource.optional_claims
    lifetime = lifetime_for(ctx, cp1)
    spec = AccessTokenSpec(
        tenant_id=tenant_id,
        client_id=app.app_id,
        audience=resolved.audience,
        subject_object_id=app.service_principal_id,
        is_app_only=True,
        roles=app.granted_roles.get(resource.app_id, ()),
        cp1=cp1,
        version=resource.access_token_version,
        lifetime=lifetime,
        not_before=claims.not_before,
    )
    return _token_body(sign_access_token(ctx, spec), lifetime, scope)


def _check_user_policies(
    ctx: IdPContext, user: User, client_id: str, resource: Application, amr: Sequence[str]
) -> None:
    """Account state and the Conditional Access subset (block > password change > MFA)."""
    if not user.enabled or user.deleted:
        raise Refusal.USER_DISABLED.error()
    applying = []
    for policy in ctx.directory.policies.values():
        if policy.state != "enabled":
            continue
        if "All" not in policy.include_users and user.object_id not in policy.include_users:
            continue
        apps = policy.include_applications
        if "All" not in apps and resource.app_id not in apps and client_id not in apps:
            continue
        if not policy.covers_risk(user.risk_level):
            continue
        applying.append(policy.grant)
    if "block" in applying:
        raise Refusal.BLOCKED_BY_CONDITIONAL_ACCESS.error()
    if "passwordChange" in applying:
        raise Refusal.PASSWORD_CHANGE_REQUIRED.error()
    if "mfa" in applying and "mfa" not in amr:
        raise Refusal.MFA_REQUIRED.error(resource=resource.app_id)


def issue_user_tokens(
    ctx: IdPContext,
    *,
    tenant_id: str,
    client_id: str,
    user: User,
    scope: str,
    claims: ClaimsEvaluation,
    amr: Sequence[str],
    session_id: str,
) -> dict[str, Any]:
    """Access, refresh and ID token for a user flow that already authenticated ``user``."""
    resolved = resolve_scope(scope, ctx.directory)
    resource = resolved.resource
    _check_user_policies(ctx, user, client_id, resource, amr)
    if claims.acrs and "mfa" not in amr:
        # An authentication context step-up is only satisfiable by a sign-in that did MFA.
        raise Refusal.MFA_REQUIRED.error(resource=resource.app_id)
    cp1 = claims.cp1 and "xms_cc" in resource.optional_claims
    lifetime = lifetime_for(ctx, cp1)
    spec = AccessTokenSpec(
        tenant_id=tenant_id,
        client_id=client_id,
        audience=resolved.audience,
        subject_object_id=user.object_id,
        is_app_only=False,
        scopes=resource.scopes if resolved.is_default else resolved.scopes,
        amr=amr,
        acrs=claims.acrs,
        cp1=cp1,
        session_id=session_id,
        username=user.username,
        version=resource.access_token_version,
        lifetime=lifetime,
        not_before=claims.not_before,
    )
    now = ctx.now()
    body = _token_body(sign_access_token(ctx, spec), lifetime, scope)
    refresh_claims = {
        "aud": ctx.base_url + _REFRESH_AUDIENCE_SUFFIX,
        "iss": ctx.issuer_v2(tenant_id),
        "cid": client_id,
        "oid": user.object_id,
        "tid": tenant_id,
        "sid": session_id,
        "amr": list(amr),
        "iat": int(now),
        "issued_at": now,  # sub-second, compared with signInSessionsValidFrom
        "exp": int(now) + ctx.settings.refresh_token_lifetime,
    }
    body["refresh_token"] = ctx.keys.sign(refresh_claims, typ="rt+jwt")
    body["id_token"] = ctx.keys.sign(
        id_token_claims(
            base_url=ctx.base_url,
            tenant_id=tenant_id,
            client_id=client_id,
            object_id=user.object_id,
            username=user.username,
            display_name=user.display_name,
            amr=amr,
            now=now,
        )
    )
    body["client_info"] = client_info(user.object_id, tenant_id)
    return body


class TokenEndpoint:
    """``POST /{tenant}/oauth2/v2.0/token`` (and the v1 path)."""

    def __init__(self, ctx: IdPContext, extra_grants: Mapping[str, Grant] | None = None) -> None:
        self.ctx = ctx
        self.extra_grants = dict(extra_grants or {})

    async def handle(self, request: Request) -> JSONResponse:
        try:
            tenant_id = resolve_tenant(self.ctx, request)
            form = with_basic_credentials(
                request.headers.get("authorization"), await read_form(request)
            )
            claims = evaluate_claims(form.get("claims"))
            delay = wait_for_watermark(self.ctx.now(), claims.not_before)
            if delay:
                await asyncio.sleep(delay)
            body = self.dispatch(tenant_id, form, claims)
        except EntraError as err:
            logger.info("token request refused: AADSTS%s %s", err.code, err.error)
            return error_response(self.ctx, err, request)
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def dispatch(
        self, tenant_id: str, form: Mapping[str, str], claims: ClaimsEvaluation
    ) -> dict[str, Any]:
        grant_type = required(form, "grant_type")
        if grant_type == "client_credentials":
            app = lookup_client(self.ctx, tenant_id, required(form, "client_id"))
            authenticate_client(self.ctx, app, form, tenant_id)
            scope = form.get("scope") or v1_scope(form)
            return app_only_token(self.ctx, app, tenant_id, scope, claims)
        if grant_type == "refresh_token":
            return self.refresh(tenant_id, form, claims)
        extra = self.extra_grants.get(grant_type)
        if extra is not None:
            return extra(self.ctx, tenant_id, form, claims)
        raise Refusal.UNSUPPORTED_GRANT_TYPE.error(grant_type=grant_type)

    def refresh(
        self, tenant_id: str, form: Mapping[str, str], claims: ClaimsEvaluation
    ) -> dict[str, Any]:
        client_id = required(form, "client_id")
        app = lookup_client(self.ctx, tenant_id, client_id)
        if not app.is_public_client:
            authenticate_client(self.ctx, app, form, tenant_id)
        check_enabled(app)
        try:
            grant = self.ctx.keys.verify(
                required(form, "refresh_token"),
                self.ctx.now(),
                audience=self.ctx.base_url + _REFRESH_AUDIENCE_SUFFIX,
                options={"require": ["exp", "oid", "cid", "sid"]},
            )
        except jwt.InvalidTokenError:
            raise EntraError.invalid_grant(
                "The refresh token is malformed or expired.", 9002313
            ) from None
        if grant["cid"] != app.app_id or grant.get("tid") != tenant_id:
            raise EntraError.invalid_grant("The refresh token was issued to a different client.")
        user = self.ctx.directory.users.get(str(grant["oid"]))
        if user is None:
            raise EntraError.invalid_grant("The user of this refresh token no longer exists.")
        issued = float(grant.get("issued_at", grant.get("iat", 0)))
        if issued < user.last_password_change:
            raise Refusal.SESSION_ENDED_BY_PASSWORD_CHANGE.error()
        if issued < user.sessions_valid_from:
            raise Refusal.GRANT_REVOKED.error()
        return issue_user_tokens(
            self.ctx,
            tenant_id=tenant_id,
            client_id=client_id,
            user=user,
            scope=required(form, "scope"),
            claims=claims,
            amr=[str(a) for a in grant.get("amr", [])],
            session_id=str(grant["sid"]),
        )
