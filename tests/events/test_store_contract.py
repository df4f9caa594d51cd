"""One contract, every store: the memory, SQLite and Redis stores pass the same tests.

* the same events in any order, any number of times, give the same state (ties included), on
  the replica that wrote them and on a replica that follows it;
* a write that failed left nothing behind and, retried, is applied;
* nothing is lost across a restart (SQLite, Redis);
* a watermark outlives the longest token lifetime (28 h) plus clock leeway;
* remember_once / forget;
* watermarks are listed a bounded page at a time, every one of them at least once;
* the generation moves after every change of state, on the writer and on every replica, and
  only then: the request path reuses an answer while it stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from _redis_helpers import eventually, throwaway_redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cae_sdk.core.errors import StoreUnavailable
from cae_sdk.core.locations import NamedLocation
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import (
    MAX_WATERMARK_PAGE,
    EventStore,
    InMemoryEventStore,
    LocationsEvent,
    RevocationEvent,
    RiskEvent,
    RiskLevel,
    SQLiteEventStore,
    WatermarkPage,
)
from cae_sdk.events._model import WATERMARK_TTL_SECONDS, Event, state_key, supersedes
from cae_sdk.events._store import encode_page_cursor

KINDS = ["memory", "sqlite", "redis"]
LONGEST_TOKEN = 28 * 3600  # Entra's longest CAE access token lifetime
LEEWAY = 300  # the validator's default clock leeway

Opener = Callable[..., Awaitable[EventStore]]


@contextlib.asynccontextmanager
async def backend(kind: str, redis_url: str) -> AsyncIterator[Opener]:
    """``open(**options)`` starts another store (replica, process) on one shared backend."""
    opened: list[EventStore] = []
    tmp = tempfile.mkdtemp(prefix="cae-contract-")
    prefix = f"cae-contract-{uuid.uuid4().hex[:10]}:"

    async def open_store(**options: Any) -> EventStore:
        store: EventStore
        if kind == "memory":
            store = InMemoryEventStore(**options)
        elif kind == "sqlite":
            store = SQLiteEventStore(Path(tmp) / "events.db", poll_interval=0.02, **options)
        else:
            from cae_sdk.events.redis import RedisEventStore

            store = RedisEventStore(redis_url, prefix=prefix, **options)
        await store.start()
        opened.append(store)
        return store

    try:
        yield open_store
    finally:
        for store in opened:
            await store.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if kind == "redis":
            from redis.asyncio import Redis

            raw = Redis.from_url(redis_url)
            keys = [k async for k in raw.scan_iter(match=f"{prefix}*", count=1000)]
            if keys:
                await raw.delete(*keys)
            await raw.aclose()


def _params(kinds: list[str]) -> list[Any]:
    return [pytest.param(k, marks=[pytest.mark.redis] if k == "redis" else []) for k in kinds]


# -- ordering: any order, any number of times, the same state --------------------------------

NOW = int(time.time())
SUBJECTS = [SubjectKey.user("t1", f"u{i}") for i in range(3)] + [SubjectKey.tenant("t2")]
PLACES = [
    (NamedLocation.from_cidrs("hq", "HQ", ["10.0.0.0/8"]),),
    (NamedLocation.from_cidrs("lab", "Lab", ["192.0.2.0/24", "2001:db8::/32"]),),
    (),
]
times = st.integers(NOW - 3, NOW)  # a narrow range: ties are frequent
events = st.one_of(
    st.builds(RevocationEvent, st.sampled_from(SUBJECTS), times, st.sampled_from(["a", "b"])),
    st.builds(RiskEvent, st.sampled_from(SUBJECTS), st.sampled_from(list(RiskLevel)), times),
    st.builds(LocationsEvent, st.sampled_from(PLACES), times),
)


def expected_state(history: list[Event]) -> dict[str, Event]:
    """The rule itself: per piece of state, the event with the greatest order key."""
    state: dict[str, Event] = {}
    for event in history:
        key = state_key(event)
        if supersedes(event, state.get(key)):
            state[key] = event
    return state


def observed(store: EventStore) -> tuple[Any, ...]:
    return (
        store.watermarks(),
        {s: store.risk(s) for s in SUBJECTS},
        store.named_locations(),
    )


def described(state: dict[str, Event]) -> tuple[Any, ...]:
    watermarks = {e.subject: e.not_before for e in state.values() if isinstance(e, RevocationEvent)}
    risk = {s: None for s in SUBJECTS}
    for event in state.values():
        if isinstance(event, RiskEvent) and event.level is not RiskLevel.NONE:
            risk[event.subject] = event.level
    locations = state.get("locations")
    return watermarks, risk, locations.locations if isinstance(locations, LocationsEvent) else ()


@pytest.mark.parametrize(
    ("kind", "examples"),
    [("memory", 150), ("sqlite", 25), pytest.param("redis", 20, marks=[pytest.mark.redis])],
)
def test_any_order_any_repetition_same_state(kind: str, examples: int, redis_url: str) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(history=st.lists(events, min_size=1, max_size=12), data=st.data())
    def check(history: list[Event], data: st.DataObject) -> None:
        replayed = data.draw(
            st.permutations(history + data.draw(st.lists(st.sampled_from(history))))
        )
        want = described(expected_state(history))

        async def run() -> None:
            async with backend(kind, redis_url) as open_store:
                writer = await open_store()
                follower = await open_store() if kind != "memory" else writer
                for event in replayed:
                    await writer.apply(event)
                assert observed(writer) == want
                assert await eventually(lambda: observed(follower) == want, 5), observed(follower)
                if kind != "memory":
                    late = await open_store()  # a replica that starts now reads the state
                    assert observed(late) == want

        asyncio.run(run())

    check()


@pytest.mark.parametrize("kind", _params(KINDS))
async def test_ties_follow_the_documented_rule(kind: str, redis_url: str) -> None:
    user = SUBJECTS[0]
    async with backend(kind, redis_url) as open_store:
        store = await open_store()
        assert await store.apply(RiskEvent(user, RiskLevel.HIGH, NOW))
        assert not await store.apply(RiskEvent(user, RiskLevel.NONE, NOW))  # a tie never clears
        assert not await store.apply(RiskEvent(user, RiskLevel.LOW, NOW))
        assert store.risk(user) is RiskLevel.HIGH
        assert await store.apply(RiskEvent(user, RiskLevel.NONE, NOW + 1))
        assert store.risk(user) is None
        assert not await store.apply(RiskEvent(user, RiskLevel.HIGH, NOW))  # no resurrection
        assert await store.apply(RevocationEvent(user, NOW, "first"))
        assert not await store.apply(RevocationEvent(user, NOW, "second"))  # same time, same state
        # Locations honour their time: an older set never replaces a newer one.
        assert await store.apply(LocationsEvent(PLACES[0], NOW))
        assert not await store.apply(LocationsEvent(PLACES[1], NOW - 10))
        assert store.named_locations() == PLACES[0]


# -- a failed write leaves nothing and can be retried -------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite"])
async def test_a_failed_sqlite_write_leaves_nothing_and_is_applied_on_retry(
    kind: str, redis_url: str
) -> None:
    async with backend(kind, redis_url) as open_store:
        store = await open_store(busy_timeout=0.05)
        other = await open_store()
        assert isinstance(store, SQLiteEventStore)
        lock = sqlite3.connect(store.path, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # another process holds the database
        event = RevocationEvent(SUBJECTS[0], NOW, "locked")
        with pytest.raises(StoreUnavailable):
            await store.apply(event)
        with pytest.raises(StoreUnavailable):
            await store.remember_once("jti-locked", 60)
        lock.execute("ROLLBACK")
        lock.close()
        assert store.watermark(SUBJECTS[0]) is None
        assert await store.remember_once("jti-locked", 60)  # the failed call recorded nothing
        assert await store.apply(event)
        assert await eventually(lambda: other.watermark(SUBJECTS[0]) == NOW)


@pytest.mark.redis
async def test_a_failed_redis_write_leaves_nothing_and_is_applied_on_retry() -> None:
    from cae_sdk.events.redis import RedisEventStore

    with throwaway_redis() as server:
        opts: dict[str, Any] = {"prefix": "retry:", "reconnect_delay": 0.05, "max_staleness": 1.5}
        store = RedisEventStore(server.url, on_unavailable="raise", **opts)
        other = RedisEventStore(server.url, **opts)
        await store.start()
        await other.start()
        try:
            # A SET arrives: remembered, then its write fails (Redis died in between).
            assert await store.remember_once("ssf:jti-1", 600)
            server.kill()
            event = RevocationEvent(SUBJECTS[1], NOW, "retry")
            with pytest.raises(StoreUnavailable):
                await store.apply(event)
            assert store.watermark(SUBJECTS[1]) is None  # raise mode: nothing recorded
            with pytest.raises(StoreUnavailable):  # a listing is read from Redis, never stale
                await store.watermark_page(10)
            await store.forget("ssf:jti-1")  # held until Redis is back, in raise mode too
            with pytest.raises(StoreUnavailable):
                await store.remember_once("ssf:jti-1", 600)
            server.start()
            assert await eventually(lambda: store.healthy and other.healthy, 10)
            # The redelivery is new again, and the retried write is applied everywhere.
            assert await store.remember_once("ssf:jti-1", 600)
            assert await store.apply(event)
            assert await eventually(lambda: other.watermark(SUBJECTS[1]) == NOW)
        finally:
            await store.close()
            await other.close()


# -- restarts --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", _params(["sqlite", "redis"]))
async def test_nothing_is_lost_across_a_restart(kind: str, redis_url: str) -> None:
    history: list[Event] = [
        RevocationEvent(SUBJECTS[0], NOW - 5, "r"),
        RiskEvent(SUBJECTS[1], RiskLevel.MEDIUM, NOW - 4),
        RiskEvent(SUBJECTS[2], RiskLevel.HIGH, NOW - 6),
        RiskEvent(SUBJECTS[2], RiskLevel.NONE, NOW - 3),
        LocationsEvent(PLACES[1], NOW - 2),
    ]
    async with backend(kind, redis_url) as open_store:
        store = await open_store()
        for event in history:
            await store.apply(event)
        assert await store.remember_once("kept", 600)
        await store.set_cursor("graph:users", "link-1")
        before = observed(store)
        await store.close()
        again = await open_store()
        assert observed(again) == before == described(expected_state(history))
        assert not await again.remember_once("kept", 600)
        assert await again.get_cursor("graph:users") == "link-1"
        # The cleared risk's time survived too: an older "high" cannot resurrect it.
        assert not await again.apply(RiskEvent(SUBJECTS[2], RiskLevel.HIGH, NOW - 5))


# -- retention --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", _params(KINDS))
async def test_watermarks_outlive_the_longest_token(kind: str, redis_url: str) -> None:
    now = [float(NOW)]
    async with backend(kind, redis_url) as open_store:
        store = await open_store(clock=lambda: now[0])
        assert store.watermark_retention == WATERMARK_TTL_SECONDS
        assert store.watermark_retention >= LONGEST_TOKEN + LEEWAY
        # A revocation as old as the longest token (plus leeway) is still recorded and enforced.
        revoked_at = NOW - LONGEST_TOKEN - LEEWAY
        assert await store.apply(RevocationEvent(SUBJECTS[0], revoked_at, "old"))
        assert store.watermark(SUBJECTS[0]) == revoked_at
        # One past its retention is not: no token it could refuse is still accepted.
        assert not await store.apply(
            RevocationEvent(SUBJECTS[1], NOW - WATERMARK_TTL_SECONDS - 1, "too old")
        )
        now[0] += WATERMARK_TTL_SECONDS - LONGEST_TOKEN - LEEWAY
        assert store.watermark(SUBJECTS[0]) == revoked_at
        now[0] += 1
        assert store.watermark(SUBJECTS[0]) is None


# -- remember_once / forget --------------------------------------------------------------------


@pytest.mark.parametrize("kind", _params(KINDS))
async def test_remember_once_and_forget(kind: str, redis_url: str) -> None:
    now = [float(NOW)]
    async with backend(kind, redis_url) as open_store:
        store = await open_store(clock=lambda: now[0])
        peer = await open_store(clock=lambda: now[0]) if kind != "memory" else store
        assert await store.remember_once("jti-1", 60)
        assert not await store.remember_once("jti-1", 60)
        assert not await peer.remember_once("jti-1", 60)  # shared by every replica
        await store.forget("jti-1")
        assert await peer.remember_once("jti-1", 60)  # a redelivery is accepted again
        await store.forget("never-seen")  # forgetting what was never remembered is fine
        if kind != "redis":  # Redis expires keys on its own clock
            now[0] += 61
            assert await store.remember_once("jti-1", 60)


# -- listing a page at a time -----------------------------------------------------------------


async def _listing(
    store: EventStore, limit: int, between: Callable[[], Awaitable[None]] | None = None
) -> dict[SubjectKey, int]:
    """Every watermark the pages list, following ``next_cursor``; each page within ``limit``.
    ``between`` runs after the first page."""
    listed: dict[SubjectKey, int] = {}
    cursor: str | None = None
    for pages in range(1, 1000):
        page = await store.watermark_page(limit, cursor)
        assert len(page.watermarks) <= limit
        listed.update(page.watermarks)
        if page.next_cursor is None:
            return listed
        cursor = page.next_cursor
        if pages == 1 and between is not None:
            await between()
    raise AssertionError("the listing never ended")


@pytest.mark.parametrize("kind", _params(KINDS))
async def test_watermarks_are_listed_a_bounded_page_at_a_time(kind: str, redis_url: str) -> None:
    now = [float(NOW)]
    async with backend(kind, redis_url) as open_store:
        store = await open_store(clock=lambda: now[0])
        assert await store.watermark_page(10) == WatermarkPage((), None)
        subjects = [SubjectKey.user("t1", f"p{i}") for i in range(23)] + [SubjectKey.tenant("t9")]
        for age, subject in enumerate(subjects):
            await store.apply(RevocationEvent(subject, NOW - age, "listed"))
        # Other state and records of the store are not watermarks.
        await store.apply(RiskEvent(SUBJECTS[0], RiskLevel.HIGH, NOW))
        await store.apply(LocationsEvent(PLACES[0], NOW))
        await store.remember_once("jti-listed", 600)
        expected = {subject: NOW - age for age, subject in enumerate(subjects)}
        for limit in (1, 5, 24, MAX_WATERMARK_PAGE):
            assert await _listing(store, limit) == expected == store.watermarks()
        # Past its retention (the store's clock) a watermark is no longer listed.
        now[0] = NOW - 10 + WATERMARK_TTL_SECONDS + 0.5
        live = {subject: at for subject, at in expected.items() if at >= NOW - 9}
        assert len(live) == 10
        assert await _listing(store, 4) == live == store.watermarks()


@pytest.mark.parametrize("kind", _params(KINDS))
async def test_a_listing_misses_nothing_written_meanwhile(kind: str, redis_url: str) -> None:
    async with backend(kind, redis_url) as open_store:
        store = await open_store()
        first = {SubjectKey.user("t1", f"a{i}"): NOW - i for i in range(15)}
        later = {SubjectKey.user("t1", f"b{i}"): NOW - i for i in range(40)}
        for subject, at in first.items():
            await store.apply(RevocationEvent(subject, at, "first"))

        async def write_more() -> None:
            for subject, at in later.items():
                await store.apply(RevocationEvent(subject, at, "later"))

        listed = await _listing(store, 4, between=write_more)
        # Every watermark present throughout is listed; those written meanwhile may be.
        assert first.items() <= listed.items() <= (first | later).items()


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_subjects_of_any_length_are_listed_to_the_end(kind: str, redis_url: str) -> None:
    """A cursor does not grow with the subjects: 8,000-character subjects (an ``iss_sub`` of a
    long issuer URL, say) page to the end like short ones. Not Redis: its cursor carries the
    keys a SCAN step returned past the page (events/_redis_pages.py), which for such subjects
    can pass the cursor's 4,096 characters (a known limit, docs/events.md)."""
    async with backend(kind, redis_url) as open_store:
        store = await open_store()
        long = {SubjectKey.user("t1", f"{i}-" + "x" * 8000): NOW - i for i in range(7)}
        for subject, at in long.items():
            await store.apply(RevocationEvent(subject, at, "long"))
        assert (await _listing(store, 2)).items() >= long.items()


