"""Replication figures of the Redis event store, measured in-process against a throwaway Redis.

* catch-up: a replica stops following, ``CATCHUP_EVENTS`` events are written, and it resumes
  from its stream position: time from ``start()`` to healthy with every event applied;
* partition: the link between a replica and Redis is frozen (a proxy that forwards nothing and
  closes nothing): time until the replica reports unhealthy;
* sizing: Redis memory per watermark (state key, stream entry) for ``SIZING_EVENTS`` revocations,
  scaled to a million.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import RevocationEvent
from cae_sdk.events.redis import RedisEventStore

# The freezable proxy the fault tests use (one implementation).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "events"))
from _redis_helpers import FreezableProxy, count_reloads

CATCHUP_EVENTS = int(os.environ.get("BENCH_CATCHUP_EVENTS", "100000"))
SIZING_EVENTS = int(os.environ.get("BENCH_SIZING_EVENTS", "100000"))
PARTITION_TRIALS = int(os.environ.get("BENCH_PARTITION_TRIALS", "3"))
MAX_STALENESS = 3.0


async def _bulk_revoke(store: RedisEventStore, count: int, tag: str) -> list[SubjectKey]:
    """Write ``count`` revocations through the store's own script, pipelined (fast set-up)."""
    assert store._client is not None
    now = int(time.time())
    subjects = [SubjectKey.user("bench-tenant", str(uuid.uuid4())) for _ in range(count)]
    for start in range(0, count, 2000):
        pipe = store._client.pipeline(transaction=False)
        for subject in subjects[start : start + 2000]:
            await store._write(RevocationEvent(subject, now, tag), client=pipe)
        await pipe.execute()
    return subjects


async def _until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if check():
            return
        await asyncio.sleep(0.001)
    raise RuntimeError("condition not reached")


async def catch_up(url: str) -> dict[str, Any]:
    prefix = f"bench-catchup-{uuid.uuid4().hex[:6]}:"
    writer = RedisEventStore(url, prefix=prefix)
    replica = RedisEventStore(url, prefix=prefix)
    await writer.start()
    await replica.start()
    await replica.close()  # it keeps its stream position and mirror
    subjects = await _bulk_revoke(writer, CATCHUP_EVENTS, "missed")
    reloads = count_reloads(replica)
    t0 = time.perf_counter()
    await replica.start()
    await _until(lambda: replica.healthy and replica.watermark(subjects[-1]) is not None)
    elapsed = time.perf_counter() - t0
    complete = all(replica.watermark(s) is not None for s in subjects)
    await replica.clear()
    await writer.close()
    await replica.close()
    return {"seconds": elapsed, "complete": complete, "resumed": not reloads}


async def partition(target_port: int) -> list[float]:
    detected: list[float] = []
    for _ in range(PARTITION_TRIALS):
        proxy = FreezableProxy(target_port)
        store = RedisEventStore(
            proxy.url, prefix=f"bench-part-{uuid.uuid4().hex[:6]}:", max_staleness=MAX_STALENESS
        )
        await store.start()
        assert store.healthy
        await asyncio.sleep(0.5)  # anywhere in its block cycle
        proxy.freeze()
        t0 = time.perf_counter()
        await _until(lambda s=store: not s.healthy)
        detected.append(time.perf_counter() - t0)
        proxy.close()
        await store.close()
    return detected


async def sizing(url: str) -> dict[str, float]:
    prefix = f"bench-size-{uuid.uuid4().hex[:6]}:"
    store = RedisEventStore(url, prefix=prefix)
    await store.start()
    client = store._client
    assert client is not None
    before = (await client.info("memory"))["used_memory"]
    await _bulk_revoke(store, SIZING_EVENTS, "sizing")
    after = (await client.info("memory"))["used_memory"]
    stream_bytes = await client.memory_usage(store.keys.stream) or 0
    length = await client.xlen(store.keys.stream)
    await store.clear()
    await store.close()
    total = (after - before) / SIZING_EVENTS
    per_stream_entry = stream_bytes / max(1, length)
    return {
        "total_per_watermark": total,
        "stream_per_entry": per_stream_entry,
        "state_per_watermark": total - per_stream_entry,
    }
