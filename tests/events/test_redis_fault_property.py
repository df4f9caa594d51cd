"""Property: whatever writes fail (before Redis ran them, or after, with the reply lost), on
whichever replica, every replica converges on the state the ordering rule gives, and so does a
replica that starts afterwards."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from _redis_helpers import eventually
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_store_contract import described, events, expected_state, observed

from cae_sdk.events._model import Event
from cae_sdk.events.redis import RedisEventStore

pytestmark = pytest.mark.redis

FAULTS = st.sampled_from(["ok", "ok", "before", "after"])


def _inject(store: RedisEventStore, faults: list[str]) -> None:
    real = store._write

    async def faulty(event: Event, *, client: Any = None) -> bool:
        mode = faults.pop(0) if faults and client is None else "ok"
        if mode == "before":
            raise asyncio.TimeoutError  # Redis never ran it
        result = await real(event, client=client)
        if mode == "after":
            raise asyncio.TimeoutError  # Redis ran it; the reply was lost
        return result

    store._write = faulty  # type: ignore[method-assign]


def test_failed_writes_on_any_replica_still_converge(redis_url: str) -> None:
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        writes=st.lists(st.tuples(events, st.booleans(), FAULTS), min_size=1, max_size=10),
    )
    def check(writes: list[tuple[Event, bool, str]]) -> None:
        want = described(expected_state([event for event, _, _ in writes]))

        async def run() -> None:
            prefix = f"cae-faults-{uuid.uuid4().hex[:10]}:"
            opts: dict[str, Any] = {"prefix": prefix, "reconnect_delay": 0.02}
            a, b = RedisEventStore(redis_url, **opts), RedisEventStore(redis_url, **opts)
            stores = [a, b]
            try:
                for store in stores:
                    await store.start()
                faults = {id(a): [f for _, on_a, f in writes if on_a], id(b): []}
                faults[id(b)] = [f for _, on_a, f in writes if not on_a]
                _inject(a, faults[id(a)])
                _inject(b, faults[id(b)])
                for event, on_a, _ in writes:
                    await (a if on_a else b).apply(event)  # queue mode: never raises here
                converged = await eventually(
                    lambda: (
                        all(s.healthy and s.queued == 0 for s in stores)
                        and all(observed(s) == want for s in stores)
                    ),
                    10,
                )
                assert converged, [observed(s) for s in stores]
                late = RedisEventStore(redis_url, **opts)
                stores.append(late)
                await late.start()
                assert observed(late) == want
            finally:
                for store in stores:
                    await store.close()
                from redis.asyncio import Redis

                raw = Redis.from_url(redis_url)
                keys = [k async for k in raw.scan_iter(match=f"{prefix}*", count=1000)]
                if keys:
                    await raw.delete(*keys)
                await raw.aclose()

        asyncio.run(run())

    check()