@pytest.mark.parametrize("kind", _params(KINDS))
async def test_a_page_size_or_cursor_the_store_did_not_issue_is_refused(
    kind: str, redis_url: str
) -> None:
    async with backend(kind, redis_url) as open_store:
        store = await open_store()
        await store.apply(RevocationEvent(SUBJECTS[0], NOW, "listed"))
        for limit in (0, -1, MAX_WATERMARK_PAGE + 1, True, 2.0, "5"):
            with pytest.raises(ValueError):
                await store.watermark_page(limit)  # type: ignore[arg-type]
        foreign = [encode_page_cursor(value) for value in ({"a": 1}, True, [0, []], 1.5)]
        for cursor in ("", "%%%", "x" * 10_000, *foreign):
            with pytest.raises(ValueError):
                await store.watermark_page(10, cursor)


@pytest.mark.parametrize("kind", _params(["sqlite", "redis"]))
@pytest.mark.parametrize("position", [-1, 2**63, 10**30, "1", None])
async def test_a_forged_position_is_a_bad_cursor_not_an_error(
    kind: str, redis_url: str, position: object
) -> None:
    """A number a shared store never issues (SQLite: past its 64-bit ``rowid``) was an
    ``OverflowError`` (a 500 from the admin listing, not a 400); the store stays healthy. (The
    memory store's positions are any int: its slots are hashes.)"""
    async with backend(kind, redis_url) as open_store:
        store = await open_store()
        await store.apply(RevocationEvent(SUBJECTS[0], NOW, "listed"))
        with pytest.raises(ValueError):
            await store.watermark_page(10, encode_page_cursor(position))
        assert store.healthy


