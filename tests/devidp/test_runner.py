"""The runner contract: sync and async context managers, fixtures, describe(), environment()."""

from __future__ import annotations

import os
import socket
import ssl
import tempfile

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


def test_failed_start_leaves_no_temp_dir_or_open_sockets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cae_sdk.devidp import _runner as runner

    made: list[str] = []
    bound: list[socket.socket] = []
    real_mkdtemp, real_bind = tempfile.mkdtemp, runner.bind_loopback

    def mkdtemp(**kwargs: str) -> str:
        made.append(real_mkdtemp(**kwargs))
        return made[-1]

    def bind(host: str) -> socket.socket:
        bound.append(real_bind(host))
        return bound[-1]

    def broken_seed(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(runner.tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(runner, "bind_loopback", bind)
    monkeypatch.setattr(runner, "seed_directory", broken_seed)
    with pytest.raises(OSError, match="disk full"), DevIdentityProvider():
        pass
    assert made and not os.path.exists(made[0])  # the CA and server key went with it
    assert len(bound) == 2 and all(sock.fileno() == -1 for sock in bound)


def test_msal_helpers_share_one_session_closed_when_the_provider_stops() -> None:
    from unittest import mock

    from cae_sdk.devidp import device_code_token, msal_public_app

    with DevIdentityProvider() as idp:
        session = idp.shared_http_session()
        # MSAL wraps the session in its throttling client; it must be the provider's own one,
        # not a new session per app that nothing ever closes.
        assert msal_public_app(idp).http_client.http_client is session
        assert "access_token" in device_code_token(idp)
        with mock.patch.object(type(session), "close", autospec=True) as closed:
            idp.stop()
        closed.assert_called_once_with(session)
