"""Device authorization grant (RFC 8628) with automatic or admin approval.

By default a code is approved at once for the seeded user, with MFA when the user has MFA
registered (``amr`` then carries ``mfa``). With ``device_code_auto_approve=False`` an admin call
(``approve_device_code(user_code, ...)``) approves it, as the user would in a browser.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from ._context import IdPContext
from ._errors import EntraError, Refusal
from ._oauth import error_response, issue_user_tokens, lookup_client, read_form, resolve_tenant
from ._tokens import ClaimsEvaluation, evaluate_claims, resolve_scope

__all__ = [
    "DEVICE_CODE_GRANT",
    "DeviceCodes",
    "approve_device_code",
    "device_authorization",
    "redeem_device_code",
]

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # RFC 8628 section 6.1: no vowels, no look-alikes


@dataclass
class DeviceCode:
    device_code: str
    user_code: str
    tenant_id: str
    client_id: str
    scope: str
    expires_at: float
    user_id: str | None = None
    mfa: bool = False
    claims: ClaimsEvaluation = field(default_factory=ClaimsEvaluation)
    """Claims requested at device authorization (MSAL's ``initiate_device_flow``)."""


class DeviceCodes:
    def __init__(self) -> None:
        self.by_device: dict[str, DeviceCode] = {}

    def purge_expired(self, now: float) -> None:
        for device_code in [k for k, c in self.by_device.items() if c.expires_at < now]:
            del self.by_device[device_code]

    def by_user_code(self, user_code: str) -> DeviceCode | None:
        wanted = user_code.replace("-", "").upper()
        for code in self.by_device.values():
            if code.user_code == wanted:
                return code
        return None


def device_codes(ctx: IdPContext) -> DeviceCodes:
    store = ctx.extensions.setdefault("device_codes", DeviceCodes())
    assert isinstance(store, DeviceCodes)
    return store


def approve_device_code(
    ctx: IdPContext, code: DeviceCode, user_id: str, mfa: bool | None = None
) -> bool:
    """Sign ``user_id`` in for ``code``; ``False`` (the code stays pending) unless that user
    lives in the code's tenant: a token of one tenant never names another tenant's user."""
    user = ctx.directory.users.get(user_id)
    if user is None or user.tenant_id != code.tenant_id:
        return False
    code.user_id = user.object_id
    code.mfa = user.mfa_registered if mfa is None else (mfa and user.mfa_registered)
    return True


async def device_authorization(request: Request) -> JSONResponse:
    """``POST /{tenant}/oauth2/v2.0/devicecode`` (RFC 8628 section 3.1-3.2)."""
    ctx: IdPContext = request.app.state.ctx
    try:
        tenant_id = resolve_tenant(ctx, request)
        form = await read_form(request)
        client_id = form.get("client_id") or ""
        lookup_client(ctx, tenant_id, client_id)
        scope = form.get("scope") or ""
        resolve_scope(scope, ctx.directory)  # refuse unknown resources up front
        requested = evaluate_claims(form.get("claims"))
    except EntraError as err:
        return error_response(ctx, err, request)
    user_code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(9))
    code = DeviceCode(
        device_code=secrets.token_urlsafe(32),
        user_code=user_code,
        tenant_id=tenant_id,
        client_id=client_id.lower(),
        scope=scope,
        expires_at=ctx.now() + ctx.settings.device_code_lifetime,
        claims=requested,
    )
    store = device_codes(ctx)
    store.purge_expired(ctx.now())
    store.by_device[code.device_code] = code
    default_user = ctx.extensions.get("default_user_id")
    if ctx.settings.device_code_auto_approve and isinstance(default_user, str):
        approve_device_code(ctx, code, default_user)
    verification_uri = f"{ctx.base_url}/devicelogin"
    return JSONResponse(
        {
            "device_code": code.device_code,
            "user_code": user_code,
            "verification_uri": verification_uri,
            "expires_in": ctx.settings.device_code_lifetime,
            "interval": ctx.settings.device_code_interval,
            "message": f"To sign in, use a web browser to open the page {verification_uri} "
            f"and enter the code {user_code} to authenticate.",
        }
    )


def redeem_device_code(
    ctx: IdPContext, tenant_id: str, form: Mapping[str, str], claims: ClaimsEvaluation
) -> dict[str, Any]:
    """The token request of RFC 8628 section 3.4; errors per section 3.5."""
    store = device_codes(ctx)
    code = store.by_device.get(form.get("device_code") or "")
    if (
        code is None
        or code.tenant_id != tenant_id
        or code.client_id != (form.get("client_id") or "").lower()
    ):
        raise Refusal.DEVICE_CODE_UNKNOWN.error()
    if ctx.now() > code.expires_at:
        del store.by_device[code.device_code]
        raise Refusal.DEVICE_EXPIRED.error()
    if code.user_id is None:
        raise Refusal.DEVICE_PENDING.error()
    del store.by_device[code.device_code]  # one redemption per code
    user = ctx.directory.users[code.user_id]
    amr = ["pwd", "mfa"] if code.mfa else ["pwd"]
    return issue_user_tokens(
        ctx,
        tenant_id=tenant_id,
        client_id=code.client_id,
        user=user,
        scope=form.get("scope") or code.scope,
        claims=claims.union(code.claims),
        amr=amr,
        session_id=str(uuid.uuid4()),
    )
