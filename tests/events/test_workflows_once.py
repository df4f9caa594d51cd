"""Remediation runs once per event for the whole fleet: every replica's store notifies every
event (its own, other replicas', and the whole state again when a replica starts and reads the
snapshot), and a remediator such as ``graph_session_revoker`` signed a remediated user out again
on every replica and at every restart. And a webhook that trickles cannot hold the workflows."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from _hostile import Hostile
from _redis_helpers import eventually
from _ssf_helpers import running
from redis.asyncio import Redis

from cae_sdk.events import InMemoryEventStore
from cae_sdk.events._model import Event
from cae_sdk.events._sinks import WebhookNotifier
from cae_sdk.events._workflows import Workflows
from cae_sdk.events.redis import RedisEventStore


@pytest.mark.redis
async def test_each_event_is_remediated_once_across_replicas_and_restarts(redis_url: str) -> None:
    prefix = f"cae-wf-{uuid.uuid4().hex[:8]}:"
    remediated: list[Event] = []
    records: list[dict[str, Any]] = []

    async def remediate(event: Event) -> None:
        remediated.append(event)

    async def sink(record: dict[str, Any]) -> None:
        records.append(record)

    def replica() -> tuple[RedisEventStore, Workflows]:
        store = RedisEventStore(redis_url, prefix=prefix, reconnect_delay=0.05)
        workflows = Workflows(sinks=[sink], remediators={"credential_compromise": remediate})
        workflows.attach(store)  # before start(), as an application's lifespan does
        return store, workflows

    fleet = [replica(), replica()]
    try:
        for store, _ in fleet:
            await store.start()
        a = fleet[0][0]
        await a.revoke_user("t1", "u1", reason="credential_compromise")
        assert await eventually(lambda: all(s.watermark(_u1()) is not None for s, _ in fleet))
        fleet.append(replica())  # a replica starts later and reads the whole state
        await fleet[-1][0].start()
        assert fleet[-1][0].watermark(_u1()) is not None
        for _, workflows in fleet:
            await workflows.drain()
        assert len(remediated) == 1
        assert [r["kind"] for r in records] == ["event"]
    finally:
        for store, workflows in fleet:
            await workflows.close()
            await store.close()
        cleaner = Redis.from_url(redis_url)
        keys = [k async for k in cleaner.scan_iter(match=f"{prefix}*")]
        if keys:
            await cleaner.delete(*keys)
        await cleaner.aclose()


def _u1() -> Any:
    from cae_sdk.core.subjects import SubjectKey

    return SubjectKey.user("t1", "u1")


async def test_a_trickling_webhook_cannot_hold_the_workflows() -> None:
    hostile = Hostile()
    async with running(hostile.app()) as url, httpx.AsyncClient() as http:
        notifier = WebhookNotifier(f"{url}/hook", "secret", http=http, retries=0, timeout=1.0)
        began = time.monotonic()
        await notifier({"kind": "event"})
        assert time.monotonic() - began < 5  # answered by its own deadline, not the peer's


async def test_the_workflow_queue_is_bounded() -> None:
    workflows = Workflows(max_queue=10)
    workflows.attach(InMemoryEventStore())
    for i in range(50):  # no await between them: the worker cannot run yet
        workflows.on_event(_revocation(i))
    assert workflows.dropped == 40
    await workflows.close()


def _revocation(i: int) -> Event:
    from cae_sdk.core.subjects import SubjectKey
    from cae_sdk.events import RevocationEvent

    return RevocationEvent(SubjectKey.user("t1", f"u{i}"), 1_000 + i, "x")


class _Unhealthy(InMemoryEventStore):
    @property
    def healthy(self) -> bool:
        return False


async def test_a_store_that_stays_unhealthy_is_waited_for_once_not_per_event() -> None:
    """Each event waited ``handled_wait`` for the store, one after the other: a backlog of
    10,000 workflows behind an outage would have taken more than a day."""
    handled: list[Event] = []

    async def remediate(event: Event) -> None:
        handled.append(event)

    workflows = Workflows(remediators={"x": remediate}, handled_wait=1.0)
    workflows.attach(_Unhealthy())
    began = time.monotonic()
    for i in range(6):
        workflows.on_event(_revocation(i))
    await workflows.drain()
    assert len(handled) == 6  # the store could not tell: every workflow ran
    assert time.monotonic() - began < 4  # one wait of 1 s, not six
    await workflows.close()
