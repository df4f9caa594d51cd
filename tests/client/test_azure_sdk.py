"""cae-sdk credentials as Azure SDK credentials (``cae_sdk.client.azure``).

Unit tests drive the adapters directly; end-to-end tests put them under azure-core's own
``BearerTokenCredentialPolicy(enable_cae=True)`` (sync and async) and msgraph-core / kiota's
CAE retry, against the dev identity provider and a live ``CAEMiddleware`` API over HTTPS:
200, revoke, 401 challenge, exactly one token request with the merged claims, 200; a second
challenge fails cleanly.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cae_sdk.client import CredentialBase
from cae_sdk.core.errors import (
    ClaimsChallengeLoop,
    ClaimsChallengeUnresolvable,
    ConfigurationError,
    InteractionRequired,
    InvalidClaimsError,
    TokenAcquisitionError,
)

azure_core = pytest.importorskip("azure.core")

from azure.core.credentials import (  # noqa: E402
    AccessToken,
    AccessTokenInfo,
    SupportsTokenInfo,
    TokenCredential,
)
from azure.core.credentials_async import (  # noqa: E402
    AsyncSupportsTokenInfo,
    AsyncTokenCredential,
)
from azure.core.exceptions import ClientAuthenticationError  # noqa: E402

from cae_sdk.client.azure import (  # noqa: E402
    AsyncAzureSDKCredential,
    AzureSDKCredential,
    as_client_authentication_error,
)

from .fakes import NBF_CLAIMS, SCOPE, CountingCredential  # noqa: E402

CLAIMS = json.dumps(NBF_CLAIMS)
# A challenge without nbf (Entra's IP location enforcement carries an error code, not a time).
LOCATION_CLAIMS = json.dumps({"access_token": {"xms_caeerror": {"value": "10002"}}})


class SameTokenCredential(CredentialBase):
    """A token source that hands back the same token whatever it is asked (like a managed
    identity endpoint that caches)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.authority = "https://login.test/tenant-a"

    def _acquire(self, scopes: list[str], claims: str | None) -> Mapping[str, Any]:
        self.calls += 1
        return {"access_token": "same-token", "expires_in": 3600}


class NumberedCredential(CredentialBase):
    """A token source that issues ``token-N`` and records the (merged) claims it is asked."""

    def __init__(self) -> None:
        super().__init__()
        self.claims: list[str | None] = []

    def _acquire(self, scopes: list[str], claims: str | None) -> Mapping[str, Any]:
        self.claims.append(claims)
        return {"access_token": f"token-{len(self.claims)}", "expires_in": 3600}


# -- the protocols and the types kiota insists on ----------------------------------------------


def test_adapters_satisfy_azure_core_protocols() -> None:
    sync = AzureSDKCredential(CountingCredential())
    asynchronous = AsyncAzureSDKCredential(CountingCredential())
    assert isinstance(sync, TokenCredential) and isinstance(sync, SupportsTokenInfo)
    assert isinstance(asynchronous, AsyncTokenCredential)
    assert isinstance(asynchronous, AsyncSupportsTokenInfo)


def test_get_token_returns_azure_core_types_and_caches() -> None:
    credential = CountingCredential(expires_in=7200, refresh_in=3600)
    adapter = AzureSDKCredential(credential)
    token = adapter.get_token(SCOPE, enable_cae=True, some_future_option=1)
    assert type(token) is AccessToken  # kiota sends no header for anything else
    assert token.token == "tok-1" and isinstance(token.expires_on, int)
    info = adapter.get_token_info(SCOPE, options={"enable_cae": True, "unknown": 1})  # type: ignore[typeddict-unknown-key]
    assert isinstance(info, AccessTokenInfo) and info.token == "tok-1"
    assert info.refresh_on is not None and info.refresh_on < info.expires_on
    assert info.token_type == "Bearer"
    assert len(credential.calls) == 1  # the held token answers without asking again


