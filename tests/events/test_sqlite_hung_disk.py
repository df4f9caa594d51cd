"""A SQLite store on a disk that hangs (a stuck network share): its calls fail by their own
deadline, the store turns unhealthy, and nothing else in the process waits with it. Its blocking
calls ran in asyncio's default thread pool, where each hung call kept a thread: a handful of
them and every ``asyncio.to_thread`` of the process (credentials, audit logs, other stores)
queued behind the disk."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from cae_sdk.core.errors import StoreUnavailable
from cae_sdk.events import SQLiteEventStore


async def test_a_hung_disk_does_not_take_the_process_thread_pool_with_it(tmp_path: Path) -> None:
    store = SQLiteEventStore(
        tmp_path / "events.db", busy_timeout=0.2, poll_interval=60, call_timeout=1.0
    )
    await store.start()
    release = threading.Event()
    real_connection = store._connection

    def hung_connection():  # type: ignore[no-untyped-def]
        release.wait(30)  # the disk does not answer
        return real_connection()

    store._connection = hung_connection  # type: ignore[method-assign]
    try:
        calls = [asyncio.ensure_future(store.revoke_user("t1", f"u{i}")) for i in range(40)]
        await asyncio.sleep(0.1)
        # Everything else in the process still gets a thread at once.
        assert await asyncio.wait_for(asyncio.to_thread(lambda: 42), 2) == 42
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, StoreUnavailable) for r in results)
    finally:
        release.set()
        store._connection = real_connection  # type: ignore[method-assign]
        await store.close()


@pytest.mark.parametrize("calls", [1, 3])
async def test_the_store_works_again_once_the_disk_answers(tmp_path: Path, calls: int) -> None:
    store = SQLiteEventStore(
        tmp_path / "events.db", busy_timeout=0.2, poll_interval=0.05, call_timeout=1.0
    )
    await store.start()
    release = threading.Event()
    real_connection = store._connection

    def hung_connection():  # type: ignore[no-untyped-def]
        release.wait(30)
        return real_connection()

    store._connection = hung_connection  # type: ignore[method-assign]
    for i in range(calls):
        with pytest.raises(StoreUnavailable):
            await store.revoke_user("t1", f"hung-{i}")
    release.set()
    store._connection = real_connection  # type: ignore[method-assign]
    assert await store.revoke_user("t1", "after")
    await store.close()
