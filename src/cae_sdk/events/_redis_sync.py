"""The replica side of :class:`~cae_sdk.events.redis.RedisEventStore`: catch up after a
(re)connect, follow the stream, load the whole state, write it back, and keep the instant the
replica last knew it was complete."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._background import within
from ._model import Event, RiskEvent, RiskLevel, event_from_json
from ._redis_layout import (
    ZERO_ID,
    Catchup,
    StreamId,
    plan_catchup,
    stream_info,
)

if TYPE_CHECKING:  # pragma: no cover
    from .redis import RedisEventStore

_log = logging.getLogger("cae_sdk.events.redis")

_BATCH = 2_000  # stream entries per read (one batch is applied without yielding the loop)
_SCAN = 1_000  # keys per SCAN step and per pipeline of HGETs


class StreamFollower:
    """Reads for one store; every call runs under the store's deadline."""

    def __init__(self, store: RedisEventStore) -> None:
        self._store = store
        self.position: StreamId = ZERO_ID
        self.epoch: str | None = None  # the data epoch of the last catch-up
        self._heard: float | None = None  # monotonic send time of the last read that was complete
        self._complete_at: float | None = None  # the same instant, remembered across outages

    # -- health --------------------------------------------------------------------------------

    def staleness(self) -> float:
        heard = self._heard
        return float("inf") if heard is None else max(0.0, time.monotonic() - heard)

    def reset_health(self) -> None:
        self._heard = None

    def away(self) -> float:
        """Seconds since the last read that reached the end of the stream (inf if none)."""
        at = self._complete_at
        return float("inf") if at is None else max(0.0, time.monotonic() - at)

    # -- applying ------------------------------------------------------------------------------

    def apply(self, event: Event) -> bool:
        changed = self._store._mirror.apply_local(event)
        if changed:
            self._store._mirror.notify(event)
        return changed

    def _apply_raw(self, raw: Any) -> None:
        event = event_from_json(raw)
        if event is None:
            _log.warning("ignoring a malformed event under %s", self._store.prefix)
        else:
            self.apply(event)

    # -- the stream ----------------------------------------------------------------------------

    async def stream_state(self) -> tuple[StreamId, StreamId | None, StreamId | None]:
        from redis.exceptions import ResponseError

        try:
            raw = await self._store._call(lambda c: c.xinfo_stream(self._store.keys.stream))
        except ResponseError as exc:
            if "no such key" not in str(exc).lower():
                raise
            return ZERO_ID, None, None
        return stream_info(raw)

    async def present(self, entry: StreamId | None) -> bool | None:
        """Whether the stream still holds ``entry`` (None when there is nothing to check)."""
        if entry is None or entry == ZERO_ID:
            return None
        stream, at = self._store.keys.stream, str(entry)
        found = await self._store._call(lambda c: c.xrange(stream, min=at, max=at, count=1))
        return bool(found)

    async def follow(self, *, first_read: Callable[[], None]) -> None:
        """Read the stream from ``position`` until cancelled or a call fails. The first read
        does not block (a replica that is up to date is ready at once); later reads block for
        the store's block time, so a replica hears from Redis even when nothing happens."""
        store = self._store
        client = store._client
        if client is None:
            raise ConnectionError("the store is closed")
        block: int | None = None
        # A failed write elsewhere takes the link down: come back through catch-up, which
        # flushes the queued writes, rather than follow on as if nothing had happened.
        while store._link_up and not store._closed:
            sent = time.monotonic()
            reply: Any = await within(
                client.xread({store.keys.stream: str(self.position)}, _BATCH, block),
                store._block + store._deadline,
            )
            entries = _entries(reply)
            for _, fields in entries:
                self._apply_raw(fields.get(b"e"))
            if entries:
                # Applied in order, all of them: the position moves once per batch.
                self.position = StreamId.parse(entries[-1][0])
            if len(entries) < _BATCH:
                # Everything committed before ``sent`` has been applied.
                self._heard = self._complete_at = sent
                first_read()
                block = max(1, int(store._block * 1000))
            else:
                block = None

    # -- (re)connecting ------------------------------------------------------------------------

    async def catch_up(self) -> None:
        """Reconnect: flush queued writes, decide how to get back to a complete state (resume,
        reload, or write back what Redis lost), and mark the link up. ``healthy`` follows once
        the stream has been read to its end."""
        store = self._store
        async with store._write_lock:
            epoch = await store._call(self._read_epoch)
            if epoch != self.epoch:
                await self._check_eviction()
            last, first, deleted = await self.stream_state()
            seen = self.position if self.epoch is not None else None
            plan: Catchup = plan_catchup(
                seen=seen,
                written=store._written,
                our_epoch=self.epoch,
                epoch=epoch,
                last=last,
                first=first,
                deleted=deleted,
                away=self.away(),
                retention=store._ttl,
                seen_present=await self.present(seen),
                written_present=await self.present(store._written),
            )
            if plan.snapshot:
                _log.info("Redis event store: %s; reading the whole state", plan.reason)
            if plan.write_back:
                await self.write_back()
                store._written = None  # what we wrote before is back; ids restart in a new stream
            if plan.snapshot:
                await self.load_snapshot()
            self.position = plan.position
            self.epoch = epoch
            # Writes queued meanwhile (apply() does not wait for the lock while the link is
            # down) go last: no await separates the empty queue from the link being up.
            await store._flush_queue()
            store._link_up = True

    async def _check_eviction(self) -> None:
        """Warn when Redis may evict keys: an evicted watermark is a revocation forgotten by
        every replica that starts afterwards, and nothing tells. Needs ``+info``; without
        it (or on a Redis that hides the setting) nothing is checked."""
        from redis.exceptions import RedisError

        try:
            info = await self._store._call(lambda c: c.info("memory"))
        except RedisError:
            return
        policy = str(info.get("maxmemory_policy", "noeviction"))
        if policy != "noeviction" and int(info.get("maxmemory", 0) or 0) > 0:
            _log.warning(
                "Redis maxmemory-policy is %s: evicted watermarks are revocations forgotten; "
                "configure noeviction for the event store",
                policy,
            )

    async def _read_epoch(self, client: Any) -> str:
        """The data epoch, created when missing (a new or emptied Redis)."""
        meta = self._store.keys.meta
        await client.hsetnx(meta, "epoch", secrets.token_hex(8))
        value = await client.hget(meta, "epoch")
        return value.decode() if isinstance(value, bytes) else str(value)

    # -- the whole state -----------------------------------------------------------------------

    async def load_snapshot(self) -> None:
        """Merge every state key into the mirror (missed events are notified). A risk the mirror
        holds that Redis no longer has was cleared and its "none" expired: dropped here."""
        store = self._store
        seen_risk: set[Any] = set()
        for pattern in store.keys.state_patterns:
            cursor: Any = 0
            while True:
                cursor, keys = await store._call(scan_step(cursor, pattern), bulk=True)
                if keys:
                    for raw in await store._call(hget_events(keys), bulk=True):
                        if isinstance(raw, Exception):
                            # A key of another type under our prefix (another writer): like a
                            # malformed entry, skipped. Raised, it failed every catch-up.
                            _log.warning("ignoring a foreign key under %s: %s", store.prefix, raw)
                            continue
                        event = event_from_json(raw)
                        if raw is None:
                            continue  # expired between SCAN and HGET
                        if event is None:
                            _log.warning("ignoring a malformed state key under %s", store.prefix)
                            continue
                        if isinstance(event, RiskEvent):
                            seen_risk.add(event.subject)
                        self.apply(event)
                if int(cursor) == 0:
                    break
        for event in store._mirror.state_events():
            if (
                isinstance(event, RiskEvent)
                and event.subject not in seen_risk
                and store._mirror.drop_risk(event.subject)
            ):
                store._mirror.notify(RiskEvent(event.subject, RiskLevel.NONE, event.at))
        from redis.exceptions import ResponseError

        try:
            raw = await store._call(lambda c: c.hget(store.keys.locations, "event"))
        except ResponseError as exc:  # not a hash: another writer's key
            _log.warning("ignoring a foreign key under %s: %s", store.prefix, exc)
            raw = None
        if raw is not None:
            self._apply_raw(raw)

    async def write_back(self) -> None:
        """Redis lost data: write the mirror's state back. The script keeps only the winner of
        each piece of state, so this is idempotent, and every replica may do it at once."""
        store = self._store
        events = store._mirror.state_events()
        for start in range(0, len(events), _SCAN):
            chunk = events[start : start + _SCAN]
            await store._call(_write_all(store, chunk), bulk=True)
        if events:
            _log.info("wrote %d pieces of state back to Redis", len(events))