def test_enable_cae_false_still_gets_a_cp1_request() -> None:
    """cp1 always: enable_cae only reaches azure-identity; ours announce cp1 regardless."""
    credential = NumberedCredential()
    adapter = credential.as_azure_credential()
    adapter.get_token(SCOPE, enable_cae=False)
    adapter.get_token(SCOPE, claims=CLAIMS, enable_cae=False)
    # The claims request carries the server's members and cp1 (merge_claims).
    assert credential.claims[0] is None
    merged = json.loads(credential.claims[1] or "")
    assert merged["access_token"]["nbf"] == NBF_CLAIMS["access_token"]["nbf"]
    assert merged["access_token"]["xms_cc"] == {"values": ["cp1"]}


def test_claims_request_names_the_token_handed_out_last() -> None:
    credential = CountingCredential()
    adapter = AzureSDKCredential(credential)
    adapter.get_token(SCOPE)
    answer = adapter.get_token_info(SCOPE, options={"claims": CLAIMS})
    assert answer.token == "tok-2"
    assert credential.calls[1] == ((SCOPE,), CLAIMS, "tok-1")
    # Another request refused with the same claims gets the answer already in hand.
    assert adapter.get_token(SCOPE, claims=CLAIMS).token == "tok-2"
    assert adapter.get_token(SCOPE).token == "tok-2"
    assert len(credential.calls) == 2


def test_an_answer_refused_later_with_the_same_claims_is_replaced() -> None:
    """azure-core never says which token a challenge refused. The same claims right after an
    answer come from requests sent before it (the answer serves them); the same claims later
    mean the answer itself was refused: it must not be handed out again until it expires."""
    now = [1_000.0]
    credential = CountingCredential(clock=lambda: now[0])
    adapter = AzureSDKCredential(credential, clock=lambda: now[0])
    adapter.get_token(SCOPE)
    assert adapter.get_token(SCOPE, claims=LOCATION_CLAIMS).token == "tok-2"
    now[0] += 1  # a burst: requests sent with tok-1
    assert adapter.get_token(SCOPE, claims=LOCATION_CLAIMS).token == "tok-2"
    now[0] += 60  # tok-2 itself refused for the same reason
    assert adapter.get_token(SCOPE, claims=LOCATION_CLAIMS).token == "tok-3"
    assert credential.calls[2] == ((SCOPE,), LOCATION_CLAIMS, "tok-2")


def test_same_token_after_a_challenge_is_unresolvable_and_bounded() -> None:
    credential = SameTokenCredential()
    adapter = credential.as_azure_credential()
    adapter.get_token(SCOPE)
    for _ in range(3):
        with pytest.raises(ClaimsChallengeUnresolvable) as caught:
            adapter.get_token(SCOPE, claims=CLAIMS)
        assert isinstance(caught.value, ClientAuthenticationError)
        assert not isinstance(caught.value, ClaimsChallengeLoop)
    calls = credential.calls
    # The loop breaker stops asking the token source after three identical challenges.
    with pytest.raises(ClaimsChallengeLoop) as looped:
        adapter.get_token(SCOPE, claims=CLAIMS)
    assert isinstance(looped.value, ClientAuthenticationError)
    assert looped.value.retry_after > 0
    assert credential.calls == calls


def test_errors_are_both_cae_and_azure_core_errors() -> None:
    credential = CountingCredential()
    credential.fail = InteractionRequired(
        "Token request failed: interaction_required", error="interaction_required", claims="c"
    )
    adapter = AzureSDKCredential(credential)
    with pytest.raises(ClientAuthenticationError) as caught:
        adapter.get_token(SCOPE)
    error = caught.value
    assert isinstance(error, InteractionRequired) and isinstance(error, TokenAcquisitionError)
    assert error.claims == "c" and error.error == "interaction_required"
    assert error.message == str(error)
    assert error.inner_exception is credential.fail


def test_translation_keeps_message_attributes_and_is_idempotent() -> None:
    original = ClaimsChallengeLoop("again and again", retry_after=12.5)
    translated = as_client_authentication_error(original)
    assert isinstance(translated, ClaimsChallengeLoop)
    assert isinstance(translated, ClientAuthenticationError)
    assert str(translated) == "again and again" and translated.retry_after == 12.5
    assert as_client_authentication_error(translated) is translated


