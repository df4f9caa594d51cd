"""End to end with the dev identity provider: real MSAL tokens (device code for a user,
client credentials for an app) reach a real uvicorn Starlette app through CAEMiddleware; after
``revoke_sessions`` + ``store.revoke_user`` the next request is challenged with ``nbf``, and
MSAL answers the challenge with a token the middleware accepts again."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator
from typing import Any

import httpx
import msal
import pytest
import requests

from cae_sdk.core import find_claims_challenge
from cae_sdk.devidp import (
    DevIdentityProvider,
    device_code_token,
    msal_confidential_app,
    msal_public_app,
)
from cae_sdk.events import InMemoryEventStore
from cae_sdk.resource import TokenValidator

from .apps import fastapi_app, starlette_app
from .helpers import assert_revocation_challenge, serve

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def idp() -> Iterator[DevIdentityProvider]:
    with DevIdentityProvider() as provider:
        yield provider


@pytest.fixture(scope="module")
def http(idp: DevIdentityProvider) -> Iterator[requests.Session]:
    session = idp.http_session()
    yield session
    session.close()


@pytest.fixture
def api(idp: DevIdentityProvider) -> Iterator[tuple[str, InMemoryEventStore]]:
    store = InMemoryEventStore()
    validator = TokenValidator.entra(
        app_id=idp.seed.api.app_id,
        tenant_id=idp.tenant_id,
        authority_host=idp.base_url,
        http_client=httpx.AsyncClient(verify=ssl.create_default_context(cafile=idp.ca_bundle)),
    )
    app = starlette_app(
        validator=validator,
        store=store,
        authorization_uri=f"{idp.base_url}/{{tenantid}}/oauth2/authorize",
    )
    with serve(app) as url:
        yield url, store


def _scopes(idp: DevIdentityProvider) -> list[str]:
    return [f"{idp.seed.api.audience}/access_as_user"]


def _call(url: str, token: str) -> httpx.Response:
    return httpx.get(f"{url}/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _device_code_token(
    app: msal.PublicClientApplication, idp: DevIdentityProvider, claims: str | None = None
) -> dict[str, Any]:
    result = device_code_token(idp, app, scopes=_scopes(idp), claims=claims)
    assert "access_token" in result, result
    return result


def test_user_token_accepted_then_revoked_then_renewed(
    idp: DevIdentityProvider, http: requests.Session, api: tuple[str, InMemoryEventStore]
) -> None:
    url, store = api
    app = msal_public_app(idp, http=http)
    first = _device_code_token(app, idp)
    accepted = _call(url, first["access_token"])
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["oid"] == idp.seed.user.object_id

    idp.admin.revoke_sessions(idp.seed.user.object_id)
    watermark = int(time.time()) + 1  # strictly after the first token's iat
    asyncio.run(store.revoke_user(idp.tenant_id, idp.seed.user.object_id, at=watermark))

    challenge = assert_revocation_challenge(
        _call(url, first["access_token"]),
        watermark=watermark,
        authorization_uri=f"{idp.base_url}/{idp.tenant_id}/oauth2/authorize",
    )

    # The refresh token died with the sessions: sign in again, passing the challenge's claims.
    renewed = _device_code_token(app, idp, claims=challenge.claims)
    again = _call(url, renewed["access_token"])
    assert again.status_code == 200, again.text


def test_app_only_token_from_client_credentials(
    idp: DevIdentityProvider, http: requests.Session, api: tuple[str, InMemoryEventStore]
) -> None:
    url, store = api
    secret_app = idp.seed.secret_app
    cca = msal_confidential_app(idp, http=http)
    result = cca.acquire_token_for_client(scopes=[f"{idp.seed.api.audience}/.default"])
    assert "access_token" in result, result
    assert _call(url, result["access_token"]).status_code == 200
    asyncio.run(
        store.revoke_service_principal(idp.tenant_id, secret_app.client_id, at=int(time.time()) + 1)
    )
    refused = _call(url, result["access_token"])
    assert refused.status_code == 401
    assert find_claims_challenge(refused.headers) is not None


def test_fastapi_step_up_to_authentication_context(
    idp: DevIdentityProvider, http: requests.Session
) -> None:
    """FastAPI route guarded by ``require_auth_context("c1")``: the MSAL token without ``acrs``
    is challenged for it, MSAL answers silently (the MFA session satisfies c1), and the new
    token gets through."""
    validator = TokenValidator.entra(
        app_id=idp.seed.api.app_id,
        tenant_id=idp.tenant_id,
        authority_host=idp.base_url,
        http_client=httpx.AsyncClient(verify=ssl.create_default_context(cafile=idp.ca_bundle)),
    )
    app = fastapi_app(
        validator=validator,
        store=InMemoryEventStore(),
        authorization_uri=f"{idp.base_url}/{{tenantid}}/oauth2/authorize",
    )
    client = msal_public_app(idp, http=http)
    token = _device_code_token(client, idp)["access_token"]
    with serve(app) as url:
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{url}/me", headers=headers, timeout=10).status_code == 200
        refused = httpx.get(f"{url}/sensitive", headers=headers, timeout=10)
        challenge = find_claims_challenge(refused.headers)
        assert refused.status_code == 401 and challenge is not None
        account = client.get_accounts()[0]
        stepped = client.acquire_token_silent_with_error(
            _scopes(idp), account, claims_challenge=challenge.claims
        )
        assert stepped is not None and "access_token" in stepped, stepped
        again = httpx.get(
            f"{url}/sensitive",
            headers={"Authorization": f"Bearer {stepped['access_token']}"},
            timeout=10,
        )
        assert again.json() == {"secret": 42}


def test_an_id_token_is_never_taken_for_an_access_token(
    idp: DevIdentityProvider, http: requests.Session
) -> None:
    """One app registration that is both the client and the API: MSAL's ID token is signed by
    the same keys, issued by the same issuer, and its ``aud`` is the API's app id. It carries
    neither ``scp`` nor ``roles``, so the Entra preset refuses it (Microsoft.Identity.Web's
    IDW10201), while the access token of the same sign-in gets through."""
    client = msal_public_app(idp, http=http)
    validator = TokenValidator.entra(
        app_id=idp.seed.public_app.client_id,
        tenant_id=idp.tenant_id,
        authority_host=idp.base_url,
        audiences=[idp.seed.api.audience],
        http_client=httpx.AsyncClient(verify=ssl.create_default_context(cafile=idp.ca_bundle)),
    )
    app = starlette_app(validator=validator, store=InMemoryEventStore())
    result = _device_code_token(client, idp)
    with serve(app) as url:
        assert _call(url, result["access_token"]).status_code == 200
        refused = _call(url, result["id_token"])
        assert refused.status_code == 401, refused.text
        assert refused.json()["reason"] == "missing_claim"
