"""The event clients' ``auth=`` with every credential shape users have (issue 14).

azure-core's ``TokenCredential.get_token(*scopes, ...)`` takes scopes as separate arguments,
cae-sdk's credentials take a sequence; both (and azure-identity's async credentials) must work,
and a credential without scopes is a configuration error at once, not a failure at first use.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest

from cae_sdk.core.errors import ConfigurationError
from cae_sdk.devidp import DevIdentityProvider
from cae_sdk.events._auth import bearer_auth
from cae_sdk.events.ssf import StreamClient


class AzureShaped:
    """azure-core's TokenCredential signature."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> Any:
        self.calls.append(scopes)
        return type("AccessToken", (), {"token": "azure-token", "expires_on": 0})()


class AsyncAzureShaped(AzureShaped):
    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:  # type: ignore[override]
        return super().get_token(*scopes, **kwargs)


class CaeShaped:
    def __init__(self) -> None:
        self.calls: list[Sequence[str]] = []

    def get_token(self, scopes: Sequence[str]) -> str:
        self.calls.append(scopes)
        return "cae-token"


async def _authorization(source: Any) -> str:
    auth = bearer_auth(source, ["https://transmitter.example/.default"])
    request = httpx.Request("GET", "https://transmitter.example/streams")
    flow = auth.async_auth_flow(request)
    sent = await flow.__anext__()
    return sent.headers["authorization"]


@pytest.mark.parametrize("source", [AzureShaped(), AsyncAzureShaped(), CaeShaped()])
async def test_each_credential_shape_gets_its_scopes_its_own_way(source: Any) -> None:
    assert await _authorization(source) in ("Bearer azure-token", "Bearer cae-token")
    expected: Any = (
        ["https://transmitter.example/.default"]
        if isinstance(source, CaeShaped)
        else ("https://transmitter.example/.default",)
    )
    assert source.calls == [expected]


def test_a_credential_without_scopes_is_refused_at_once() -> None:
    with pytest.raises(ConfigurationError):
        bearer_auth(AzureShaped())
    assert bearer_auth("static-token")  # a static token needs none


@pytest.fixture(scope="module")
def idp() -> Iterator[DevIdentityProvider]:
    with DevIdentityProvider() as provider:
        yield provider


@pytest.mark.e2e
@pytest.mark.parametrize("flavour", ["sync", "aio"])
async def test_azure_identity_credential_manages_streams(
    idp: DevIdentityProvider, flavour: str
) -> None:
    if flavour == "aio":
        pytest.importorskip("aiohttp")  # azure-core's async transport
    identity = pytest.importorskip("azure.identity" if flavour == "sync" else "azure.identity.aio")
    credential = identity.ClientSecretCredential(
        idp.tenant_id,
        idp.seed.secret_app.client_id,
        idp.seed.secret_app.client_secret,
        authority=idp.base_url,
        disable_instance_discovery=True,
        connection_verify=idp.ca_bundle,
    )
    tls = ssl.create_default_context(cafile=idp.ca_bundle)
    try:
        async with httpx.AsyncClient(verify=tls) as http:
            streams = StreamClient(
                idp.ssf_issuer,
                http=http,
                auth=credential,
                scopes=[f"{idp.ssf_issuer}/.default"],
                configuration_url=idp.ssf_configuration_url,
            )
            assert isinstance(await streams.list_streams(), list)
    finally:
        closed = credential.close()
        if hasattr(closed, "__await__"):
            await closed
