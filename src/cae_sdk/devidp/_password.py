"""Resource owner password credentials grant (RFC 6749 section 4.3), as Entra serves it.

Useful for scripted tests of user tokens and for the refusals only a password sign-in sees:
a wrong password is ``AADSTS50126``; the sign-in has no second factor (``amr: ["pwd"]``), so an
MFA policy or an ``acrs`` step-up answers ``AADSTS50076`` as Entra does for ROPC.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Mapping
from typing import Any

from ._client_auth import authenticate_client
from ._context import IdPContext
from ._errors import Refusal
from ._oauth import check_enabled, issue_user_tokens, lookup_client, required
from ._tokens import ClaimsEvaluation

__all__ = ["PASSWORD_GRANT", "redeem_password"]

PASSWORD_GRANT = "password"


def redeem_password(
    ctx: IdPContext, tenant_id: str, form: Mapping[str, str], claims: ClaimsEvaluation
) -> dict[str, Any]:
    app = lookup_client(ctx, tenant_id, required(form, "client_id"))
    if not app.is_public_client:
        authenticate_client(ctx, app, form, tenant_id)
    check_enabled(app)
    user = ctx.directory.user_by_name(tenant_id, required(form, "username"))
    password = required(form, "password")
    if user is None or not hmac.compare_digest(password.encode(), user.password.encode()):
        raise Refusal.INVALID_CREDENTIALS.error()
    return issue_user_tokens(
        ctx,
        tenant_id=tenant_id,
        client_id=app.app_id,
        user=user,
        scope=required(form, "scope"),
        claims=claims,
        amr=["pwd"],
        session_id=str(uuid.uuid4()),
    )