def _entries(reply: Any) -> list[Any]:
    """The entries of one stream from an XREAD reply (a list in RESP2, a map in RESP3)."""
    if not reply:
        return []
    if isinstance(reply, dict):
        return list(next(iter(reply.values()))[0])
    return list(reply[0][1])


# Calls for ``store._call`` (which runs them under the store's deadline).


def scan_step(cursor: Any, pattern: str, count: int = _SCAN) -> Callable[[Any], Awaitable[Any]]:
    """One ``SCAN`` step: ``(next cursor, keys)``."""

    def call(client: Any) -> Awaitable[Any]:
        return client.scan(cursor, match=pattern, count=count)  # type: ignore[no-any-return]

    return call


def hget_events(keys: list[Any]) -> Callable[[Any], Awaitable[list[Any]]]:
    """The ``event`` field of each state hash in ``keys`` (an exception for a key of another
    type, None for one that expired meanwhile)."""

    async def call(client: Any) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hget(key, "event")
        return list(await pipe.execute(raise_on_error=False))

    return call


def _write_all(store: RedisEventStore, events: list[Event]) -> Callable[[Any], Awaitable[None]]:
    async def call(client: Any) -> None:
        pipe = client.pipeline(transaction=False)
        for event in events:
            await store._write(event, client=pipe)
        await pipe.execute()

    return call
