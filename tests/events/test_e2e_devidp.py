"""End to end with the dev identity provider: an admin action at the IdP reaches the API.

Transmitter -> push receiver / poll client -> store -> CAEMiddleware challenges that user's next
request; and the same through the IdP's Graph surface and the Graph bridge (authenticated with
our own cp1 client SDK).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from _ssf_helpers import running, user_token
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cae_sdk import CAEAuth, ConfidentialClientCredential
from cae_sdk.core import find_claims_challenge
from cae_sdk.core.secevents import CAEP, RISC
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.devidp import DevIdentityProvider
from cae_sdk.events import InMemoryEventStore, RiskLevel
from cae_sdk.events._workflows import Workflows
from cae_sdk.events.graph import GraphBridge, GraphBridgeOptions, GraphClient
from cae_sdk.events.ssf import (
    PollClient,
    PushReceiverApp,
    SetReceiver,
    StreamClient,
    poll_delivery,
    push_delivery,
)
from cae_sdk.resource import CAEMiddleware, TokenValidator

pytestmark = pytest.mark.e2e

EVENTS = [
    RISC.ACCOUNT_DISABLED,
    CAEP.SESSION_REVOKED,
    CAEP.CREDENTIAL_CHANGE,
    CAEP.RISK_LEVEL_CHANGE,
]


@pytest.fixture(scope="module")
def idp() -> Iterator[DevIdentityProvider]:
    with DevIdentityProvider() as provider:
        yield provider


def _tls(idp: DevIdentityProvider) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=idp.ca_bundle)


async def _me(request: Request) -> JSONResponse:
    return JSONResponse({"oid": request.user.identity})


@dataclass
class Api:
    url: str
    store: InMemoryEventStore
    http: httpx.AsyncClient
    records: list[dict[str, Any]]

    async def status(self, token: str) -> httpx.Response:
        return await self.http.get(f"{self.url}/me", headers={"authorization": f"Bearer {token}"})

    async def challenged(self, token: str, timeout: float = 10.0) -> httpx.Response:
        deadline = time.monotonic() + timeout
        while True:
            response = await self.status(token)
            if response.status_code == 401 or time.monotonic() > deadline:
                return response
            await asyncio.sleep(0.05)


@pytest.fixture
async def api(idp: DevIdentityProvider) -> AsyncIterator[Api]:
    store = InMemoryEventStore()
    records: list[dict[str, Any]] = []

    async def sink(record: dict[str, Any]) -> None:
        records.append(record)

    workflows = Workflows(sinks=[sink])
    workflows.attach(store)
    async with httpx.AsyncClient(verify=_tls(idp)) as idp_http, httpx.AsyncClient() as http:
        validator = TokenValidator.entra(
            app_id=idp.seed.api.app_id,
            tenant_id=idp.tenant_id,
            authority_host=idp.base_url,
            http_client=idp_http,
        )
        app = Starlette(
            routes=[Route("/me", _me)],
            middleware=[
                Middleware(
                    CAEMiddleware,  # type: ignore[arg-type]
                    validator=validator,
                    store=store,
                    on_decision=[workflows.on_decision],
                )
            ],
        )
        async with running(app) as url:
            yield Api(url, store, http, records)
    await workflows.close()


def _receiver(
    idp: DevIdentityProvider, http: httpx.AsyncClient, store: InMemoryEventStore, aud: Any
) -> SetReceiver:
    return SetReceiver.for_transmitter(
        idp.ssf_issuer,
        aud,  # the stream's audience, as the transmitter reported it
        store,
        http=http,
        configuration_url=idp.ssf_configuration_url,
        allowed_tenants=[idp.tenant_id],  # the IdP sends complex subjects naming their tenant
    )


class _Late:
    """ASGI app whose target is set after the stream exists (its audience is needed first)."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None or scope["type"] != "http"
        if self.app is not None:
            await self.app(scope, receive, send)