@pytest.mark.redis
async def test_keys_a_redis_scan_step_returned_beyond_the_page_start_the_next_one(
    redis_url: str,
) -> None:
    async with backend("redis", redis_url) as open_store:
        store = await open_store()
        await store.apply(RevocationEvent(SUBJECTS[0], NOW, "carried"))
        # A cursor as a page leaves it when SCAN passed its COUNT: the SCAN done, a key left.
        carried = encode_page_cursor([None, [state_key(RevocationEvent(SUBJECTS[0], 0, ""))]])
        assert await store.watermark_page(5, carried) == WatermarkPage(((SUBJECTS[0], NOW),), None)
        # Only watermark keys of this store can be carried.
        for key in ("risk:x", "once:x", "cursor:x"):
            with pytest.raises(ValueError):
                await store.watermark_page(5, encode_page_cursor([None, [key]]))


@pytest.mark.redis
async def test_a_scan_position_redis_would_refuse_is_a_bad_cursor_not_an_outage(
    redis_url: str,
) -> None:
    """A SCAN cursor is an unsigned 64-bit number: Redis answers a larger one with an error,
    which the store took for a lost link (unhealthy: every request of the replica refused, about
    a second per forged cursor)."""
    async with backend("redis", redis_url) as open_store:
        store = await open_store()
        await store.apply(RevocationEvent(SUBJECTS[0], NOW, "listed"))
        for position in (2**64, 2**64 + 5, 10**30):
            with pytest.raises(ValueError):
                await store.watermark_page(5, encode_page_cursor([position, []]))
            assert store.healthy
        last = encode_page_cursor([2**64 - 1, []])  # the largest cursor Redis accepts
        assert len((await store.watermark_page(5, last)).watermarks) <= 1
        assert store.healthy


