"""Managed identity as it really behaves: the dev IdP's IMDS caches tokens like Azure's.

MSAL sends IMDS no claims, so after a revocation a VM's managed identity is handed the revoked
token again. What a client sees then, through httpx (``CAEClient``) and through the Azure SDK
adapter under azure-core's ``BearerTokenCredentialPolicy``: ``ClaimsChallengeUnresolvable``
(for azure-core also a ``ClientAuthenticationError``), never a replay loop; and once IMDS hands
out a fresh token (here: the cache switched off), the same client recovers by itself.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import msal
import pytest

from cae_sdk import CAEClient
from cae_sdk.core.errors import ClaimsChallengeUnresolvable
from cae_sdk.devidp._imds import ImdsTokenCache, _IssuedToken

pytest.importorskip("uvicorn")

from ._live_api import (
    TokenRequests,
    live_api,
    managed_identity_credential,
    tls_context,
    unverified,
)

KEY = ("mi-client", "api://x/.default", True)


# -- the cache itself (pure) -------------------------------------------------------------------


def test_cache_answers_until_the_refresh_margin() -> None:
    cache = ImdsTokenCache(refresh_margin=300)
    cache.put(KEY, _IssuedToken("t1", issued_at=1000, expires_on=1000 + 3600))
    hit = cache.get(KEY, 1000 + 3600 - 301)
    assert hit is not None and hit.access_token == "t1"
    assert cache.get(KEY, 1000 + 3600 - 300) is None  # a token MSAL would call expired
    assert cache.get(("other", "api://x/.default", True), 1001) is None


def test_cache_never_hands_back_a_token_named_for_refresh() -> None:
    cache = ImdsTokenCache()
    cache.put(KEY, _IssuedToken("t1", 0, 3600))
    named = hashlib.sha256(b"t1").hexdigest()
    assert cache.get(KEY, 10, refresh_sha256=named.upper()) is None
    assert cache.get(KEY, 10, refresh_sha256="00" * 32) is not None


# -- the endpoint --------------------------------------------------------------------------------


@pytest.fixture
def idp(cae_idp_session: Any) -> Any:
    return cae_idp_session  # the plugin's provider, shared by the session


@pytest.fixture(autouse=True)
def _imds_environment(idp: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("IMDS_ENDPOINT", raising=False)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", idp.imds_url)
    idp.settings.imds_cache_tokens = True
    idp.context.extensions["imds_cache"].clear()
    yield
    idp.settings.imds_cache_tokens = True


@pytest.fixture
def recorder(idp: Any) -> Iterator[TokenRequests]:
    requests = TokenRequests(idp)
    yield requests
    requests.close()


def _imds(idp: Any, **params: str) -> httpx.Response:
    query = {"api-version": "2018-02-01", "resource": idp.seed.api.audience, **params}
    return httpx.get(
        f"{idp.imds_url}/metadata/identity/oauth2/token",
        params=query,
        headers={"Metadata": "true"},
        timeout=10,
    )


def _fresh_msal(idp: Any, recorder: TokenRequests) -> Any:
    """A new MSAL client: an empty token cache of its own (what a restarted process has)."""
    return msal.ManagedIdentityClient(
        msal.UserAssignedManagedIdentity(client_id=idp.seed.managed_identity.client_id),
        http_client=recorder.client,
        token_cache=msal.TokenCache(),
    )


@pytest.mark.e2e
def test_imds_hands_the_same_token_to_every_caller(idp: Any, recorder: TokenRequests) -> None:
    resource = idp.seed.api.audience
    first = _fresh_msal(idp, recorder).acquire_token_for_client(resource=resource)
    time.sleep(1.1)  # expires_in counts down in whole seconds
    second = _fresh_msal(idp, recorder).acquire_token_for_client(resource=resource)
    assert len(recorder.token_requests) == 2  # both asked IMDS...
    assert second["access_token"] == first["access_token"]  # ...and got its cached token
    assert second["expires_in"] < first["expires_in"]
    assert unverified(first["access_token"])["xms_cc"] == ["cp1"]


@pytest.mark.e2e
def test_switched_off_imds_mints_a_token_per_call(idp: Any, recorder: TokenRequests) -> None:
    idp.settings.imds_cache_tokens = False
    resource = idp.seed.api.audience
    first = _fresh_msal(idp, recorder).acquire_token_for_client(resource=resource)
    second = _fresh_msal(idp, recorder).acquire_token_for_client(resource=resource)
    assert first["access_token"] != second["access_token"]


@pytest.mark.e2e
def test_token_named_for_refresh_is_replaced(idp: Any) -> None:
    cached = _imds(idp).json()["access_token"]
    assert _imds(idp).json()["access_token"] == cached
    digest = hashlib.sha256(cached.encode()).hexdigest()
    replaced = _imds(idp, token_sha256_to_refresh=digest).json()["access_token"]
    assert replaced != cached
    assert _imds(idp).json()["access_token"] == replaced  # the new one is cached now


@pytest.mark.e2e
def test_disabled_identity_gets_nothing_even_when_cached(idp: Any) -> None:
    created = idp.admin.create_managed_identity("cached-then-disabled")
    assert _imds(idp, client_id=created["client_id"]).status_code == 200
    idp.admin.disable_service_principal(created["client_id"])
    refused = _imds(idp, client_id=created["client_id"])
    assert refused.status_code == 400
    assert "access_token" not in refused.json()


# -- what a managed-identity client sees after a revocation ---------------------------------------


def _wait_past(watermark: int) -> None:
    """IMDS takes no claims: a fresh token only clears a watermark once the clock has."""
    time.sleep(max(0.0, watermark - time.time() + 0.05))


@pytest.mark.e2e
def test_httpx_client_after_revocation(idp: Any, recorder: TokenRequests) -> None:
    mi = idp.seed.managed_identity
    credential = managed_identity_credential(idp, recorder)
    with live_api(idp) as api, CAEClient(credential, api.scope, verify=tls_context(idp)) as client:
        first = client.get(f"{api.url}/data")
        assert first.status_code == 200
        watermark = first.json()["iat"] + 1
        api.revoke_app(mi.client_id, watermark)
        _wait_past(watermark)
        before = len(recorder.token_requests)
        with pytest.raises(ClaimsChallengeUnresolvable):
            client.get(f"{api.url}/data")
        # MSAL skipped its cache and asked IMDS once; IMDS had only the revoked token.
        assert len(recorder.token_requests) - before == 1
        assert [h.status for h in api.hits] == [200, 401]  # never replayed

        idp.settings.imds_cache_tokens = False  # IMDS hands out a fresh token from now on
        recovered = client.get(f"{api.url}/data")
        assert recovered.status_code == 200
        assert recovered.json()["iat"] >= watermark
    credential.close()


@pytest.mark.e2e
def test_azure_sdk_adapter_after_revocation(idp: Any, recorder: TokenRequests) -> None:
    pytest.importorskip("azure.core")
    from azure.core import PipelineClient
    from azure.core.exceptions import ClientAuthenticationError
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.rest import HttpRequest

    mi = idp.seed.managed_identity
    credential = managed_identity_credential(idp, recorder)
    with live_api(idp) as api:
        policy = BearerTokenCredentialPolicy(
            credential.as_azure_credential(), api.scope, enable_cae=True
        )
        transport = RequestsTransport(connection_verify=idp.ca_bundle)
        with PipelineClient(api.url, policies=[policy], transport=transport) as client:
            first = client.send_request(HttpRequest("GET", f"{api.url}/data"))
            assert first.status_code == 200
            watermark = first.json()["iat"] + 1
            api.revoke_app(mi.client_id, watermark)
            _wait_past(watermark)
            with pytest.raises(ClientAuthenticationError) as caught:
                client.send_request(HttpRequest("GET", f"{api.url}/data"))
            assert isinstance(caught.value, ClaimsChallengeUnresolvable)
            assert [h.status for h in api.hits] == [200, 401]

            idp.settings.imds_cache_tokens = False
            recovered = client.send_request(HttpRequest("GET", f"{api.url}/data"))
            assert recovered.status_code == 200
            assert recovered.json()["iat"] >= watermark
    credential.close()