def test_tenant_must_be_the_credentials_own() -> None:
    credential = SameTokenCredential()
    adapter = AzureSDKCredential(credential)
    assert adapter.get_token(SCOPE, tenant_id="TENANT-A").token == "same-token"
    with pytest.raises(ClientAuthenticationError) as caught:
        adapter.get_token_info(SCOPE, options={"tenant_id": "tenant-b"})
    assert isinstance(caught.value, ConfigurationError)
    assert credential.calls == 1  # refused before anything was asked


def test_managed_identity_ignores_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    from cae_sdk.client import ManagedIdentityCredential

    credential = ManagedIdentityCredential(client_id="mi")
    monkeypatch.setattr(
        credential,
        "_acquire",
        lambda scopes, claims: {"access_token": "mi-token", "expires_in": 3600},
    )
    with credential.as_azure_credential() as adapter:
        assert adapter.get_token(SCOPE, tenant_id="any-tenant").token == "mi-token"


@pytest.mark.parametrize("scopes", [(), ("",), ("  ",), (None,), (SCOPE, 3)])
def test_bad_scopes_are_a_value_error(scopes: tuple[Any, ...]) -> None:
    adapter = AzureSDKCredential(CountingCredential())
    with pytest.raises(ValueError):
        adapter.get_token(*scopes)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["get_token", "get_token_info"]),
            st.lists(st.sampled_from([SCOPE, "api://other/.default", "", "x y"]), max_size=2),
            st.one_of(st.none(), st.just(""), st.just(CLAIMS), st.text(max_size=20)),
            st.one_of(st.none(), st.just("tenant-a"), st.text(max_size=8)),
        ),
        max_size=8,
    )
)
def test_any_call_sequence_gives_a_token_or_a_typed_error(
    calls: list[tuple[str, list[str], str | None, str | None]],
) -> None:
    """Whole-adapter property: whatever the caller sends, the answer is an azure-core token
    from the credential or a typed error (ValueError for bad arguments,
    ClientAuthenticationError for a refusal), and a challenge is never answered with the
    token handed out before it (unless that token was the answer to these very claims)."""
    adapter = AzureSDKCredential(SameTokenCredential())
    handed: dict[tuple[str, ...], str | None] = {}  # scopes -> claims the token answered
    for method, scopes, claims, tenant in calls:
        try:
            if method == "get_token":
                token: Any = adapter.get_token(*scopes, claims=claims, tenant_id=tenant)
            else:
                options: dict[str, Any] = {"claims": claims, "tenant_id": tenant}
                token = adapter.get_token_info(*scopes, options=options)  # type: ignore[arg-type]
        except ClientAuthenticationError as error:
            assert isinstance(
                error, (ClaimsChallengeUnresolvable, ConfigurationError, InvalidClaimsError)
            )
            continue
        except ValueError:
            assert not scopes or not all(s.strip() for s in scopes)
            continue
        key = tuple(scopes)
        assert token.token == "same-token"
        if claims and key in handed:
            assert handed[key] == claims  # the refused token is never handed back
        handed[key] = claims or None


async def test_async_adapter_single_flight_and_no_blocking() -> None:
    from ._live_api import LoopLag

    class SlowCredential(CountingCredential):
        def get_token(self, scopes: Any, **kwargs: Any) -> Any:
            time.sleep(0.5)  # a blocking MSAL call
            return super().get_token(scopes, **kwargs)

    credential = SlowCredential()
    async with AsyncAzureSDKCredential(credential) as adapter:
        async with LoopLag() as lag:
            tokens = await asyncio.gather(*(adapter.get_token(SCOPE) for _ in range(20)))
        assert {t.token for t in tokens} == {"tok-1"}
        assert len(credential.calls) == 1
        assert lag.worst < 0.3  # 0.5 s of blocking would show
        infos = await asyncio.gather(
            *(adapter.get_token_info(SCOPE, options={"claims": CLAIMS}) for _ in range(5))
        )
    assert {i.token for i in infos} == {"tok-2"}
    assert len(credential.calls) == 2