def test_every_store_implements_the_whole_protocol() -> None:
    from cae_sdk.events.redis import RedisEventStore

    with tempfile.TemporaryDirectory() as tmp:
        stores = [
            InMemoryEventStore(),
            SQLiteEventStore(Path(tmp) / "x.db"),
            RedisEventStore("redis://127.0.0.1:1/0"),
        ]
        for store in stores:
            assert isinstance(store, EventStore), type(store).__name__
            for member in (
                "forget",
                "staleness",
                "watermark_retention",
                "remember_once",
                "watermark_page",
                "generation",
            ):
                assert hasattr(store, member)


# -- generation: a new value after every change of state, never reused --------------------------


@pytest.mark.parametrize("kind", _params(KINDS))
async def test_the_generation_moves_with_every_change_of_state(kind: str, redis_url: str) -> None:
    user = SUBJECTS[0]
    async with backend(kind, redis_url) as open_store:
        store = await open_store()
        replica = await open_store()  # memory: a store of its own, the others: a replica
        seen = {store.generation, replica.generation}
        assert len(seen) == 2  # two stores never show the same value
        changes: list[tuple[Event, Callable[[EventStore], bool]]] = [
            (RevocationEvent(user, NOW, "r"), lambda s: s.watermark(user) == NOW),
            (RiskEvent(user, RiskLevel.HIGH, NOW), lambda s: s.risk(user) is RiskLevel.HIGH),
            (LocationsEvent(PLACES[0], NOW), lambda s: s.named_locations() == PLACES[0]),
            (RiskEvent(user, RiskLevel.NONE, NOW + 1), lambda s: s.risk(user) is None),
            (RevocationEvent(user, NOW + 5, "r"), lambda s: s.watermark(user) == NOW + 5),
        ]
        for event, applied in changes:
            followed = replica.generation
            assert await store.apply(event)
            assert applied(store)
            assert store.generation not in seen  # new, and the new state is readable with it
            seen.add(store.generation)
            settled = store.generation
            assert not await store.apply(event)  # no change of state: the same generation
            assert store.generation == settled
            if kind != "memory":  # the replica's state and generation move together
                assert await eventually(lambda: applied(replica))
                assert replica.generation != followed
                assert replica.generation not in seen
                seen.add(replica.generation)
