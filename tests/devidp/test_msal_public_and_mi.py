"""Unmodified MSAL: ManagedIdentityClient through IMDS / App Service, PublicClientApplication
through device code, refresh tokens, MFA and step-up."""

from __future__ import annotations

import json

import msal
import pytest
import requests

from cae_sdk.devidp import AdminError, DevIdentityProvider, msal_public_app

from .conftest import verify_token

pytestmark = pytest.mark.e2e


def _mi_client(http: requests.Session, client_id: str | None = None) -> msal.ManagedIdentityClient:
    identity = (
        msal.UserAssignedManagedIdentity(client_id=client_id)
        if client_id
        else msal.SystemAssignedManagedIdentity()
    )
    return msal.ManagedIdentityClient(
        identity, http_client=http, client_capabilities=["cp1"], token_cache=msal.TokenCache()
    )


def test_managed_identity_through_imds(
    cae_idp: DevIdentityProvider, http: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IMDS_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", cae_idp.imds_url)
    mi = cae_idp.seed.managed_identity
    for client in (_mi_client(http), _mi_client(http, mi.client_id)):
        result = client.acquire_token_for_client(resource=cae_idp.seed.api.audience)
        assert "access_token" in result, result
        claims = verify_token(cae_idp, result["access_token"], cae_idp.seed.api.audience)
        assert claims["azp"] == mi.client_id
        assert claims["oid"] == mi.object_id
        assert claims["xms_cc"] == ["cp1"]


def test_imds_requires_metadata_header(cae_idp: DevIdentityProvider) -> None:
    response = requests.get(
        cae_idp.imds_url + "/metadata/identity/oauth2/token",
        params={"api-version": "2018-02-01", "resource": cae_idp.seed.api.audience},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_managed_identity_through_app_service_endpoint(
    cae_idp: DevIdentityProvider, http: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", cae_idp.app_service_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", cae_idp.identity_header)
    monkeypatch.delenv("IDENTITY_SERVER_THUMBPRINT", raising=False)
    result = _mi_client(http).acquire_token_for_client(resource=cae_idp.seed.api.audience)
    assert "access_token" in result, result
    monkeypatch.setenv("IDENTITY_HEADER", "wrong")
    refused = _mi_client(http).acquire_token_for_client(resource=cae_idp.seed.api.audience)
    assert "access_token" not in refused


def _scope(idp: DevIdentityProvider) -> list[str]:
    return [f"{idp.seed.api.audience}/access_as_user"]


def test_device_code_auto_approved_with_mfa(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    app = msal_public_app(cae_idp, http=http)
    flow = app.initiate_device_flow(_scope(cae_idp))
    assert "user_code" in flow, flow
    result = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    claims = verify_token(cae_idp, result["access_token"], cae_idp.seed.api.audience)
    assert claims["oid"] == cae_idp.seed.user.object_id
    assert claims["scp"] == "access_as_user"
    assert claims["idtyp"] == "user"
    assert "mfa" in claims["amr"]
    assert claims["xms_cc"] == ["cp1"]
    assert claims["sid"]
    assert app.get_accounts()[0]["username"] == cae_idp.seed.user.username
    # Silent refresh with the refresh token, asked for a step-up this MFA session satisfies.
    step_up = json.dumps({"access_token": {"acrs": {"essential": True, "value": "c1"}}})
    account = app.get_accounts()[0]
    again = app.acquire_token_silent_with_error(_scope(cae_idp), account, claims_challenge=step_up)
    assert again is not None and "access_token" in again, again
    assert verify_token(cae_idp, again["access_token"], cae_idp.seed.api.audience)["acrs"] == ["c1"]


def test_device_authorization_claims_are_honoured_at_redemption(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    """MSAL sends ``claims`` with the device authorization request; the token must satisfy
    them even when the token request itself carries none (RFC 8628 + OIDC Core 5.5)."""
    app = msal_public_app(cae_idp, http=http)
    step_up = json.dumps({"access_token": {"acrs": {"essential": True, "value": "c2"}}})
    flow = app.initiate_device_flow(_scope(cae_idp), claims_challenge=step_up)
    result = app.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    claims = verify_token(cae_idp, result["access_token"], cae_idp.seed.api.audience)
    assert claims["acrs"] == ["c2"] and "mfa" in claims["amr"]


def test_revoked_sessions_invalidate_refresh_token(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    app = msal_public_app(cae_idp, http=http)
    app.acquire_token_by_device_flow(app.initiate_device_flow(_scope(cae_idp)))
    cae_idp.admin.revoke_sessions(cae_idp.seed.user.object_id)
    account = app.get_accounts()[0]
    result = app.acquire_token_silent_with_error(_scope(cae_idp), account, force_refresh=True)
    assert result is not None and result.get("error") == "invalid_grant", result
    assert 50173 in result["error_codes"]


def test_password_reset_ends_refresh_with_50133(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    app = msal_public_app(cae_idp, http=http)
    app.acquire_token_by_device_flow(app.initiate_device_flow(_scope(cae_idp)))
    cae_idp.admin.reset_password(cae_idp.seed.user.object_id)
    account = app.get_accounts()[0]
    result = app.acquire_token_silent_with_error(_scope(cae_idp), account, force_refresh=True)
    assert result is not None and result["error_codes"] == [50133], result


def test_device_code_waits_for_admin_approval_without_mfa(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    cae_idp.settings.device_code_auto_approve = False
    app = msal_public_app(cae_idp, http=http)
    flow = app.initiate_device_flow(_scope(cae_idp))
    pending = app.acquire_token_by_device_flow(flow, exit_condition=lambda flow: True)
    assert pending["error"] == "authorization_pending"
    cae_idp.admin.approve_device_code(flow["user_code"], mfa=False)
    result = app.acquire_token_by_device_flow(flow)
    claims = verify_token(cae_idp, result["access_token"], cae_idp.seed.api.audience)
    assert "mfa" not in claims["amr"]


def test_step_up_without_mfa_is_50076(cae_idp: DevIdentityProvider, http: requests.Session) -> None:
    cae_idp.settings.device_code_auto_approve = False
    app = msal_public_app(cae_idp, http=http)
    step_up = json.dumps({"access_token": {"acrs": {"essential": True, "value": "c1"}}})
    flow = app.initiate_device_flow(_scope(cae_idp), claims_challenge=step_up)
    cae_idp.admin.approve_device_code(flow["user_code"], mfa=False)
    result = app.acquire_token_by_device_flow(flow, claims_challenge=step_up)
    assert result["error"] == "invalid_grant"
    assert result["error_codes"] == [50076]


def test_disabled_user_is_50057(cae_idp: DevIdentityProvider, http: requests.Session) -> None:
    cae_idp.admin.disable_user(cae_idp.seed.user.object_id)
    app = msal_public_app(cae_idp, http=http)
    result = app.acquire_token_by_device_flow(app.initiate_device_flow(_scope(cae_idp)))
    assert result["error_codes"] == [50057]


def test_username_password_grant(cae_idp: DevIdentityProvider, http: requests.Session) -> None:
    # Plain HTTP, not MSAL: MSAL's username/password flow first asks
    # https://{host}/common/userrealm/... without the authority's port (authority.py), which
    # cannot reach a provider on a loopback port.
    user = cae_idp.seed.user
    form = {
        "grant_type": "password",
        "client_id": cae_idp.seed.public_app.client_id,
        "username": user.username,
        "password": user.password,
        "scope": " ".join([*_scope(cae_idp), "openid", "offline_access"]),
        "claims": '{"access_token":{"xms_cc":{"values":["cp1"]}}}',
    }
    result = http.post(cae_idp.token_endpoint, data=form).json()
    assert "access_token" in result and "refresh_token" in result, result
    claims = verify_token(cae_idp, result["access_token"], cae_idp.seed.api.audience)
    assert claims["amr"] == ["pwd"] and claims["xms_cc"] == ["cp1"]
    wrong = http.post(cae_idp.token_endpoint, data={**form, "password": "wrong"}).json()
    assert wrong["error_codes"] == [50126]
    cae_idp.admin.add_policy("CA005-Global-MFA", grant="mfa")
    assert http.post(cae_idp.token_endpoint, data=form).json()["error_codes"] == [50076]


def test_device_code_cannot_be_approved_for_a_user_of_another_tenant(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    """A token of tenant A must never name a user of tenant B: the approval is refused and
    the code stays pending."""
    cae_idp.settings.device_code_auto_approve = False
    outsider = cae_idp.admin.create_user(
        "mallory@other.example", tenant_id=cae_idp.admin.create_tenant("other")
    )
    app = msal_public_app(cae_idp, http=http)
    flow = app.initiate_device_flow(_scope(cae_idp))
    with pytest.raises(AdminError) as refused:
        cae_idp.admin.approve_device_code(flow["user_code"], user_id=outsider["object_id"])
    assert refused.value.status == 404
    pending = app.acquire_token_by_device_flow(flow, exit_condition=lambda flow: True)
    assert pending["error"] == "authorization_pending"