async def test_async_adapter_shares_the_credentials_flight_with_sync_callers() -> None:
    """A sync caller and async callers asking together cause one token request: the
    credential's own single flight sits under both adapters."""
    credential = SameTokenCredential()
    entered = threading.Event()
    release = threading.Event()
    original = credential._acquire

    def slow(scopes: list[str], claims: str | None) -> Mapping[str, Any]:
        entered.set()
        release.wait(5)
        return original(scopes, claims)

    credential._acquire = slow  # type: ignore[method-assign]
    sync = credential.as_azure_credential()
    thread = threading.Thread(target=sync.get_token, args=(SCOPE,))
    thread.start()
    assert await asyncio.to_thread(entered.wait, 5)
    pending = asyncio.gather(
        *(credential.as_async_azure_credential().get_token(SCOPE) for _ in range(3))
    )
    await asyncio.sleep(0.1)
    release.set()
    tokens = await pending
    thread.join(5)
    assert {t.token for t in tokens} == {"same-token"}
    assert credential.calls == 1


# -- end to end: azure-core's policy and kiota against the dev IdP and a live API -------------

pytest.importorskip("uvicorn")


@pytest.fixture
def idp(cae_idp_session: Any) -> Any:
    return cae_idp_session  # the plugin's provider, shared by the session


@pytest.fixture
def api(idp: Any) -> Iterator[Any]:
    from ._live_api import live_api

    with live_api(idp) as live:
        yield live


@pytest.fixture
def recorder(idp: Any) -> Iterator[Any]:
    from ._live_api import TokenRequests

    requests = TokenRequests(idp)
    yield requests
    requests.close()


def _statuses(api: Any, path: str) -> list[int]:
    return [hit.status for hit in api.hits if hit.path == path]


@pytest.mark.e2e
def test_bearer_policy_answers_a_revocation_once(idp: Any, api: Any, recorder: Any) -> None:
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.rest import HttpRequest

    from ._live_api import merged_nbf_claims, secret_credential

    credential = secret_credential(idp, recorder)
    policy = BearerTokenCredentialPolicy(
        credential.as_azure_credential(), api.scope, enable_cae=True
    )
    transport = RequestsTransport(connection_verify=idp.ca_bundle)
    with PipelineClient(api.url, policies=[policy], transport=transport) as client:
        first = client.send_request(HttpRequest("GET", f"{api.url}/data"))
        assert first.status_code == 200, first.text()
        watermark = first.json()["iat"] + 1
        api.revoke_app(idp.seed.secret_app.client_id, watermark)
        before = len(recorder.token_requests)
        replayed = client.send_request(HttpRequest("POST", f"{api.url}/data", json={"n": 2}))
        assert replayed.status_code == 200, replayed.text()
        assert replayed.json()["iat"] >= watermark
        assert json.loads(replayed.json()["echo"]) == {"n": 2}  # the body was replayed
        answered = recorder.token_requests[before:]
        assert [r.claims for r in answered] == [merged_nbf_claims(watermark)]
        assert _statuses(api, "/data") == [200, 401, 200]

        # A resource that challenges again: the policy replays once and hands back the 401.
        before = len(recorder.token_requests)
        refused = client.send_request(HttpRequest("GET", f"{api.url}/always"))
        assert refused.status_code == 401
        assert _statuses(api, "/always") == [401, 401]
        assert len(recorder.token_requests) - before == 1
    credential.close()


@pytest.fixture
async def async_transport(idp: Any) -> AsyncIterator[Any]:
    pytest.importorskip("aiohttp")
    from azure.core.pipeline.transport import AioHttpTransport

    transport = AioHttpTransport(connection_verify=idp.ca_bundle)
    yield transport
    await transport.close()


