"""Unmodified MSAL ConfidentialClientApplication against the dev identity provider."""

from __future__ import annotations

import time

import pytest
import requests

from cae_sdk.devidp import DevIdentityProvider, msal_confidential_app

from .conftest import confidential_app, nbf_claims, verify_token

pytestmark = pytest.mark.e2e


def test_secret_client_gets_cae_token(cae_idp: DevIdentityProvider, http: requests.Session) -> None:
    seed = cae_idp.seed
    app = confidential_app(cae_idp, http, seed.secret_app.client_id, seed.secret_app.client_secret)
    result = app.acquire_token_for_client([seed.api.default_scope])
    assert "access_token" in result, result
    assert result["expires_in"] > 23 * 3600  # cp1 tokens live 24 h
    claims = verify_token(cae_idp, result["access_token"], seed.api.audience, cae_idp.issuer)
    assert claims["xms_cc"] == ["cp1"]
    assert claims["tid"] == cae_idp.tenant_id
    assert claims["azp"] == seed.secret_app.client_id
    assert claims["idtyp"] == "app"
    assert claims["roles"] == ["Data.Read"]
    assert claims["ver"] == "2.0"
    assert {"iat", "nbf", "exp", "oid", "sub", "uti"} <= claims.keys()


def test_without_cp1_tokens_are_short_and_carry_no_xms_cc(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    seed = cae_idp.seed
    app = msal_confidential_app(cae_idp, http=http, client_capabilities=None)  # no cp1
    result = app.acquire_token_for_client([seed.api.default_scope])
    claims = verify_token(cae_idp, result["access_token"], seed.api.audience)
    assert "xms_cc" not in claims
    assert result["expires_in"] <= 3600


def test_certificate_client(cae_idp: DevIdentityProvider, http: requests.Session) -> None:
    cert = cae_idp.seed.cert_app
    for credential in (
        {"private_key": cert.private_key_pem, "thumbprint": cert.thumbprint},  # x5t, RS256
        {"private_key": cert.private_key_pem, "public_certificate": cert.certificate_pem},  # PS256
    ):
        app = confidential_app(cae_idp, http, cert.client_id, credential)
        result = app.acquire_token_for_client([cae_idp.seed.api.default_scope])
        assert "access_token" in result, result
        claims = verify_token(cae_idp, result["access_token"], cae_idp.seed.api.audience)
        assert claims["azp"] == cert.client_id
        assert claims["xms_cc"] == ["cp1"]


def test_certificate_with_unknown_thumbprint_is_refused(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    cert = cae_idp.seed.cert_app
    app = confidential_app(
        cae_idp,
        http,
        cert.client_id,
        {"private_key": cert.private_key_pem, "thumbprint": "AB" * 20},
    )
    result = app.acquire_token_for_client([cae_idp.seed.api.default_scope])
    assert result["error"] == "invalid_client"
    assert 700027 in result["error_codes"]


def test_federated_assertion(cae_idp: DevIdentityProvider, http: requests.Session) -> None:
    app = confidential_app(
        cae_idp,
        http,
        cae_idp.seed.federated_app.client_id,
        {"client_assertion": lambda: cae_idp.mint_federated_token()},
    )
    result = app.acquire_token_for_client([cae_idp.seed.api.default_scope])
    assert "access_token" in result, result
    claims = verify_token(cae_idp, result["access_token"], cae_idp.seed.api.audience)
    assert claims["azp"] == cae_idp.seed.federated_app.client_id


def test_federated_assertion_with_wrong_subject_is_refused(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    app = confidential_app(
        cae_idp,
        http,
        cae_idp.seed.federated_app.client_id,
        {"client_assertion": lambda: cae_idp.mint_federated_token("system:serviceaccount:x:y")},
    )
    result = app.acquire_token_for_client([cae_idp.seed.api.default_scope])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [70021]


def test_wrong_secret_is_7000215(cae_idp: DevIdentityProvider, http: requests.Session) -> None:
    app = confidential_app(cae_idp, http, cae_idp.seed.secret_app.client_id, "not-the-secret")
    result = app.acquire_token_for_client([cae_idp.seed.api.default_scope])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")


def test_unknown_client_is_700016(cae_idp: DevIdentityProvider, http: requests.Session) -> None:
    app = confidential_app(cae_idp, http, "11111111-1111-1111-1111-111111111111", "x")
    result = app.acquire_token_for_client([cae_idp.seed.api.default_scope])
    assert result["error"] == "unauthorized_client"
    assert result["error_codes"] == [700016]


def test_disabled_service_principal_is_refused_then_enabled_again(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    seed = cae_idp.seed
    app = confidential_app(cae_idp, http, seed.secret_app.client_id, seed.secret_app.client_secret)
    cae_idp.admin.disable_service_principal(seed.secret_app.client_id)
    result = app.acquire_token_for_client([seed.api.default_scope])
    assert result["error"] == "unauthorized_client"
    assert result["error_codes"] == [7000112]
    assert f"Application '{seed.secret_app.client_id}'" in result["error_description"]
    cae_idp.admin.enable_service_principal(seed.secret_app.client_id)
    # MSAL remembers an HTTP 400 for 60 s per application object (throttled_http_client.py),
    # so a fresh application object asks again.
    app = confidential_app(cae_idp, http, seed.secret_app.client_id, seed.secret_app.client_secret)
    assert "access_token" in app.acquire_token_for_client([seed.api.default_scope])


def test_deleted_service_principal_is_not_found(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    seed = cae_idp.seed
    cae_idp.admin.delete_service_principal(seed.secret_app.client_id)
    app = confidential_app(cae_idp, http, seed.secret_app.client_id, seed.secret_app.client_secret)
    assert app.acquire_token_for_client([seed.api.default_scope])["error_codes"] == [700016]


def test_nbf_claims_challenge_yields_fresh_token(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    seed = cae_idp.seed
    app = confidential_app(cae_idp, http, seed.secret_app.client_id, seed.secret_app.client_secret)
    first = app.acquire_token_for_client([seed.api.default_scope])
    watermark = int(time.time()) + 1  # a revocation instant slightly ahead of our clock
    second = app.acquire_token_for_client(
        [seed.api.default_scope], claims_challenge=nbf_claims(watermark)
    )
    assert second["access_token"] != first["access_token"]
    claims = verify_token(cae_idp, second["access_token"], seed.api.audience)
    assert claims["iat"] >= watermark
    assert claims["xms_cc"] == ["cp1"]  # MSAL merged cp1 with the challenge


def test_malformed_claims_is_invalid_request(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    seed = cae_idp.seed
    app = confidential_app(cae_idp, http, seed.secret_app.client_id, seed.secret_app.client_secret)
    result = app.acquire_token_for_client(
        [seed.api.default_scope], claims_challenge='{"access_token": {"nbf": 5}}'
    )
    assert result["error"] == "invalid_request"
