"""End to end: real MSAL against the dev identity provider, a real uvicorn API on loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import jwt
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cae_sdk import (
    AsyncCAEClient,
    CAEClient,
    ConfidentialClientCredential,
    InteractionRequired,
    ManagedIdentityCredential,
    PublicClientCredential,
    TokenAcquisitionError,
    WorkloadIdentityCredential,
    build_claims_challenge,
    has_cp1,
)
from cae_sdk.client import CredentialBase
from cae_sdk.core.claims import acrs_claims, nbf_claims
from cae_sdk.core.remediation import RemediationKind

devidp = pytest.importorskip("cae_sdk.devidp")
uvicorn = pytest.importorskip("uvicorn")

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def idp() -> Iterator[Any]:
    with devidp.DevIdentityProvider() as provider:
        yield provider


# Credentials own an httpx client for MSAL (CAEClient does not close the credential it is
# given): every credential a test builds is closed after it, so no socket to the IdP leaks.
_OPENED: list[CredentialBase] = []
_Credential = TypeVar("_Credential", bound=CredentialBase)


def _closed_after_test(credential: _Credential) -> _Credential:
    _OPENED.append(credential)
    return credential


@pytest.fixture(autouse=True)
def _close_credentials() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


def _scope(idp: Any) -> str:
    return f"{idp.seed.api.audience}/.default"


def _claims(token: str) -> dict[str, Any]:
    # The test only reads what the identity provider issued; the API below is not a validator.
    return jwt.decode(token, options={"verify_signature": False})


def _confidential(idp: Any, client_id: str, **secret: Any) -> ConfidentialClientCredential:
    return _closed_after_test(
        ConfidentialClientCredential(
            idp.tenant_id,
            client_id,
            authority=idp.authority,
            ca_bundle=idp.ca_bundle,
            instance_discovery=False,
            **secret,
        )
    )


def _secret(idp: Any) -> ConfidentialClientCredential:
    app = idp.seed.secret_app
    return _confidential(idp, app.client_id, client_secret=app.client_secret)


def test_secret_credential_gets_cp1_token(idp: Any) -> None:
    token = _secret(idp).get_token([_scope(idp)])
    claims = _claims(token.token)
    assert has_cp1(claims.get("xms_cc"))
    assert claims["aud"] in {idp.seed.api.audience, idp.seed.api.app_id}
    assert claims["iss"] == idp.issuer
    assert token.expires_on > time.time() + 3600


def test_certificate_credential_gets_cp1_token(idp: Any) -> None:
    app = idp.seed.cert_app
    credential = _confidential(idp, app.client_id, certificate=app.certificate_path)
    claims = _claims(credential.get_token([_scope(idp)]).token)
    assert has_cp1(claims.get("xms_cc"))
    assert claims["azp" if "azp" in claims else "appid"] == idp.seed.cert_app.client_id


def test_workload_identity_gets_cp1_token_from_rotating_file(idp: Any, tmp_path: Path) -> None:
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(idp.mint_federated_token())
    credential = _closed_after_test(
        WorkloadIdentityCredential(
            environ={
                "AZURE_CLIENT_ID": idp.seed.federated_app.client_id,
                "AZURE_TENANT_ID": idp.tenant_id,
                "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
                "AZURE_AUTHORITY_HOST": idp.base_url,
            },
            ca_bundle=idp.ca_bundle,
        )
    )
    first = credential.get_token([_scope(idp)])
    assert has_cp1(_claims(first.token).get("xms_cc"))
    rotated = tmp_path / "rotated"
    rotated.write_text(idp.mint_federated_token())
    rotated.replace(token_file)
    second = credential.get_token([_scope(idp)], claims=json.dumps(nbf_claims(int(time.time()))))
    assert second.token != first.token


def test_disabled_service_principal_needs_an_administrator(idp: Any) -> None:
    app_id = idp.seed.secret_app.client_id
    idp.admin.disable_service_principal(app_id)
    try:
        with pytest.raises(TokenAcquisitionError) as caught:
            _secret(idp).get_token([_scope(idp)])
    finally:
        idp.admin.enable_service_principal(app_id)
    error = caught.value
    assert 7000112 in error.error_codes
    assert error.remediation.kind is RemediationKind.ADMIN
    assert "administrator" in str(error)
    assert error.correlation_id


def test_managed_identity_via_imds(idp: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", idp.imds_url)
    # IMDS mints a fresh token on every call here; tests/client/test_managed_identity_e2e.py
    # covers the real, caching IMDS (the same token back after a revocation).
    monkeypatch.setattr(idp.settings, "imds_cache_tokens", False)
    credential = _closed_after_test(
        ManagedIdentityCredential(client_id=idp.seed.managed_identity.client_id)
    )
    first = credential.get_token([_scope(idp)])
    claims = _claims(first.token)
    assert claims["oid"] == idp.seed.managed_identity.object_id
    assert has_cp1(claims.get("xms_cc"))
    assert credential.get_token([_scope(idp)]).token == first.token  # cached
    after = credential.get_token(
        [_scope(idp)],
        claims=json.dumps(nbf_claims(int(time.time()))),
        challenged_token=first.token,
    )
    assert after.token != first.token


def _public(idp: Any, prompts: list[str], **kwargs: Any) -> PublicClientCredential:
    return _closed_after_test(
        PublicClientCredential(
            idp.seed.public_app.client_id,
            tenant_id=idp.tenant_id,
            authority=idp.authority,
            ca_bundle=idp.ca_bundle,
            instance_discovery=False,
            prompt_callback=prompts.append,
            **kwargs,
        )
    )


def _user_scope(idp: Any) -> str:
    return f"{idp.seed.api.audience}/access_as_user"


def test_public_client_device_code_gets_cp1_token(idp: Any) -> None:
    prompts: list[str] = []
    credential = _public(idp, prompts)
    scope = _user_scope(idp)
    token = credential.get_token([scope])
    assert prompts and "code" in prompts[0].lower()
    claims = _claims(token.token)
    assert has_cp1(claims.get("xms_cc"))
    assert claims["oid"] == idp.seed.user.object_id
    assert credential.get_token([scope]).token == token.token  # silent from the cache


def test_public_client_step_up_through_device_code_handler(idp: Any) -> None:
    prompts: list[str] = []
    scopes = [_user_scope(idp)]
    credential = _public(
        idp,
        prompts,
        interaction_handler=lambda claims: credential.sign_in_with_device_code(scopes, claims),
    )
    credential.get_token(scopes)
    stepped_up = credential.get_token(scopes, claims=json.dumps(acrs_claims("c1")))
    claims = _claims(stepped_up.token)
    assert claims["acrs"] == ["c1"]
    assert has_cp1(claims.get("xms_cc"))
    assert len(prompts) == 2  # the step-up went back to the user


def test_public_client_step_up_without_handler_raises(idp: Any) -> None:
    credential = _public(idp, [])
    scopes = [_user_scope(idp)]
    credential.get_token(scopes)
    with pytest.raises(InteractionRequired) as caught:
        credential.get_token(scopes, claims=json.dumps(acrs_claims("c1")))
    assert caught.value.claims is not None and "acrs" in caught.value.claims


def test_public_client_revoked_sessions_need_the_user(idp: Any) -> None:
    credential = _public(idp, [])
    scopes = [_user_scope(idp)]
    first = credential.get_token(scopes)
    idp.admin.revoke_sessions(idp.seed.user.object_id)
    with pytest.raises(InteractionRequired) as caught:
        credential.get_token(
            scopes, claims=json.dumps(nbf_claims(int(time.time()))), challenged_token=first.token
        )
    assert caught.value.remediation.interactive
    assert caught.value.claims is not None


# -- a real API that revokes tokens issued before a cut-off ------------------------------------


class RevokingApi:
    """A tiny Starlette API: tokens issued before ``cutoff`` get a CAE claims challenge."""

    def __init__(self, authorization_uri: str) -> None:
        self.cutoff: int | None = None
        self.authorization_uri = authorization_uri
        self.bodies: list[bytes] = []
        self.app = Starlette(routes=[Route("/data", self.data, methods=["GET", "POST"])])

    async def data(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        claims = jwt.decode(header[7:], options={"verify_signature": False})
        if self.cutoff is not None and int(claims["iat"]) < self.cutoff:
            challenge = build_claims_challenge(
                nbf_claims(self.cutoff), authorization_uri=self.authorization_uri
            )
            return JSONResponse(
                {"error": "revoked"}, status_code=401, headers={"WWW-Authenticate": challenge}
            )
        body = await request.body()
        self.bodies.append(body)
        return JSONResponse({"iat": claims["iat"], "echo": body.decode()})


@pytest.fixture(scope="module")
def api(idp: Any) -> Iterator[tuple[RevokingApi, str]]:
    revoking = RevokingApi(f"{idp.authority}/oauth2/authorize")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(revoking.app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    try:
        yield revoking, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


def _revoke_current(api: RevokingApi, issued_at: int) -> None:
    api.cutoff = issued_at + 1
    # The replacement token must be issued at or after the cut-off (iat has 1 s resolution).
    time.sleep(max(0.0, api.cutoff - time.time()))


def test_client_reacquires_and_replays_after_revocation(
    idp: Any, api: tuple[RevokingApi, str]
) -> None:
    revoking, base = api
    revoking.cutoff = None
    with CAEClient(_secret(idp), _scope(idp)) as client:
        first = client.post(f"{base}/data", json={"n": 1})
        assert first.status_code == 200
        _revoke_current(revoking, first.json()["iat"])
        replayed = client.post(f"{base}/data", json={"n": 2})
    assert replayed.status_code == 200
    assert replayed.json()["iat"] >= revoking.cutoff
    assert json.loads(replayed.json()["echo"]) == {"n": 2}  # the body survived the replay


async def test_async_client_reacquires_and_replays(idp: Any, api: tuple[RevokingApi, str]) -> None:
    revoking, base = api
    revoking.cutoff = None
    async with AsyncCAEClient(_secret(idp), _scope(idp)) as client:
        first = await client.get(f"{base}/data")
        _revoke_current(revoking, first.json()["iat"])
        replayed = await client.post(f"{base}/data", data={"field": "value"})
    assert replayed.status_code == 200
    assert replayed.json()["echo"] == "field=value"