@pytest.mark.e2e
async def test_async_bearer_policy_answers_a_revocation_without_blocking(
    idp: Any, api: Any, recorder: Any, async_transport: Any
) -> None:
    from azure.core import AsyncPipelineClient
    from azure.core.pipeline.policies import AsyncBearerTokenCredentialPolicy
    from azure.core.rest import HttpRequest

    from ._live_api import LoopLag, merged_nbf_claims, secret_credential

    credential = secret_credential(idp, recorder)
    policy = AsyncBearerTokenCredentialPolicy(
        credential.as_async_azure_credential(), api.scope, enable_cae=True
    )
    async with AsyncPipelineClient(api.url, policies=[policy], transport=async_transport) as client:
        first = await client.send_request(HttpRequest("GET", f"{api.url}/data"))
        assert first.status_code == 200
        # A watermark a little ahead of the clock: the identity provider waits for it before
        # issuing (skew allowance), so the claims token request takes seconds. Run on the loop,
        # it would block it that long.
        watermark = int(time.time()) + 3
        api.revoke_app(idp.seed.secret_app.client_id, watermark)
        before = len(recorder.token_requests)
        async with LoopLag() as lag:
            started = time.monotonic()
            replayed = await client.send_request(
                HttpRequest("POST", f"{api.url}/data", content=b"payload")
            )
            took = time.monotonic() - started
        assert replayed.status_code == 200
        assert replayed.json() == {"iat": watermark, "echo": "payload"}
        assert [r.claims for r in recorder.token_requests[before:]] == [
            merged_nbf_claims(watermark)
        ]
        assert took >= 1.5  # the identity provider did hold the token request...
        assert lag.worst < 1.0  # ...and the event loop kept running meanwhile
        refused = await client.send_request(HttpRequest("GET", f"{api.url}/always"))
        assert refused.status_code == 401
        assert _statuses(api, "/always") == [401, 401]
    await asyncio.to_thread(credential.close)


@pytest.mark.e2e
async def test_msgraph_core_kiota_retry_answers_a_revocation(
    idp: Any, api: Any, recorder: Any
) -> None:
    pytest.importorskip("msgraph_core")
    import httpx
    from kiota_abstractions.api_error import APIError
    from kiota_abstractions.method import Method
    from kiota_abstractions.request_information import RequestInformation
    from msgraph_core import BaseGraphRequestAdapter
    from msgraph_core.authentication import AzureIdentityAuthenticationProvider

    from ._live_api import LoopLag, merged_nbf_claims, secret_credential, tls_context

    credential = secret_credential(idp, recorder)
    provider = AzureIdentityAuthenticationProvider(
        credential.as_async_azure_credential(), scopes=[api.scope], allowed_hosts=[idp.host]
    )
    async with httpx.AsyncClient(verify=tls_context(idp)) as http:
        adapter = BaseGraphRequestAdapter(provider, http_client=http)

        async def get(path: str) -> Any:
            info = RequestInformation()
            info.http_method = Method.GET
            info.url = f"{api.url}{path}"
            return await adapter.send_primitive_async(info, "bytes", {})

        assert json.loads(await get("/data"))["iat"]
        watermark = int(time.time()) + 3  # the identity provider holds the answer ~3 s
        api.revoke_app(idp.seed.secret_app.client_id, watermark)
        before = len(recorder.token_requests)
        async with LoopLag() as lag:
            started = time.monotonic()
            replayed = json.loads(await get("/data"))
            took = time.monotonic() - started
        assert replayed["iat"] == watermark
        assert [r.claims for r in recorder.token_requests[before:]] == [
            merged_nbf_claims(watermark)
        ]
        assert _statuses(api, "/data") == [200, 401, 200]
        assert took >= 1.5 and lag.worst < 1.0  # kiota's loop ran while MSAL waited
        with pytest.raises(APIError) as caught:
            await get("/always")
        assert caught.value.response_status_code == 401
        assert _statuses(api, "/always") == [401, 401]
    await asyncio.to_thread(credential.close)


@pytest.mark.e2e
def test_https_api_serves_with_the_providers_trust_and_runs_lifespan(idp: Any) -> None:
    """The helper the Azure SDK guide uses: HTTPS the provider's CA vouches for, the app's
    lifespan started and shut down."""
    import httpx
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from cae_sdk.devidp.https_api import HttpsApi

    from ._live_api import tls_context

    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello")

    app = Starlette(routes=[Route("/", hello)], lifespan=lifespan)
    api = HttpsApi(app, idp)
    with pytest.raises(RuntimeError):
        _ = api.url  # not started yet
    with api:
        assert api.url.startswith(f"https://{idp.host}:") and api.ca_bundle == idp.ca_bundle
        assert httpx.get(api.url, verify=tls_context(idp)).text == "hello"
        with pytest.raises(httpx.ConnectError):  # not trusted without the provider's CA
            httpx.get(api.url, verify=True)
        with pytest.raises(RuntimeError):
            api.start()
    assert events == ["startup", "shutdown"]
    assert repr(api) == "HttpsApi(stopped)"


