"""Redis that comes back with an older copy of its data (a Sentinel failover that dropped the
newest writes, a restore from a backup) under the SAME epoch: the entries a replica saw or wrote
are gone, and another replica has already written after the loss, so the stream's last id no
longer tells. The replica that still holds them must notice and write them back."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from _redis_helpers import eventually, throwaway_redis
from redis.asyncio import Redis

from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import RevocationEvent
from cae_sdk.events._redis_layout import StreamId, plan_catchup
from cae_sdk.events.redis import RedisEventStore

pytestmark = pytest.mark.redis


async def _dump(client: Redis, prefix: str) -> dict[bytes, bytes]:
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    return {key: await client.dump(key) for key in keys}


async def _restore(client: Redis, prefix: str, dumped: dict[bytes, bytes]) -> None:
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    for key, value in dumped.items():
        await client.restore(key, 0, value)


async def test_entries_lost_behind_a_newer_write_are_written_back() -> None:
    prefix = "lost:"
    opts: dict[str, Any] = {"prefix": prefix, "reconnect_delay": 0.05}
    now = int(time.time())
    first, lost, after = (SubjectKey.user("t1", name) for name in ("first", "lost", "after"))
    with throwaway_redis() as server:
        admin = Redis.from_url(server.url)
        a, b = RedisEventStore(server.url, **opts), RedisEventStore(server.url, **opts)
        stores = [a, b]
        try:
            await a.start()
            await b.start()
            await a.apply(RevocationEvent(first, now, "x"))
            assert await eventually(lambda: b.watermark(first) == now)
            await b.close()  # b is away from here on
            backup = await _dump(admin, prefix)  # what a restored backup / a lagging replica has

            await a.apply(RevocationEvent(lost, now, "x"))  # Redis acknowledged it ...
            assert await eventually(lambda: a.healthy)
            await a.close()  # ... a goes away ...
            await _restore(admin, prefix, backup)  # ... and Redis comes back without it

            await b.start()  # b returns first and writes: the stream moves past a's entry
            await b.apply(RevocationEvent(after, now, "x"))
            await a.start()
            assert await eventually(lambda: a.healthy, 5)

            late = RedisEventStore(server.url, **opts)
            stores.append(late)
            await late.start()
            assert await eventually(lambda: late.healthy, 5)
            for store in (late, b):
                assert await eventually(lambda s=store: s.watermark(lost) == now, 5), store
                assert store.watermark(after) == now and store.watermark(first) == now
        finally:
            for store in stores:
                await store.close()
            await admin.aclose()


def test_a_missing_entry_within_the_stream_means_lost_data() -> None:
    args: dict[str, Any] = {
        "seen": StreamId(100, 0), "written": StreamId(105, 0), "our_epoch": "e", "epoch": "e",
        "last": StreamId(200, 0), "first": StreamId(50, 0), "deleted": None, "away": 5.0,
        "retention": 100_000,
    }  # fmt: skip
    assert not plan_catchup(**args).snapshot  # nothing checked: resume
    both = {"seen_present": True, "written_present": True}
    assert plan_catchup(**args, **both).reason == "resume"
    for gone in ({"seen_present": False}, {"written_present": False}):
        plan = plan_catchup(**args, **{**both, **gone})
        assert plan.write_back and plan.snapshot and plan.position == StreamId(200, 0)
    # Trimmed by age (older than a retention before the last entry, the first entry past
    # ours): no write back; away about a retention, reload.
    old = {"seen": StreamId(10, 0), "written": StreamId(20, 0), "first": StreamId(150_000, 0)}
    gone = {"seen_present": False, "written_present": False}
    old_ids = {**args, **old, "last": StreamId(200_000, 0), "retention": 100}
    aged = plan_catchup(**{**old_ids, "away": 1_000.0}, **gone)
    assert aged.snapshot and not aged.write_back
    # An old entry of ours trimmed while we stayed connected: resume, nothing to write back.
    assert plan_catchup(**{**old_ids, "away": 1.0}, **gone).reason == "resume"


@pytest.mark.parametrize("prefix", ["tenant?:", "tenant*:", "tenant[1]:"])
async def test_a_prefix_with_glob_characters_reads_only_its_own_keys(
    prefix: str, redis_url: str
) -> None:
    """SCAN MATCH is a glob: a prefix such as ``tenant?:`` loaded another deployment's
    watermarks (``tenant1:``) into its snapshot, and ``clear()`` deleted them."""
    now = int(time.time())
    other = RedisEventStore(redis_url, prefix="tenant1:")
    ours = RedisEventStore(redis_url, prefix=prefix)
    try:
        await other.start()
        await other.revoke_user("t1", "theirs", at=now)
        await ours.start()
        assert ours.healthy and ours.watermark(SubjectKey.user("t1", "theirs")) is None
        await ours.clear()
        fresh = RedisEventStore(redis_url, prefix="tenant1:")
        await fresh.start()
        assert fresh.watermark(SubjectKey.user("t1", "theirs")) == now  # still there
        await fresh.close()
    finally:
        await other.clear()
        await other.close()
        await ours.close()


async def test_a_foreign_key_of_another_type_does_not_keep_replicas_from_starting(
    redis_url: str,
) -> None:
    """A key under the store's prefix that is not one of its hashes (another writer, a version
    skew) made the snapshot's pipeline fail on every attempt: no new replica ever became
    healthy (closed mode: an outage). It is skipped, logged, like a malformed entry."""
    prefix = f"foreign-{uuid.uuid4().hex[:6]}:"
    now = int(time.time())
    writer = RedisEventStore(redis_url, prefix=prefix)
    admin = Redis.from_url(redis_url)
    try:
        await writer.start()
        await writer.revoke_user("t1", "good", at=now)
        await admin.set(f"{prefix}wm:user:t1:junk", "not a hash")
        await admin.rpush(f"{prefix}risk:user:t1:junk", "a list")
        await admin.sadd(f"{prefix}locations", "a set")
        late = RedisEventStore(redis_url, prefix=prefix, startup_timeout=3)
        await late.start()
        try:
            assert late.healthy
            assert late.watermark(SubjectKey.user("t1", "good")) == now
        finally:
            await late.close()
    finally:
        await writer.clear()
        await writer.close()
        await admin.aclose()


async def test_a_redis_that_may_evict_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    """An evicted watermark is a revocation every replica started afterwards never hears of,
    silently: the store says so at connect time (docs: maxmemory-policy noeviction)."""
    with throwaway_redis("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru") as server:
        store = RedisEventStore(server.url, prefix="evict:")
        with caplog.at_level("WARNING", logger="cae_sdk.events.redis"):
            await store.start()
        await store.close()
    assert any("allkeys-lru" in r.getMessage() for r in caplog.records)
