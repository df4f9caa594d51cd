"""Graph bridge: pure diff rules, and the bridge against a local Graph stub over uvicorn."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx
import pytest
import respx
from _graph_stub import GraphStub
from _redis_helpers import eventually
from _ssf_helpers import running

from cae_sdk.core.errors import EventSourceError, TokenAcquisitionError
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import InMemoryEventStore, RevocationEvent, RiskLevel
from cae_sdk.events.graph import (
    DeltaReset,
    GraphBridge,
    GraphBridgeOptions,
    GraphClient,
    parse_graph_time,
    risky_principal_events,
    service_principal_events,
    user_events,
)

TID = "tenant-1"
NOW = 1_800_000_000


def test_parse_graph_time() -> None:
    assert parse_graph_time("2027-01-15T08:00:00+01:00") == parse_graph_time("2027-01-15T07:00:00Z")
    assert parse_graph_time("1970-01-01T00:01:00Z") == 60
    assert parse_graph_time("1970-01-01T00:01:00.1234567Z") == 60
    assert parse_graph_time("1970-01-01T00:01:00") == 60
    assert parse_graph_time("not a date") is None
    assert parse_graph_time(None) is None


def test_user_rules() -> None:
    user = SubjectKey.user(TID, "u1")
    assert user_events({"id": "u1", "accountEnabled": True}, tenant_id=TID, now=NOW) == ()
    assert user_events({"id": "u1", "accountEnabled": False}, tenant_id=TID, now=NOW) == (
        RevocationEvent(user, NOW, "user_disabled", "graph"),
    )
    assert (
        user_events({"id": "u1", "@removed": {"reason": "changed"}}, tenant_id=TID, now=NOW)[
            0
        ].reason
        == "user_deleted"
    )
    moved = user_events(
        {
            "id": "U1",
            "signInSessionsValidFromDateTime": "1970-01-01T00:01:40Z",
            "lastPasswordChangeDateTime": "1970-01-01T00:00:50Z",
        },
        tenant_id=TID,
        now=NOW,
    )
    assert [(e.not_before, e.reason) for e in moved] == [
        (100, "sessions_revoked"),
        (50, "credential_change"),
    ]  # type: ignore[union-attr]
    future = user_events(
        {"id": "u1", "signInSessionsValidFromDateTime": "2100-01-01T00:00:00Z"},
        tenant_id=TID,
        now=NOW,
    )
    assert future[0].not_before == NOW  # type: ignore[union-attr]
    assert user_events({"accountEnabled": False}, tenant_id=TID, now=NOW) == ()


def test_service_principal_and_risk_rules() -> None:
    disabled = service_principal_events(
        {"id": "sp-oid", "appId": "APP", "accountEnabled": False}, tenant_id=TID, now=NOW
    )
    assert {str(e.subject) for e in disabled} == {f"sp:{TID}:sp-oid", f"sp:{TID}:app"}  # type: ignore[union-attr]
    assert (
        service_principal_events({"id": "sp-oid", "accountEnabled": True}, tenant_id=TID, now=NOW)
        == ()
    )
    removed = service_principal_events({"id": "sp-oid", "@removed": {}}, tenant_id=TID, now=NOW)
    assert removed[0].reason == "sp_deleted"  # type: ignore[union-attr]

    def level(item: dict[str, object], minimum: RiskLevel = RiskLevel.MEDIUM) -> RiskLevel | None:
        events = risky_principal_events(
            item, tenant_id=TID, minimum=minimum, service_principal=False, now=NOW
        )
        return events[0].level if events else None  # type: ignore[union-attr]

    assert level({"id": "u", "riskLevel": "high", "riskState": "atRisk"}) is RiskLevel.HIGH
    assert level({"id": "u", "riskLevel": "low", "riskState": "atRisk"}) is RiskLevel.NONE
    assert level({"id": "u", "riskLevel": "high", "riskState": "remediated"}) is RiskLevel.NONE
    assert level({"id": "u", "riskLevel": "hidden"}) is None


@dataclass
class Env:
    stub: GraphStub
    store: InMemoryEventStore
    bridge: GraphBridge
    sleeps: list[float]


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    stub = GraphStub()
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    policies: list[list[dict[str, object]]] = []

    class Credential:  # duck-typed like cae_sdk's ConfidentialClientCredential
        def get_token(self, scopes: list[str]) -> str:
            assert scopes == [f"{stub.base_url}/.default"]
            return "graph-token"

    async with running(stub.app) as url, httpx.AsyncClient() as http:
        stub.base_url = url
        store = InMemoryEventStore()
        client = GraphClient(http, Credential(), base_url=url, sleep=fake_sleep)
        options = GraphBridgeOptions(
            minimum_risk=RiskLevel.MEDIUM, named_locations=True, policies=True
        )
        bridge = GraphBridge(
            store, client, tenant_id=TID, options=options, on_policies=policies.append
        )
        yield Env(stub, store, bridge, sleeps)


async def test_initial_sync_pages_and_persists_delta_links(env: Env) -> None:
    for i in range(5):
        env.stub.put("users", {"id": f"u{i}", "accountEnabled": i != 3, "displayName": "secret"})
    env.stub.put("servicePrincipals", {"id": "sp1", "appId": "app-1", "accountEnabled": False})
    env.stub.risky["riskyUsers"] = [
        {
            "id": "u1",
            "riskLevel": "high",
            "riskState": "atRisk",
            "riskLastUpdatedDateTime": "2027-01-01T00:00:00Z",
        }
    ]
    env.stub.risky["riskyServicePrincipals"] = [
        {"id": "x", "appId": "app-2", "riskLevel": "medium", "riskState": "atRisk"}
    ]
    env.stub.locations = [
        {
            "@odata.type": "#microsoft.graph.ipNamedLocation",
            "id": "hq",
            "displayName": "HQ",
            "isTrusted": True,
            "ipRanges": [{"cidrAddress": "10.0.0.0/8"}, {"cidrAddress": "2001:db8::/32"}],
        },
        {
            "@odata.type": "#microsoft.graph.countryNamedLocation",
            "id": "c",
            "countriesAndRegions": ["FR"],
        },
    ]
    report = await env.bridge.sync_once()
    assert report.seen["users"] == 5
    assert sum("$skiptoken" in r for r in env.stub.requests) == 2  # 3 pages of 2
    assert all("displayName" not in r for r in env.stub.requests)
    assert env.store.watermark(SubjectKey.user(TID, "u3")) is not None
    assert env.store.watermark(SubjectKey.user(TID, "u0")) is None
    assert env.store.watermark(SubjectKey.service_principal(TID, "app-1")) is not None
    assert env.store.risk(SubjectKey.user(TID, "u1")) is RiskLevel.HIGH
    assert env.store.risk(SubjectKey.service_principal(TID, "app-2")) is RiskLevel.MEDIUM
    assert [loc.id for loc in env.store.named_locations()] == ["hq"]
    cursor = await env.store.get_cursor(env.bridge.cursor_name("users"))
    assert cursor and "$deltatoken=" in cursor


async def test_incremental_changes_revoke(env: Env) -> None:
    env.stub.put("users", {"id": "u1", "accountEnabled": True})
    env.stub.put("users", {"id": "u2", "accountEnabled": True})
    env.stub.put("servicePrincipals", {"id": "sp1", "appId": "app-1", "accountEnabled": True})
    await env.bridge.sync_once()
    assert env.store.watermarks() == {}
    moved = datetime.fromtimestamp(time.time() - 60, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    env.stub.put("users", {"id": "u1", "signInSessionsValidFromDateTime": moved})
    env.stub.put("users", {"id": "u2", "lastPasswordChangeDateTime": moved})
    env.stub.remove("servicePrincipals", "sp1")
    env.stub.requests.clear()
    report = await env.bridge.sync_once()
    assert all("$deltatoken=" in r for r in env.stub.requests if "/delta" in r)
    assert report.seen["users"] == 2
    assert env.store.watermark(SubjectKey.user(TID, "u1")) == parse_graph_time(moved)
    assert env.store.watermark(SubjectKey.service_principal(TID, "sp1")) is not None


async def test_throttling_waits_for_retry_after(env: Env) -> None:
    env.stub.put("users", {"id": "u1", "accountEnabled": False})
    env.stub.throttle_next = 2
    await env.bridge.sync_once()
    assert env.sleeps == [0.0, 0.0]
    assert env.store.watermark(SubjectKey.user(TID, "u1")) is not None


async def test_expired_delta_link_resyncs_from_scratch(env: Env) -> None:
    env.stub.put("users", {"id": "u1", "accountEnabled": True})
    await env.bridge.sync_once()
    env.stub.expired_tokens.add(env.stub.version)
    env.stub.put("users", {"id": "u1", "accountEnabled": False})
    report = await env.bridge.sync_once()
    assert report.resets == 2  # users and servicePrincipals shared the expired token
    assert env.store.watermark(SubjectKey.user(TID, "u1")) is not None


async def test_wrong_token_is_an_event_source_error(env: Env) -> None:
    env.stub.token = "rotated"
    with pytest.raises(EventSourceError) as info:
        await env.bridge.sync_once()
    assert info.value.status == 401


async def test_background_sync_survives_a_failed_token_acquisition(env: Env) -> None:
    env.stub.put("users", {"id": "u1", "accountEnabled": False})
    calls: list[int] = []

    class FlakyCredential:
        def get_token(self, scopes: list[str]) -> str:
            calls.append(1)
            if len(calls) == 1:
                raise TokenAcquisitionError("identity provider unreachable")
            return "graph-token"

    async with httpx.AsyncClient() as http:
        client = GraphClient(http, FlakyCredential(), base_url=env.stub.base_url)
        options = GraphBridgeOptions(
            service_principals=False,
            risky_users=False,
            risky_service_principals=False,
            interval_seconds=0.01,
        )
        bridge = GraphBridge(env.store, client, tenant_id=TID, options=options)
        task = bridge.start()
        try:
            user = SubjectKey.user(TID, "u1")
            assert await eventually(lambda: env.store.watermark(user) is not None or task.done())
            assert not task.done()  # the failed acquisition was retried, not the loop's end
        finally:
            await bridge.stop()


async def test_links_outside_graph_never_get_the_token(env: Env) -> None:
    env.stub.put("users", {"id": "u1", "accountEnabled": False})
    # A cursor in the shared store that names another host (tampered, or a stale base URL) is
    # dropped like an expired delta link; the round starts again at Graph.
    await env.store.set_cursor(env.bridge.cursor_name("users"), "https://evil.test/v1.0/x")
    report = await env.bridge.sync_once()
    assert report.resets == 1
    assert env.store.watermark(SubjectKey.user(TID, "u1")) is not None
    cursor = await env.store.get_cursor(env.bridge.cursor_name("users"))
    assert cursor is not None and cursor.startswith(env.stub.base_url + "/")


@respx.mock
async def test_foreign_next_link_is_not_followed() -> None:
    base = "https://graph.test"
    foreign = respx.get("https://evil.test/v1.0/users").mock(
        return_value=httpx.Response(200, json={"value": []})
    )
    respx.get(f"{base}/v1.0/users").mock(
        return_value=httpx.Response(
            200, json={"value": [], "@odata.nextLink": "https://evil.test/v1.0/users"}
        )
    )
    async with httpx.AsyncClient() as http:
        client = GraphClient(http, "tok", base_url=base)
        with pytest.raises(EventSourceError):
            async for _ in client.pages("/v1.0/users"):
                pass
    assert not foreign.called


@respx.mock
async def test_edge_cases_with_respx() -> None:
    base = "https://graph.test"
    async with httpx.AsyncClient() as http:
        client = GraphClient(
            http, "tok", base_url=base, max_retries=1, sleep=lambda _: asyncio.sleep(0)
        )
        respx.get(f"{base}/v1.0/a").mock(return_value=httpx.Response(200, text="<html>"))
        with pytest.raises(EventSourceError, match="not JSON"):
            await client.get_page(client.url("/v1.0/a"))
        respx.get(f"{base}/v1.0/b").mock(
            return_value=httpx.Response(400, json={"error": {"code": "syncStateInvalid"}})
        )
        with pytest.raises(DeltaReset):
            await client.get_page(client.url("/v1.0/b"))
        respx.get(f"{base}/v1.0/c").mock(
            return_value=httpx.Response(429, headers={"Retry-After": "soon"})
        )
        with pytest.raises(EventSourceError) as info:
            await client.get_page(client.url("/v1.0/c"))
        assert info.value.status == 429
        respx.get(f"{base}/v1.0/d").mock(
            return_value=httpx.Response(200, json={"value": {"not": "a list"}})
        )
        with pytest.raises(EventSourceError, match="collection"):
            await client.get_page(client.url("/v1.0/d"))


async def test_the_bridge_loop_outlives_any_failure_and_a_long_outage(env: Env) -> None:
    """An unexpected error in a round (a policy callback's bug) ended the loop for good, and so
    did the backoff after about a thousand failed rounds (2.0 ** 1024 overflows)."""
    env.stub.put("users", {"id": "u1", "accountEnabled": False})
    rounds: list[int] = []

    def buggy_callback(policies: list[dict[str, object]]) -> None:
        rounds.append(1)
        if len(rounds) < 3:
            raise KeyError("the application's bug")

    async with httpx.AsyncClient() as http:
        client = GraphClient(http, "graph-token", base_url=env.stub.base_url)
        options = GraphBridgeOptions(
            service_principals=False, risky_users=False, risky_service_principals=False,
            policies=True, interval_seconds=0.01,
        )  # fmt: skip
        bridge = GraphBridge(
            env.store, client, tenant_id=TID, options=options, on_policies=buggy_callback
        )
        bridge.failures = 5_000  # Graph was away for days
        task = bridge.start()
        try:
            assert await eventually(lambda: len(rounds) >= 3 or task.done(), 10)
            assert not task.done()
            assert await eventually(lambda: bridge.failures == 0 or task.done(), 10)
        finally:
            await bridge.stop()