_WITHOUT = """
import sys

class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Missing())
import cae_sdk.client
from cae_sdk.client import ManagedIdentityCredential
assert not any(m.split(".")[0] in {blocked!r} for m in sys.modules)
try:
    {attempt}
except ImportError as error:
    print(error)
else:
    raise SystemExit("imported without the extra")
"""


@pytest.mark.parametrize(
    ("blocked", "attempt", "extra"),
    [
        ({"azure"}, "ManagedIdentityCredential().as_azure_credential()", "'azure' extra"),
        ({"azure"}, "import cae_sdk.client.azure", "'azure' extra"),
        ({"aiohttp"}, "import cae_sdk.client.aiohttp", "'aiohttp' extra"),
    ],
)
def test_plain_install_imports_the_client_and_names_the_extra(
    blocked: set[str], attempt: str, extra: str
) -> None:
    import subprocess
    import sys

    script = _WITHOUT.format(blocked=blocked, attempt=attempt)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert extra in done.stdout and "pip install" in done.stdout


@pytest.mark.e2e
def test_azure_identity_credential_under_the_policy_and_through_cae_sdk(idp: Any, api: Any) -> None:
    """Real azure-identity against the dev IdP (no instance discovery), twice: as it is under
    the policy with enable_cae=True, and wrapped by cae-sdk (AzureIdentityCredential, then
    as_azure_credential()): both answer a revocation with one token request carrying cp1 and
    the server's claims."""
    pytest.importorskip("azure.identity")
    import requests
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.rest import HttpRequest
    from azure.identity import ClientSecretCredential

    from cae_sdk.client import AzureIdentityCredential

    from ._live_api import merged_nbf_claims

    app = idp.seed.secret_app
    claims_sent: list[Any] = []

    def record(response: Any, **_: Any) -> None:
        if response.request.method == "POST" and response.request.url.endswith("/token"):
            form = dict(part.split("=", 1) for part in str(response.request.body).split("&"))
            raw = requests.utils.unquote(form.get("claims", "").replace("+", " "))
            sent = json.loads(raw) if raw else None
            if sent:  # azure-identity announces "CP1": capabilities compare case-insensitively
                values = sent["access_token"]["xms_cc"]["values"]
                sent["access_token"]["xms_cc"]["values"] = [v.lower() for v in values]
            claims_sent.append(sent)

    for wrap in (False, True):
        session = requests.Session()
        session.hooks["response"].append(record)
        azure_identity = ClientSecretCredential(
            idp.tenant_id,
            app.client_id,
            app.client_secret,
            authority=idp.base_url,
            disable_instance_discovery=True,
            transport=RequestsTransport(
                session=session, session_owner=False, connection_verify=idp.ca_bundle
            ),
        )
        credential: Any = azure_identity
        if wrap:
            credential = AzureIdentityCredential(azure_identity).as_azure_credential()
        policy = BearerTokenCredentialPolicy(credential, api.scope, enable_cae=True)
        transport = RequestsTransport(connection_verify=idp.ca_bundle)
        with PipelineClient(api.url, policies=[policy], transport=transport) as client:
            first = client.send_request(HttpRequest("GET", f"{api.url}/data"))
            assert first.status_code == 200
            watermark = int(first.json()["iat"]) + 1
            api.revoke_app(app.client_id, watermark)
            before = len(claims_sent)
            replayed = client.send_request(HttpRequest("GET", f"{api.url}/data"))
            assert replayed.status_code == 200 and replayed.json()["iat"] >= watermark
            assert claims_sent[before:] == [merged_nbf_claims(watermark)]
        azure_identity.close()
        session.close()
