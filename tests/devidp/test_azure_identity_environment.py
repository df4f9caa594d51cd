"""``idp.environment()`` + real azure-identity: ``EnvironmentCredential`` and
``DefaultAzureCredential`` get CAE tokens from the dev identity provider, offline.

azure-identity builds MSAL applications with ``instance_discovery=not disable_instance_discovery``
(``azure/identity/_internal/msal_credentials.py``); MSAL asks ``login.microsoftonline.com`` about
any authority host it does not know unless that is False (``msal/authority.py``). So the
documented path is ``environment()`` plus ``disable_instance_discovery=True``, and these tests
refuse every name lookup but loopback: an instance discovery on the internet fails the test at
once instead of passing where a network happens to exist.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from azure.identity import DefaultAzureCredential, EnvironmentCredential

from cae_sdk.core import decode_unverified
from cae_sdk.devidp import DevIdentityProvider

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Name lookups for anything but loopback fail (and are recorded)."""
    refused: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK:
            refused.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"test is offline: {name}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return refused


@pytest.fixture
def idp_environment(cae_idp: DevIdentityProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)  # other EnvironmentCredential configurations
    for name, value in cae_idp.environment().items():
        monkeypatch.setenv(name, value)


def claims_of(token: str) -> dict[str, Any]:
    return decode_unverified(token)[1]


def test_environment_names_the_seeded_app(cae_idp: DevIdentityProvider) -> None:
    env = cae_idp.environment()
    assert env["AZURE_TENANT_ID"] == cae_idp.tenant_id
    assert env["AZURE_CLIENT_ID"] == cae_idp.seed.secret_app.client_id
    assert env["AZURE_CLIENT_SECRET"] == cae_idp.seed.secret_app.client_secret
    assert env["AZURE_AUTHORITY_HOST"] == cae_idp.base_url
    assert env["REQUESTS_CA_BUNDLE"] == env["SSL_CERT_FILE"] == cae_idp.ca_bundle


@pytest.mark.parametrize("credential_class", [EnvironmentCredential, DefaultAzureCredential])
def test_cae_token_then_revocation_claims(
    credential_class: Any,
    cae_idp: DevIdentityProvider,
    idp_environment: None,
    loopback_only: list[str],
) -> None:
    scope = cae_idp.seed.api.default_scope
    credential = credential_class(disable_instance_discovery=True)
    try:
        first = credential.get_token(scope, enable_cae=True)
        claims = claims_of(first.token)
        assert claims["iss"] == cae_idp.issuer
        assert claims["aud"] == cae_idp.seed.api.audience
        assert claims["azp"] == cae_idp.seed.secret_app.client_id
        assert claims["xms_cc"] == ["cp1"]  # enable_cae=True: MSAL announced cp1

        # A revocation challenge's claims go to the dev identity provider and come back as a
        # token issued at or after the watermark.
        watermark = int(time.time())
        # get_token takes the claims as JSON text: azure-core's BearerTokenCredentialPolicy
        # decodes the challenge's base64 before it calls the credential.
        challenge = json.dumps(
            {"access_token": {"nbf": {"essential": True, "value": str(watermark)}}}
        )
        renewed = credential.get_token(scope, claims=challenge, enable_cae=True)
        assert renewed.token != first.token
        assert claims_of(renewed.token)["iat"] >= watermark
    finally:
        credential.close()
    assert loopback_only == []


def test_without_the_keyword_msal_asks_the_internet(
    cae_idp: DevIdentityProvider, idp_environment: None, loopback_only: list[str]
) -> None:
    """Why the keyword is documented (and proof that the guard above sees a lookup)."""
    credential = EnvironmentCredential()
    try:
        with pytest.raises(Exception, match=r"(?i)authentication failed|discovery|instance"):
            credential.get_token(cae_idp.seed.api.default_scope, enable_cae=True)
    finally:
        credential.close()
    assert "login.microsoftonline.com" in loopback_only
