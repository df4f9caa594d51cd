"""RedisEventStore against real Redis: mirrors converge, newest wins, outages lose nothing."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from _redis_helpers import eventually, throwaway_redis
from redis.asyncio import Redis

from cae_sdk.core.errors import ConfigurationError, StoreUnavailable
from cae_sdk.core.locations import NamedLocation
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import EventStore, RevocationEvent, RiskEvent, RiskLevel
from cae_sdk.events._model import Event, event_to_dict
from cae_sdk.events.redis import RedisEventStore

pytestmark = pytest.mark.redis

TID = "t1"
StoreFactory = Callable[..., RedisEventStore]


@pytest.fixture
async def make_store(redis_url: str) -> AsyncIterator[StoreFactory]:
    prefix = f"cae-test-{uuid.uuid4().hex[:12]}:"
    stores: list[RedisEventStore] = []

    def factory(**kw: object) -> RedisEventStore:
        kw.setdefault("prefix", prefix)
        store = RedisEventStore(kw.pop("url", redis_url), **kw)  # type: ignore[arg-type]
        stores.append(store)
        return store

    yield factory
    cleaner = Redis.from_url(redis_url)
    keys = [k async for k in cleaner.scan_iter(match=f"{prefix}*")]
    if keys:
        await cleaner.delete(*keys)
    await cleaner.aclose()
    for store in stores:
        await store.close()


async def test_two_mirrors_converge_and_keep_only_the_newest(
    make_store: StoreFactory, redis_url: str
) -> None:
    a, b = make_store(), make_store()
    await a.start()
    await b.start()
    assert isinstance(a, EventStore) and a.healthy and b.healthy
    heard: list[object] = []
    b.subscribe(heard.append)
    user = SubjectKey.user(TID, "u1")
    now = int(time.time())
    assert await a.revoke_user(TID, "u1", at=now - 10)
    assert await eventually(lambda: b.watermark(user) == now - 10)
    assert not await b.revoke_user(TID, "u1", at=now - 20)  # older: refused everywhere
    assert await b.revoke_user(TID, "u1", at=now)
    assert await eventually(lambda: a.watermark(user) == now)
    assert a.watermark(user) == b.watermark(user) == now
    await a.set_risk(user, "high")
    await a.set_named_locations([NamedLocation.from_cidrs("hq", "HQ", ["10.0.0.0/8"])])
    assert await eventually(
        lambda: b.risk(user) is RiskLevel.HIGH and len(b.named_locations()) == 1
    )
    assert [type(e).__name__ for e in heard] == [
        "RevocationEvent",
        "RevocationEvent",
        "RiskEvent",
        "LocationsEvent",
    ]
    # Redis holds one hash per subject with the watermark lifetime as TTL.
    raw = Redis.from_url(redis_url)
    ttl = await raw.ttl(f"{a.prefix}wm:{user}")
    await raw.aclose()
    assert 0 < ttl <= 28 * 3600 + 600


async def test_risk_ordering_and_reset(make_store: StoreFactory) -> None:
    a, b = make_store(), make_store()
    await a.start()
    await b.start()
    user = SubjectKey.user(TID, "u2")
    assert await a.apply(RiskEvent(user, RiskLevel.HIGH, 100))
    assert await a.apply(RiskEvent(user, RiskLevel.NONE, 200))
    assert not await b.apply(RiskEvent(user, RiskLevel.HIGH, 150))  # late, older: ignored
    assert await eventually(lambda: b.risk(user) is None and a.risk(user) is None)


async def test_late_joiner_resyncs_before_reporting_healthy(make_store: StoreFactory) -> None:
    a = make_store()
    await a.start()
    await a.revoke_service_principal(TID, "app-1", at=int(time.time()))
    await a.set_risk(SubjectKey.user(TID, "u3"), "medium")
    c = make_store()
    await c.start()
    assert c.healthy
    assert c.watermark(SubjectKey.service_principal(TID, "app-1")) is not None
    assert c.risk(SubjectKey.user(TID, "u3")) is RiskLevel.MEDIUM


async def test_a_failing_listener_does_not_end_the_subscription(make_store: StoreFactory) -> None:
    a, b = make_store(), make_store()
    await a.start()
    await b.start()

    def broken(event: object) -> None:
        raise RuntimeError("observer bug")

    b.subscribe(broken)
    now = int(time.time())
    assert await a.revoke_user(TID, "u4", at=now - 10)
    assert await eventually(lambda: b.watermark(SubjectKey.user(TID, "u4")) == now - 10)
    # The listener raised inside b's subscription loop; b still hears the next event.
    assert await a.revoke_user(TID, "u5", at=now)
    assert await eventually(lambda: b.watermark(SubjectKey.user(TID, "u5")) == now)
    assert b.healthy
    assert await b.revoke_user(TID, "u6", at=now)  # a local write is not failed by it either


async def test_apply_reports_a_change_its_own_stream_entry_reached_first(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    await store.start()
    write = store._write

    async def publication_first(event: Event, **kw: Any) -> bool:
        # The follower may read our own stream entry before the script's reply resumes
        # apply(): the mirror already holds the event when apply() looks at it.
        written = await write(event, **kw)
        store._follower._apply_raw(json.dumps(event_to_dict(event)).encode())
        return written

    store._write = publication_first  # type: ignore[method-assign]
    heard: list[Event] = []
    store.subscribe(heard.append)
    assert await store.revoke_user(TID, "u7", at=int(time.time()))
    assert len(heard) == 1  # notified once, by whichever path applied it first


async def test_a_client_passed_in_stays_the_callers(
    make_store: StoreFactory, redis_url: str
) -> None:
    client = Redis.from_url(redis_url)
    # The URL points nowhere: everything must go through the client that was passed in.
    store = make_store(url="redis://127.0.0.1:1/0", client=client, startup_timeout=2.0)
    try:
        await store.start()
        assert store.healthy
        await store.close()
        await store.start()  # restart: still the caller's client, not one built from the URL
        assert store.healthy
        await store.close()
        assert await client.ping()
    finally:
        await client.aclose()


async def test_remember_once_and_cursors_are_shared(make_store: StoreFactory) -> None:
    a, b = make_store(), make_store()
    await a.start()
    await b.start()
    assert await a.remember_once("jti-1", 60)
    assert not await b.remember_once("jti-1", 60)
    await a.set_cursor("graph:users", "https://graph/delta?token=1")
    assert await b.get_cursor("graph:users") == "https://graph/delta?token=1"
    await b.set_cursor("graph:users", None)
    assert await a.get_cursor("graph:users") is None


async def test_unreachable_redis_in_raise_mode_fails_loudly(make_store: StoreFactory) -> None:
    from _redis_helpers import free_port

    store = make_store(
        url=f"redis://127.0.0.1:{free_port()}/0", on_unavailable="raise", startup_timeout=0.2
    )
    await store.start()
    assert not store.healthy
    with pytest.raises(StoreUnavailable):
        await store.revoke_user(TID, "u1")
    with pytest.raises(StoreUnavailable):
        await store.remember_once("k", 10)
    with pytest.raises(StoreUnavailable):
        await store.get_cursor("c")
    with pytest.raises(ConfigurationError):
        RedisEventStore("redis://x", on_unavailable="drop")  # type: ignore[arg-type]


async def test_queue_is_bounded(make_store: StoreFactory) -> None:
    from _redis_helpers import free_port

    store = make_store(url=f"redis://127.0.0.1:{free_port()}/0", max_queue=2, startup_timeout=0.1)
    await store.start()
    assert await store.revoke_user(TID, "q1", at=int(time.time()))
    assert await store.revoke_user(TID, "q2", at=int(time.time()))
    assert store.queued == 2 and store.watermark(SubjectKey.user(TID, "q1")) is not None
    with pytest.raises(StoreUnavailable):
        await store.revoke_user(TID, "q3", at=int(time.time()))


async def test_redis_killed_and_restarted_under_load() -> None:
    """Writers keep revoking on two replicas while Redis dies and comes back empty."""
    with throwaway_redis() as server:
        opts = {"prefix": "load:", "reconnect_delay": 0.05}
        a = RedisEventStore(server.url, **opts)  # type: ignore[arg-type]
        b = RedisEventStore(server.url, **opts)  # type: ignore[arg-type]
        await a.start()
        await b.start()
        now = int(time.time())
        written: list[SubjectKey] = []
        queued_during_outage: list[int] = []

        async def writer(store: RedisEventStore, name: str) -> None:
            for i in range(150):
                subject = SubjectKey.user(TID, f"{name}-{i}")
                await store.apply(RevocationEvent(subject, now, "load"))
                written.append(subject)
                await asyncio.sleep(0.002)

        async def chaos() -> None:
            await asyncio.sleep(0.1)
            server.kill()
            assert await eventually(lambda: not a.healthy and not b.healthy, 3)
            await asyncio.sleep(0.2)
            queued_during_outage.append(a.queued + b.queued)
            server.start()

        try:
            await asyncio.gather(writer(a, "a"), writer(b, "b"), chaos())
            assert len(written) == 300
            assert queued_during_outage[0] > 0  # the outage really happened mid-load
            assert await eventually(lambda: a.healthy and b.healthy, 10)
            converged = await eventually(
                lambda: all(a.watermark(s) == now and b.watermark(s) == now for s in written), 10
            )
            missing_a = [str(s) for s in written if a.watermark(s) != now]
            missing_b = [str(s) for s in written if b.watermark(s) != now]
            assert converged, (missing_a, missing_b, a.queued, b.queued)
            assert a.queued == 0 and b.queued == 0
            # A replica that starts now finds every revocation in Redis.
            c = RedisEventStore(server.url, **opts)  # type: ignore[arg-type]
            await c.start()
            missing = [s for s in written if c.watermark(s) != now]
            await c.close()
            assert missing == []
        finally:
            await a.close()
            await b.close()


def test_write_layout_is_pure_and_orders_by_kind() -> None:
    from cae_sdk.events._model import order_key
    from cae_sdk.events._redis_layout import RedisKeys, write_for

    keys = RedisKeys("p:")
    user = SubjectKey.user(TID, "u")
    wm = write_for(RevocationEvent(user, 1_000, "r"), keys, 100, now=1_050)
    assert wm is not None and wm.keys == [f"p:wm:{user}", "p:stream"]
    assert wm.args[0] == order_key(RevocationEvent(user, 1_000, "r")) and wm.args[1] == 50
    assert wm.args[3:] == [100, 1_000]
    assert write_for(RevocationEvent(user, 1_000, "r"), keys, 100, now=1_101) is None
    assert write_for(RevocationEvent(user, 1_000, "r"), keys, 100, now=1_100).args[1] == 1  # type: ignore[union-attr]
    high = write_for(RiskEvent(user, RiskLevel.HIGH, 5), keys, 100, now=0)
    cleared = write_for(RiskEvent(user, RiskLevel.NONE, 6), keys, 100, now=0)
    assert high is not None and high.args[1] == 0  # kept until changed
    assert cleared is not None and cleared.args[1] == 100


def test_catch_up_plan_resumes_reloads_or_writes_back() -> None:
    from cae_sdk.events._redis_layout import StreamId, plan_catchup, stream_info

    def plan(**kw: Any) -> tuple[bool, bool, str]:
        args: dict[str, Any] = {
            "seen": StreamId(100, 0), "written": None, "our_epoch": "e1", "epoch": "e1",
            "last": StreamId(120, 0), "first": StreamId(50, 0), "deleted": StreamId(0, 0),
            "away": 10.0, "retention": 100_000,
        }  # fmt: skip
        args.update(kw)
        result = plan_catchup(**args)
        return result.write_back, result.snapshot, str(result.position)

    long = {"away": 100_000.0}
    assert plan() == (False, False, "100-0")  # position still in the stream: resume
    assert plan(seen=None, our_epoch=None) == (False, True, "120-0")  # first sync
    assert plan(epoch="e2") == (True, True, "120-0")  # Redis lost its data
    assert plan(last=StreamId(90, 0)) == (True, True, "90-0")  # failover lost our entries
    assert plan(written=StreamId(130, 0)) == (True, True, "120-0")  # ... or our own write
    assert plan(deleted=StreamId(101, 0)) == (False, True, "120-0")  # XDEL after us
    # Away for less than the retention: nothing we missed can have been trimmed yet.
    assert plan(first=StreamId(110, 0)) == (False, False, "100-0")
    assert plan(first=None) == (False, False, "100-0")
    # Away for about a retention: a first entry past us, or none left, means reload.
    assert plan(first=StreamId(110, 0), **long) == (False, True, "120-0")
    assert plan(first=None, **long) == (False, True, "120-0")
    assert plan(first=None, last=StreamId(100, 0), **long) == (False, False, "100-0")  # idle
    assert plan(**long) == (False, False, "100-0")  # our position is still in the stream
    info = {
        b"last-generated-id": b"5-1",
        b"first-entry": (b"2-0", {}),
        b"max-deleted-entry-id": b"0-0",
    }
    assert stream_info(info) == (StreamId(5, 1), StreamId(2, 0), StreamId(0, 0))
    assert stream_info({"last-generated-id": "0-0", "first-entry": None}) == (
        StreamId(0, 0),
        None,
        None,
    )


async def test_a_remember_once_whose_reply_was_lost_does_not_block_the_redelivery(
    make_store: StoreFactory,
) -> None:
    store = make_store(on_unavailable="raise", reconnect_delay=0.05)
    await store.start()
    real_call = store._call

    async def reply_lost(call: Any, **kw: Any) -> Any:
        await real_call(call, **kw)  # Redis ran the SET ...
        raise asyncio.TimeoutError  # ... but its reply never came back

    store._call = reply_lost  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailable):
        await store.remember_once("ssf:jti-lost", 600)
    store._call = real_call  # type: ignore[method-assign]
    assert await eventually(lambda: store.healthy, 5)
    assert await store.remember_once("ssf:jti-lost", 600)  # the redelivery is accepted


async def test_hashes_written_by_0_1_keep_their_time(
    make_store: StoreFactory, redis_url: str
) -> None:
    store = make_store()
    await store.start()
    user = SubjectKey.user(TID, "legacy")
    key = f"{store.prefix}wm:{user}"
    legacy = RevocationEvent(user, 2_000, "old layout")
    raw = Redis.from_url(redis_url)
    await raw.hset(key, mapping={"order": 2_000, "event": json.dumps(event_to_dict(legacy))})
    now = 2_100
    store._clock = lambda: now  # type: ignore[method-assign]
    assert not await store.apply(RevocationEvent(user, 1_500, "older"))  # 0.1's time holds
    assert not await store.apply(RevocationEvent(user, 2_000, "same"))
    assert await store.apply(RevocationEvent(user, 2_050, "newer"))
    fields = await raw.hgetall(key)
    await raw.aclose()
    assert b"order" not in fields and b"ord" in fields  # rewritten in the new layout