async def test_disabled_user_is_challenged_through_push(idp: DevIdentityProvider, api: Api) -> None:
    token = await asyncio.to_thread(user_token, idp)
    assert (await api.status(token)).status_code == 200
    late = _Late()
    async with httpx.AsyncClient(verify=_tls(idp)) as http, running(late) as push_url:
        streams = StreamClient(
            idp.ssf_issuer,
            http=http,
            auth=idp.ssf_access_token,
            configuration_url=idp.ssf_configuration_url,
        )
        stream = await streams.create(push_delivery(push_url, "Bearer e2e-push-secret"), EVENTS)
        receiver = _receiver(idp, http, api.store, stream["aud"])
        late.app = PushReceiverApp(receiver, authorization="Bearer e2e-push-secret")
        assert await streams.verify(stream["stream_id"], receiver.verification, timeout=10)
        await asyncio.sleep(1.1)  # the revocation second must follow the token's iat
        await asyncio.to_thread(idp.admin.disable_user, idp.seed.user.object_id)
        try:
            challenged = await api.challenged(token)
            assert challenged.status_code == 401, challenged.text
            challenge = find_claims_challenge(challenged.headers)
            assert challenge is not None and "nbf" in challenge.claims_dict["access_token"]
            assert api.store.watermark(SubjectKey.user(idp.tenant_id, idp.seed.user.object_id))
        finally:
            await asyncio.to_thread(idp.admin.enable_user, idp.seed.user.object_id)
        # An administrator re-enabled the account: the user signs in again and is let through,
        # which the workflow records as remediated (an admin-only case: Microsoft Entra ID
        # Protection docs, "Remediate risks and unblock users").
        await asyncio.sleep(1.1)
        renewed = await asyncio.to_thread(user_token, idp)
        assert (await api.status(renewed)).status_code == 200
        incidents = [r for r in api.records if r["kind"] in ("incident", "remediated")]
        assert [r["kind"] for r in incidents] == ["incident", "remediated"], api.records
        assert incidents[0]["cause"] == "user_disabled"
        assert incidents[0]["remediation"] == incidents[1]["remediation"] == "admin"
        assert incidents[1]["elapsed_seconds"] > 0
        await streams.delete(stream["stream_id"])


async def test_revoked_sessions_are_challenged_through_poll(
    idp: DevIdentityProvider, api: Api
) -> None:
    token = await asyncio.to_thread(user_token, idp)
    assert (await api.status(token)).status_code == 200
    async with httpx.AsyncClient(verify=_tls(idp)) as http:
        streams = StreamClient(
            idp.ssf_issuer,
            http=http,
            auth=idp.ssf_access_token,
            configuration_url=idp.ssf_configuration_url,
        )
        stream = await streams.create(poll_delivery(), EVENTS)
        receiver = _receiver(idp, http, api.store, stream["aud"])
        poller = PollClient(
            receiver,
            stream["delivery"]["endpoint_url"],
            http=http,
            auth=idp.ssf_access_token,
            request_timeout=10,
        )
        poller.start()
        try:
            await asyncio.sleep(1.1)
            await asyncio.to_thread(idp.admin.revoke_sessions, idp.seed.user.object_id)
            challenged = await api.challenged(token)
            assert challenged.status_code == 401, challenged.text
        finally:
            await poller.stop()
            await streams.delete(stream["stream_id"])


async def test_revoked_sessions_are_challenged_through_the_graph_bridge(
    idp: DevIdentityProvider, api: Api
) -> None:
    credential = ConfidentialClientCredential(
        idp.tenant_id,
        idp.seed.secret_app.client_id,
        client_secret=idp.seed.secret_app.client_secret,
        authority=idp.authority,
        ca_bundle=idp.ca_bundle,
        instance_discovery=False,
    )
    auth = CAEAuth(credential, [f"{idp.graph_base_url}/.default"])
    async with httpx.AsyncClient(verify=_tls(idp)) as http:
        bridge = GraphBridge(
            api.store,
            GraphClient(http, auth, base_url=idp.graph_base_url),
            tenant_id=idp.tenant_id,
            options=GraphBridgeOptions(minimum_risk=RiskLevel.HIGH, named_locations=True),
        )
        await bridge.sync_once()  # initial round: the delta link is stored
        assert await api.store.get_cursor(bridge.cursor_name("users"))
        token = await asyncio.to_thread(user_token, idp)
        assert (await api.status(token)).status_code == 200
        await asyncio.sleep(1.1)
        await asyncio.to_thread(idp.admin.revoke_sessions, idp.seed.user.object_id)
        report = await bridge.sync_once()
        assert report.changed.get("users", 0) >= 1, report
        assert (await api.status(token)).status_code == 401

        # High user risk at the IdP -> riskyUsers -> risk in the store -> challenged.
        await asyncio.sleep(1.1)
        fresh = await asyncio.to_thread(user_token, idp)
        assert (await api.status(fresh)).status_code == 200
        user = SubjectKey.user(idp.tenant_id, idp.seed.user.object_id)
        await asyncio.to_thread(idp.admin.set_user_risk, idp.seed.user.object_id, "high")
        try:
            await bridge.sync_once()
            assert api.store.risk(user) is RiskLevel.HIGH
            assert (await api.status(fresh)).status_code == 401
        finally:
            # Graph's riskLastUpdatedDateTime has whole seconds, and a report of the same
            # second as "high" would lose the tie (the stores' rule: the more severe wins).
            await asyncio.sleep(1.1)
            await asyncio.to_thread(idp.admin.set_user_risk, idp.seed.user.object_id, "none")
        await bridge.sync_once()
        assert api.store.risk(user) is None
