"""Directory management through the admin API: tenants, applications with certificates,
managed identities, and the v1 ``resource`` parameter."""

from __future__ import annotations

import datetime as dt
import ssl

import httpx
import msal
import pytest
import requests

from cae_sdk.devidp import AdminError, DevIdentityProvider, msal_confidential_app
from cae_sdk.devidp._tls import generate_client_certificate

from .conftest import confidential_app, verify_token

pytestmark = pytest.mark.e2e


def test_second_tenant_with_its_own_application(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    tenant = cae_idp.admin.create_tenant("contoso")
    api = cae_idp.seed.api
    created = cae_idp.admin.create_application(
        "contoso daemon", tenant_id=tenant, roles={api.app_id: ["Data.Read"]}
    )
    app = msal_confidential_app(
        cae_idp,
        http=http,
        client_id=created["client_id"],
        client_credential=created["client_secret"],
        authority=f"{cae_idp.base_url}/{tenant}",
    )
    result = app.acquire_token_for_client([api.default_scope])
    config = http.get(f"{cae_idp.base_url}/{tenant}/v2.0/.well-known/openid-configuration").json()
    claims = verify_token(cae_idp, result["access_token"], api.audience, issuer=config["issuer"])
    assert claims["tid"] == tenant and claims["roles"] == ["Data.Read"]
    # The app lives in the new tenant only.
    home = confidential_app(cae_idp, http, created["client_id"], created["client_secret"])
    assert home.acquire_token_for_client([api.default_scope])["error_codes"] == [700016]


def test_registered_certificate_authenticates(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    created = cae_idp.admin.create_application("cert daemon")
    cert = generate_client_certificate("cert daemon", dt.datetime.now(dt.timezone.utc))
    thumbprints = cae_idp.admin.add_certificate(created["client_id"], cert.certificate_pem)
    assert thumbprints["thumbprint"] == cert.thumbprint_sha1
    credential = {"private_key": cert.private_key_pem, "public_certificate": cert.certificate_pem}
    app = confidential_app(cae_idp, http, created["client_id"], credential)
    assert "access_token" in app.acquire_token_for_client([cae_idp.seed.api.default_scope])


def test_created_managed_identity_through_imds(
    cae_idp: DevIdentityProvider, http: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "IMDS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", cae_idp.imds_url)
    identity = cae_idp.admin.create_managed_identity(
        "worker", roles={cae_idp.seed.api.app_id: ["Data.Read"]}
    )
    client = msal.ManagedIdentityClient(
        msal.UserAssignedManagedIdentity(resource_id=identity["resource_id"]),
        http_client=http,
        token_cache=msal.TokenCache(),
    )
    result = client.acquire_token_for_client(resource=cae_idp.seed.api.audience)
    claims = verify_token(cae_idp, result["access_token"], cae_idp.seed.api.audience)
    assert claims["oid"] == identity["object_id"] and claims["roles"] == ["Data.Read"]
    cae_idp.admin.disable_service_principal(identity["client_id"])
    refused = msal.ManagedIdentityClient(
        msal.UserAssignedManagedIdentity(client_id=identity["client_id"]),
        http_client=http,
        token_cache=msal.TokenCache(),
    ).acquire_token_for_client(resource=cae_idp.seed.api.audience)
    assert refused["error"] == "unauthorized_client"


def test_v1_endpoint_takes_a_resource(cae_idp: DevIdentityProvider) -> None:
    seed = cae_idp.seed
    verify = ssl.create_default_context(cafile=cae_idp.ca_bundle)
    with httpx.Client(verify=verify) as client:
        response = client.post(
            f"{cae_idp.authority}/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": seed.secret_app.client_id,
                "client_secret": seed.secret_app.client_secret,
                "resource": seed.api.audience,
            },
        )
    assert response.status_code == 200, response.text
    verify_token(cae_idp, response.json()["access_token"], seed.api.audience)


def test_disabled_resource_is_500014(cae_idp: DevIdentityProvider, http: requests.Session) -> None:
    seed = cae_idp.seed
    cae_idp.admin.disable_service_principal(seed.api.app_id)
    app = msal_confidential_app(cae_idp, http=http)
    assert app.acquire_token_for_client([seed.api.default_scope])["error_codes"] == [500014]


def test_usernames_are_unique_per_tenant(cae_idp: DevIdentityProvider) -> None:
    """A username taken in the default tenant is free in another tenant, and one taken in that
    tenant is refused there (the check must look where the user is created)."""
    tenant = cae_idp.admin.create_tenant("fabrikam")
    name = cae_idp.seed.user.username
    created = cae_idp.admin.create_user(name, tenant_id=tenant)
    assert created["object_id"] != cae_idp.seed.user.object_id
    with pytest.raises(AdminError) as refused:
        cae_idp.admin.create_user(name, tenant_id=tenant)
    assert refused.value.status == 400


def test_refused_managed_identity_leaves_no_trace(cae_idp: DevIdentityProvider) -> None:
    """Validation happens before anything is created: a bad ``roles`` is a 400 and no
    half-made identity stays in the directory."""
    before = len(cae_idp.context.directory.managed_identities)
    with pytest.raises(AdminError) as refused:
        cae_idp.admin.create_managed_identity("half-made", roles=["not", "a", "map"])
    assert refused.value.status == 400
    assert len(cae_idp.context.directory.managed_identities) == before
