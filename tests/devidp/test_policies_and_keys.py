"""Conditional Access subset, risk, key rotation with overlap, and the v1 issuer variant."""

from __future__ import annotations

import jwt
import msal
import pytest
import requests

from cae_sdk.devidp import DevIdentityProvider, IdPSettings, msal_public_app

from .conftest import confidential_app, verify_token

pytestmark = pytest.mark.e2e


def _device_token(idp: DevIdentityProvider, http: requests.Session) -> dict[str, object]:
    app = msal_public_app(idp, http=http)
    flow = app.initiate_device_flow([f"{idp.seed.api.audience}/access_as_user"])
    # Never poll longer than a moment: these tests expect an answer at once.
    return dict(app.acquire_token_by_device_flow(flow, exit_condition=lambda flow: True))


def test_block_policy_is_53003(cae_idp: DevIdentityProvider, http: requests.Session) -> None:
    cae_idp.admin.add_policy("CA002-Global-Block", grant="block")
    result = _device_token(cae_idp, http)
    assert result["error_codes"] == [53003]
    assert str(result["error_description"]).startswith(
        "AADSTS53003: Access has been blocked by Conditional Access policies."
    )


def test_mfa_policy_without_mfa_is_50076(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    user = cae_idp.admin.create_user("nomfa@dev.example", mfa_registered=False)
    cae_idp.settings.device_code_auto_approve = False
    cae_idp.admin.add_policy("CA003-Global-MFA", grant="mfa")
    app = msal.PublicClientApplication(
        cae_idp.seed.public_app.client_id,
        authority=cae_idp.authority,
        instance_discovery=False,
        http_client=http,
    )
    flow = app.initiate_device_flow([f"{cae_idp.seed.api.audience}/access_as_user"])
    cae_idp.admin.approve_device_code(flow["user_code"], user_id=user["object_id"])
    result = app.acquire_token_by_device_flow(flow)
    assert result["error"] == "invalid_grant" and result["error_codes"] == [50076]
    assert result["suberror"] == "basic_action"
    # The seeded user has MFA registered: the same policy lets it through.
    cae_idp.settings.device_code_auto_approve = True
    assert "access_token" in _device_token(cae_idp, http)


def test_high_user_risk_policy_requires_password_change_50142(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    cae_idp.admin.add_policy(
        "CA004-Risk-PasswordChange", grant="passwordChange", min_user_risk="high"
    )
    assert "access_token" in _device_token(cae_idp, http)
    cae_idp.admin.set_user_risk(cae_idp.seed.user.object_id, "high")
    assert _device_token(cae_idp, http)["error_codes"] == [50142]


def test_high_risk_service_principal_is_blocked(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    seed = cae_idp.seed
    cae_idp.admin.set_service_principal_risk(seed.cert_app.client_id, "high")
    app = confidential_app(
        cae_idp,
        http,
        seed.cert_app.client_id,
        {"private_key": seed.cert_app.private_key_pem, "thumbprint": seed.cert_app.thumbprint},
    )
    assert app.acquire_token_for_client([seed.api.default_scope])["error_codes"] == [53003]


def test_key_rotation_keeps_the_old_key_for_the_overlap(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    seed = cae_idp.seed
    app = confidential_app(cae_idp, http, seed.secret_app.client_id, seed.secret_app.client_secret)
    old_token = app.acquire_token_for_client([seed.api.default_scope])["access_token"]
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    new_kid = cae_idp.admin.rotate_keys()
    assert new_kid != old_kid
    kids = [k["kid"] for k in http.get(cae_idp.jwks_uri).json()["keys"]]
    assert kids == [new_kid, old_kid]
    verify_token(cae_idp, old_token, seed.api.audience)  # still verifiable during the overlap
    fresh = confidential_app(
        cae_idp, http, seed.secret_app.client_id, seed.secret_app.client_secret
    )
    new_token = fresh.acquire_token_for_client([seed.api.default_scope])["access_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid


def test_retired_key_leaves_after_the_overlap() -> None:
    settings = IdPSettings(key_overlap_seconds=0)
    with DevIdentityProvider(settings) as idp:
        http = idp.http_session()
        new_kid = idp.admin.rotate_keys()
        assert [k["kid"] for k in http.get(idp.jwks_uri).json()["keys"]] == [new_kid]
        http.close()


def test_v1_resource_gets_v1_tokens(cae_idp: DevIdentityProvider, http: requests.Session) -> None:
    legacy = cae_idp.admin.create_application(
        "legacy api",
        identifier_uris=["api://legacy"],
        app_roles=["Legacy.Read"],
        access_token_version=1,
    )
    seed = cae_idp.seed
    app = confidential_app(cae_idp, http, seed.secret_app.client_id, seed.secret_app.client_secret)
    token = app.acquire_token_for_client(["api://legacy/.default"])["access_token"]
    v1_config = http.get(f"{cae_idp.authority}/.well-known/openid-configuration").json()
    assert v1_config["issuer"] == cae_idp.issuer_v1
    claims = verify_token(cae_idp, token, "api://legacy", issuer=cae_idp.issuer_v1)
    assert claims["ver"] == "1.0"
    assert claims["appid"] == seed.secret_app.client_id and "azp" not in claims
    assert legacy["client_id"]
