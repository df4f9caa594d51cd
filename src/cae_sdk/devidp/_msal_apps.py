"""Real, unmodified MSAL applications pointed at a running :class:`DevIdentityProvider`.

What every test against the dev identity provider otherwise writes by hand: the tenant
authority, ``client_capabilities=["cp1"]``, no instance discovery (the host is not Microsoft's)
and an HTTP session that trusts the provider's CA.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msal

if TYPE_CHECKING:  # pragma: no cover
    import requests

    from ._runner import DevIdentityProvider

__all__ = ["device_code_token", "msal_confidential_app", "msal_public_app"]


def _common(idp: DevIdentityProvider, http: requests.Session | None) -> dict[str, Any]:
    return {
        "authority": idp.authority,
        "client_capabilities": ["cp1"],
        "instance_discovery": False,
        "http_client": http if http is not None else idp.shared_http_session(),
        "token_cache": msal.TokenCache(),
    }


def msal_public_app(
    idp: DevIdentityProvider, *, http: requests.Session | None = None, **kwargs: Any
) -> msal.PublicClientApplication:
    """A ``PublicClientApplication`` for the seeded public client (device code, refresh)."""
    return msal.PublicClientApplication(
        idp.seed.public_app.client_id, **{**_common(idp, http), **kwargs}
    )


def msal_confidential_app(
    idp: DevIdentityProvider, *, http: requests.Session | None = None, **kwargs: Any
) -> msal.ConfidentialClientApplication:
    """A ``ConfidentialClientApplication`` for the seeded secret app (override with
    ``client_id=`` / ``client_credential=``)."""
    client_id = kwargs.pop("client_id", idp.seed.secret_app.client_id)
    credential = kwargs.pop("client_credential", idp.seed.secret_app.client_secret)
    return msal.ConfidentialClientApplication(
        client_id, client_credential=credential, **{**_common(idp, http), **kwargs}
    )


def device_code_token(
    idp: DevIdentityProvider,
    app: msal.PublicClientApplication | None = None,
    *,
    scopes: Sequence[str] | None = None,
    claims: str | None = None,
) -> dict[str, Any]:
    """Sign the seeded user in through device code (auto-approved by default) and return
    MSAL's result; ``claims`` goes to both the device authorization and the token request,
    as an app answering a claims challenge sends it."""
    app = app if app is not None else msal_public_app(idp)
    wanted = list(scopes) if scopes else [f"{idp.seed.api.audience}/{idp.seed.api.scopes[0]}"]
    flow = app.initiate_device_flow(wanted, claims_challenge=claims)
    if "user_code" not in flow:
        raise RuntimeError(f"device authorization failed: {flow}")
    result: dict[str, Any] = app.acquire_token_by_device_flow(flow, claims_challenge=claims)
    return result
