"""Managed identity, workload identity, public client and azure-identity adapters."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from cae_sdk import (
    AzureIdentityCredential,
    InteractionRequired,
    ManagedIdentityCredential,
    PublicClientCredential,
    TokenAcquisitionError,
    WorkloadIdentityCredential,
)
from cae_sdk.core.claims import acrs_claims
from cae_sdk.errors import ClaimsChallengeUnresolvable, ConfigurationError

from .fakes import AUTHORITY_HOST, NBF_CLAIMS, SCOPE, TENANT, FakeIdentityProvider

IMDS = "http://imds.test"


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


# -- managed identity --------------------------------------------------------------------------


class FakeImds:
    def __init__(self, router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", IMDS)
        self.tokens = ["mi-token-1"]
        self.params: list[dict[str, str]] = []
        router.get(f"{IMDS}/metadata/identity/oauth2/token").mock(side_effect=self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["Metadata"] == "true"
        self.params.append(dict(parse_qsl(request.url.query.decode())))
        token = self.tokens[min(len(self.params), len(self.tokens)) - 1]
        return httpx.Response(
            200, json={"access_token": token, "expires_in": "3600", "token_type": "Bearer"}
        )


def test_managed_identity_same_token_after_challenge_is_unresolvable(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    imds = FakeImds(router, monkeypatch)
    credential = ManagedIdentityCredential(client_id="mi-client")
    first = credential.get_token([SCOPE])
    assert first.token == "mi-token-1"
    assert credential.get_token([SCOPE]).token == "mi-token-1"
    assert len(imds.params) == 1  # MSAL cache
    assert imds.params[0]["resource"] == "api://resource"
    assert imds.params[0]["client_id"] == "mi-client"
    with pytest.raises(ClaimsChallengeUnresolvable):
        credential.get_token([SCOPE], claims=json.dumps(NBF_CLAIMS), challenged_token=first.token)
    assert len(imds.params) == 2  # the claims bypassed MSAL's cache


def test_managed_identity_new_token_after_challenge(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    imds = FakeImds(router, monkeypatch)
    imds.tokens = ["mi-token-1", "mi-token-2"]
    credential = ManagedIdentityCredential()  # system assigned
    first = credential.get_token([SCOPE])
    second = credential.get_token(
        [SCOPE], claims=json.dumps(NBF_CLAIMS), challenged_token=first.token
    )
    assert second.token == "mi-token-2"
    assert "client_id" not in imds.params[0]


def test_managed_identity_error_and_configuration(
    router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    FakeImds(router, monkeypatch)
    router.get(f"{IMDS}/metadata/identity/oauth2/token").respond(
        400, json={"error": "invalid_request", "error_description": "Identity not found"}
    )
    with pytest.raises(TokenAcquisitionError) as caught:
        ManagedIdentityCredential(client_id="x").get_token([SCOPE])
    assert caught.value.error == "invalid_request"
    with pytest.raises(ConfigurationError):
        ManagedIdentityCredential(client_id="a", object_id="b")
    with pytest.raises(ConfigurationError):
        ManagedIdentityCredential().get_token(["a/.default", "b/.default"])


# -- workload identity -------------------------------------------------------------------------


def test_workload_identity_reads_environment_and_rotated_file(
    router: respx.MockRouter, tmp_path: Path
) -> None:
    idp = FakeIdentityProvider(router)
    token_file = tmp_path / "token"
    token_file.write_text("federated-1\n")
    env = {
        "AZURE_CLIENT_ID": "wl-app",
        "AZURE_TENANT_ID": TENANT,
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        "AZURE_AUTHORITY_HOST": AUTHORITY_HOST + "/",
    }
    credential = WorkloadIdentityCredential(environ=env)
    credential.get_token([SCOPE])
    # The kubelet swaps in a new file: same path, new inode, new content.
    replacement = tmp_path / "token.new"
    replacement.write_text("federated-2")
    os.replace(replacement, token_file)
    credential.get_token([SCOPE], claims=json.dumps(NBF_CLAIMS))
    credential.get_token([SCOPE], claims=json.dumps(NBF_CLAIMS))
    assert [r["client_assertion"] for r in idp.requests] == [
        "federated-1",
        "federated-2",
        "federated-2",
    ]
    assert {r["client_id"] for r in idp.requests} == {"wl-app"}
    assert idp.requests[0]["client_assertion_type"].endswith("jwt-bearer")


def test_federated_file_rewritten_in_place_is_reread(tmp_path: Path) -> None:
    from cae_sdk.client import FederatedTokenFile

    path = tmp_path / "token"
    path.write_text("aaa")
    reader = FederatedTokenFile(path)
    assert reader.read() == "aaa"
    path.write_text("bbbb")
    later = time.time_ns() + 5_000_000_000
    os.utime(path, ns=(later, later))
    assert reader.read() == "bbbb"
    path.write_text("")
    os.utime(path, ns=(later + 1, later + 1))
    with pytest.raises(ConfigurationError, match="empty"):
        reader.read()
    path.unlink()
    with pytest.raises(ConfigurationError):
        reader.read()


def test_workload_identity_missing_configuration() -> None:
    with pytest.raises(ConfigurationError, match="AZURE_FEDERATED_TOKEN_FILE"):
        WorkloadIdentityCredential(environ={"AZURE_CLIENT_ID": "a", "AZURE_TENANT_ID": "t"})


# -- public client -----------------------------------------------------------------------------


def _public(**kwargs: Any) -> tuple[PublicClientCredential, list[str]]:
    prompts: list[str] = []
    credential = PublicClientCredential(
        "public-client",
        tenant_id=TENANT,
        authority_host=AUTHORITY_HOST,
        prompt_callback=prompts.append,
        **kwargs,
    )
    return credential, prompts


def test_public_client_device_code_then_silent(router: respx.MockRouter) -> None:
    idp = FakeIdentityProvider(router)
    credential, prompts = _public()
    first = credential.get_token([SCOPE])
    assert first.token == "token-1"
    assert prompts == ["To sign in, enter ABCD-EFGH at https://login.test/devicelogin"]
    assert idp.requests[0]["grant_type"].endswith("device_code")
    assert json.loads(idp.requests[0]["claims"]) == {
        "access_token": {"xms_cc": {"values": ["cp1"]}}
    }
    assert credential.get_token([SCOPE]).token == "token-1"  # cache
    # A revocation challenge resolves silently with the refresh token and the merged claims.
    refreshed = credential.get_token(
        [SCOPE], claims=json.dumps(NBF_CLAIMS), challenged_token=first.token
    )
    assert refreshed.token == "token-2"
    assert idp.requests[1]["grant_type"] == "refresh_token"
    sent = json.loads(idp.requests[1]["claims"])
    assert sent["access_token"]["nbf"]["value"] == "1700000000"
    assert sent["access_token"]["xms_cc"] == {"values": ["cp1"]}
    assert len(prompts) == 1


def test_public_client_step_up_without_handler_raises_with_claims(
    router: respx.MockRouter,
) -> None:
    idp = FakeIdentityProvider(router)
    credential, _ = _public()
    credential.get_token([SCOPE])
    with pytest.raises(InteractionRequired) as caught:
        credential.get_token([SCOPE], claims=json.dumps(acrs_claims("c1")))
    assert caught.value.claims is not None
    assert json.loads(caught.value.claims)["access_token"]["acrs"]["value"] == "c1"
    assert caught.value.remediation.interactive
    assert idp.count == 1  # the step-up never went to the token endpoint silently


def test_public_client_step_up_goes_to_handler(router: respx.MockRouter) -> None:
    FakeIdentityProvider(router)
    seen: list[str] = []

    def handler(claims: str) -> dict[str, Any]:
        seen.append(claims)
        return {"access_token": "stepped-up", "expires_in": 600}

    credential, _ = _public(interaction_handler=handler)
    credential.get_token([SCOPE])
    token = credential.get_token([SCOPE], claims=json.dumps(acrs_claims("c1")))
    assert token.token == "stepped-up"
    assert json.loads(seen[0])["access_token"]["xms_cc"] == {"values": ["cp1"]}


def test_public_client_mfa_required_maps_to_interaction(router: respx.MockRouter) -> None:
    idp = FakeIdentityProvider(router)
    credential, _ = _public()
    credential.get_token([SCOPE])
    idp.errors.append(
        {
            "error": "invalid_grant",
            "error_description": "AADSTS50076: MFA required",
            "error_codes": [50076],
            "suberror": "basic_action",
        }
    )
    with pytest.raises(InteractionRequired) as caught:
        credential.get_token([SCOPE], claims=json.dumps(NBF_CLAIMS))
    assert "multifactor" in caught.value.remediation.text.lower()
    assert caught.value.claims is not None


def test_public_client_device_flow_failure(router: respx.MockRouter) -> None:
    FakeIdentityProvider(router)
    router.post(f"{AUTHORITY_HOST}/{TENANT}/oauth2/v2.0/devicecode").respond(
        400, json={"error": "invalid_client", "error_description": "AADSTS700016: no app"}
    )
    credential, prompts = _public()
    with pytest.raises(TokenAcquisitionError) as caught:
        credential.get_token([SCOPE])
    assert prompts == []
    assert caught.value.error == "invalid_client"


# -- azure-identity adapter --------------------------------------------------------------------


class FakeAzureToken:
    def __init__(self, token: str, expires_on: int, refresh_on: int | None = None) -> None:
        self.token, self.expires_on, self.refresh_on = token, expires_on, refresh_on


class FakeAzureCredential:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        self.fail: Exception | None = None

    def get_token(self, *scopes: str, **kwargs: Any) -> FakeAzureToken:
        self.calls.append((scopes, kwargs))
        if self.fail:
            raise self.fail
        return FakeAzureToken(f"az-{len(self.calls)}", 10_000, refresh_on=9_000)


def test_azure_identity_adapter_passes_merged_claims_and_cae() -> None:
    fake = FakeAzureCredential()
    credential = AzureIdentityCredential(fake, clock=lambda: 5_000.0)
    token = credential.get_token([SCOPE])
    assert (token.token, token.expires_on, token.refresh_on) == ("az-1", 10_000, 9_000)
    assert fake.calls[0] == ((SCOPE,), {"claims": None, "enable_cae": True})
    credential.get_token([SCOPE], claims=json.dumps(NBF_CLAIMS))
    sent = json.loads(fake.calls[1][1]["claims"])
    assert sent["access_token"]["xms_cc"] == {"values": ["cp1"]}
    assert sent["access_token"]["nbf"]["value"] == "1700000000"


def test_azure_identity_adapter_maps_errors() -> None:
    class ClientAuthenticationError(Exception):
        pass

    fake = FakeAzureCredential()
    fake.fail = ClientAuthenticationError("AADSTS7000112: disabled\nmore")
    with pytest.raises(TokenAcquisitionError) as caught:
        AzureIdentityCredential(fake).get_token([SCOPE])
    assert caught.value.error_codes == (7000112,)
    assert caught.value.remediation.kind.value == "admin"
    assert "FakeAzureCredential.get_token failed: AADSTS7000112: disabled" in str(caught.value)
    fake.fail = ClientAuthenticationError("AADSTS50076: MFA required")
    with pytest.raises(InteractionRequired):
        AzureIdentityCredential(fake).get_token([SCOPE])
    with pytest.raises(TypeError):
        AzureIdentityCredential(object())  # type: ignore[arg-type]


def test_azure_identity_adapter_bounds_a_hung_credential() -> None:
    """azure-identity's own HTTP restarts its read timeout on every byte: the adapter's
    ``timeout`` is what the caller waits at most."""
    release = threading.Event()

    class Hung(FakeAzureCredential):
        def get_token(self, *scopes: str, **kwargs: Any) -> FakeAzureToken:
            release.wait(30)
            return super().get_token(*scopes, **kwargs)

    try:
        started = time.monotonic()
        with pytest.raises(TokenAcquisitionError) as caught:
            AzureIdentityCredential(Hung(), timeout=0.3).get_token([SCOPE])
        assert time.monotonic() - started < 5  # the deadline is 0.3 s; the machine is shared
        assert caught.value.error == "timeout"
    finally:
        release.set()
    waiting = Hung()
    threading.Timer(0.5, release.set).start()
    assert AzureIdentityCredential(waiting, timeout=None).get_token([SCOPE]).token == "az-1"


def test_azure_identity_adapter_redacts_what_the_credential_said() -> None:
    fake = FakeAzureCredential()
    jwt = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln"
    fake.fail = ValueError(f'Unexpected response {{"access_token": "{jwt}", "x": 1}}')
    with pytest.raises(TokenAcquisitionError) as caught:
        AzureIdentityCredential(fake).get_token([SCOPE])
    assert jwt not in str(caught.value)
    assert jwt not in (caught.value.error_description or "")


def test_azure_identity_adapter_refuses_an_async_credential() -> None:
    class AsyncOnly:
        async def get_token(self, *scopes: str, **kwargs: Any) -> FakeAzureToken:
            return FakeAzureToken("never", 1, refresh_on=None)

    with pytest.raises(ConfigurationError, match="async credential"):
        AzureIdentityCredential(AsyncOnly())
