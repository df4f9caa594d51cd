"""The runner contract: sync and async context managers, fixtures, describe(), environment()."""

from __future__ import annotations

import os
import ssl

import httpx
import pytest

from cae_sdk.devidp import DevIdentityProvider


async def test_async_context_manager_serves_discovery() -> None:
    async with DevIdentityProvider() as idp:
        verify = ssl.create_default_context(cafile=idp.ca_bundle)
        async with httpx.AsyncClient(verify=verify) as client:
            config = (await client.get(idp.openid_configuration_url)).json()
    assert config["issuer"] == idp.issuer == f"{idp.authority}/v2.0"
    assert config["jwks_uri"] == idp.jwks_uri
    assert config["token_endpoint"] == idp.token_endpoint
    assert idp.authority == f"{idp.base_url}/{idp.tenant_id}"
    assert idp.base_url.startswith("https://127.0.0.1:")
    assert idp.imds_url.startswith("http://127.0.0.1:")


def test_session_fixture_is_shared(cae_idp_session: DevIdentityProvider) -> None:
    assert cae_idp_session.seed.api.audience.startswith("api://")


def test_describe_and_environment(cae_idp: DevIdentityProvider) -> None:
    info = cae_idp.describe()
    assert info["authority"] == cae_idp.authority
    assert info["ca_bundle"] == cae_idp.ca_bundle
    assert info["secret_app"]["client_secret"] == cae_idp.seed.secret_app.client_secret
    assert info["user"]["username"] == cae_idp.seed.user.username
    env = cae_idp.environment()
    assert env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] == cae_idp.imds_url
    assert "secret" not in repr(cae_idp).lower()


def test_start_twice_is_refused_and_stop_cleans_up() -> None:
    idp = DevIdentityProvider()
    idp.start()
    try:
        with pytest.raises(RuntimeError):
            idp.start()
        ca = idp.ca_bundle
    finally:
        idp.stop()
    assert not os.path.exists(ca)
    with pytest.raises(RuntimeError):
        _ = idp.admin
