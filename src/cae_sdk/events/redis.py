"""``RedisEventStore``: events shared by every replica through Redis, read from a local mirror.

Writes run one Lua script each, which keeps only the newest state per subject, sets the TTL
(the watermark lifetime) and publishes the event on a channel in the same atomic step. Every
replica subscribes and applies what it hears to a local :class:`InMemoryEventStore`, so reads on
the request path never wait on Redis.

On every (re)connect a replica subscribes first, flushes writes it queued while Redis was away
(in order), then reads the whole state from Redis, and only then reports ``healthy``. Messages
published meanwhile wait in the subscription and are applied afterwards, so nothing is missed.
While Redis is unreachable, ``healthy`` is False (the middleware applies its fail mode) and
writes are queued (bounded) or refused with :class:`StoreUnavailable`: never silently dropped.

``redis`` is imported lazily: install the ``redis`` extra to use this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from ..core.errors import ConfigurationError, StoreUnavailable
from ..core.subjects import SubjectKey
from ._redis_layout import WRITE_SCRIPT, write_for
from .memory import InMemoryEventStore, MirroredReads
from .model import (
    WATERMARK_TTL_SECONDS,
    Event,
    LocationsEvent,
    RevocationEvent,
    RiskEvent,
    RiskLevel,
    event_from_dict,
)
from .store import EventStoreMixin

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisEventStore"]

_log = logging.getLogger("cae_sdk.events.redis")

OnUnavailable = Literal["queue", "raise"]


class RedisEventStore(MirroredReads, EventStoreMixin):
    """An :class:`~cae_sdk.events.EventStore` shared through Redis, mirrored in memory."""

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str = "cae:",
        watermark_ttl: int = WATERMARK_TTL_SECONDS,
        on_unavailable: OnUnavailable = "queue",
        max_queue: int = 10_000,
        reconnect_delay: float = 0.2,
        startup_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        client: Redis | None = None,
    ) -> None:
        if on_unavailable not in ("queue", "raise"):
            raise ConfigurationError("on_unavailable must be 'queue' or 'raise'")
        self.url = url or os.environ.get("CAE_REDIS_URL", "redis://127.0.0.1:6379/0")
        self.prefix = prefix
        self.channel = f"{prefix}events"
        self.on_unavailable = on_unavailable
        self._ttl = watermark_ttl
        self._max_queue = max_queue
        self._reconnect_delay = reconnect_delay
        self._startup_timeout = startup_timeout
        self._clock = clock
        self._client = client
        self._owns_client = client is None  # a client the caller passed is theirs to close
        self._mirror = InMemoryEventStore(watermark_ttl=watermark_ttl, clock=clock)
        self._queue: deque[Event] = deque()
        self._write_lock = asyncio.Lock()
        self._healthy = False
        self._ready = asyncio.Event()  # this start()'s first sync is done
        self._synced_once = False  # the mirror holds state Redis may have lost since
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._script: Any = None
        self._risk_subjects: set[SubjectKey] = set()
        self._errors: tuple[type[BaseException], ...] = (OSError,)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, subscribe and load the state; waits up to ``startup_timeout`` for Redis,
        then carries on unhealthy (the fail mode applies) while reconnecting in the background."""
        if self._task is not None:
            return
        if self._client is None:
            from redis.asyncio import Redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            self._client = Redis.from_url(
                self.url,
                socket_connect_timeout=1.0,
                socket_timeout=2.0,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=5,
            )
        from redis.exceptions import RedisError

        # Any Redis failure (connection, timeout, a refused command such as OOM) makes the store
        # unhealthy and queues or raises; the background loop retries and never dies of it.
        self._errors = (OSError, RedisError)
        self._script = self._client.register_script(WRITE_SCRIPT)
        self._closed = False
        self._ready.clear()  # a restart after close() waits for a fresh sync too
        self._task = asyncio.create_task(self._run(), name="cae-redis-event-store")
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._ready.wait(), self._startup_timeout)

    async def close(self) -> None:
        self._closed = True
        self._healthy = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> RedisEventStore:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def healthy(self) -> bool:
        return self._healthy

    @property
    def queued(self) -> int:
        """Writes waiting for Redis to come back."""
        return len(self._queue)

    # -- writes ------------------------------------------------------------------------------

    async def apply(self, event: Event) -> bool:
        """Write through to Redis (and the mirror at once); queue or raise while Redis is away."""
        if not self._healthy:
            return self._enqueue(event)
        try:
            async with self._write_lock:
                await self._flush_queue()
                written = await self._write(event)
        except self._errors as exc:
            self._mark_unhealthy(exc)
            return self._enqueue(event)
        if not written:
            return False  # Redis decides what is newest (another replica may have won)
        # The mirror may already hold it: the subscription can read our own publication before
        # the script's reply resumes this coroutine. Redis said it changed state, so it did.
        self._apply_mirror(event)
        return True

    async def remember_once(self, key: str, ttl_seconds: int) -> bool:
        if self._healthy:
            try:
                assert self._client is not None
                created = await self._client.set(
                    f"{self.prefix}once:{key}", b"1", nx=True, ex=max(1, int(ttl_seconds))
                )
                # Mirror it as well, so a later outage still remembers what we saw.
                await self._mirror.remember_once(key, ttl_seconds)
                return bool(created)
            except self._errors as exc:
                self._mark_unhealthy(exc)
        if self.on_unavailable == "raise":
            raise StoreUnavailable("Redis is unreachable: cannot deduplicate the event")
        # Queue mode: deduplicate on this replica until Redis is back.
        return await self._mirror.remember_once(key, ttl_seconds)

    async def forget(self, key: str) -> None:
        """Undo :meth:`remember_once` (an event that could not be applied must be accepted
        when it is delivered again)."""
        await self._mirror.forget(key)
        await self._command(lambda c: c.delete(f"{self.prefix}once:{key}"))

    async def get_cursor(self, name: str) -> str | None:
        value = await self._command(lambda c: c.get(f"{self.prefix}cursor:{name}"))
        return value.decode() if isinstance(value, bytes) else None

    async def set_cursor(self, name: str, value: str | None) -> None:
        key = f"{self.prefix}cursor:{name}"
        await self._command(lambda c: c.delete(key) if value is None else c.set(key, value))

    async def _command(self, call: Callable[[Redis], Any]) -> Any:
        if not self._healthy or self._client is None:
            raise StoreUnavailable("Redis is unreachable")
        try:
            return await call(self._client)
        except self._errors as exc:
            self._mark_unhealthy(exc)
            raise StoreUnavailable("Redis is unreachable") from exc

    def _enqueue(self, event: Event) -> bool:
        if self.on_unavailable == "raise":
            raise StoreUnavailable("Redis is unreachable; the event was not recorded")
        if len(self._queue) >= self._max_queue:
            raise StoreUnavailable("Redis is unreachable and the write queue is full")
        self._queue.append(event)
        # This replica enforces the event at once; the others get it when the queue flushes.
        return self._apply_mirror(event)

    def _apply_mirror(self, event: Event) -> bool:
        if isinstance(event, RiskEvent):
            self._risk_subjects.add(event.subject)
        changed = self._mirror.apply_local(event)
        if changed:
            self._mirror.notify(event)
        return changed

    async def _flush_queue(self) -> None:
        while self._queue:
            await self._write(self._queue[0])
            self._queue.popleft()

    async def _write(self, event: Event, *, client: Any = None) -> bool:
        write = write_for(event, self.prefix, self.channel, self._ttl, now=self._clock())
        if write is None:
            return False  # already older than the watermark lifetime
        result = await self._script(keys=[write.key], args=write.args, client=client)
        return bool(result)

    def _mark_unhealthy(self, exc: BaseException) -> None:
        if self._healthy:
            _log.warning(
                "Redis unreachable (%s); serving from the local mirror", type(exc).__name__
            )
        self._healthy = False

    # -- subscription and resync -------------------------------------------------------------

    async def _run(self) -> None:
        while not self._closed:
            try:
                await self._connect_and_listen()
            except asyncio.CancelledError:
                raise
            except self._errors as exc:
                self._mark_unhealthy(exc)
            await asyncio.sleep(self._reconnect_delay)

    async def _connect_and_listen(self) -> None:
        assert self._client is not None
        pubsub = self._client.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            async with self._write_lock:
                await self._flush_queue()
                if self._synced_once:
                    await self._reseed()
                await self._resync()
                # Writes queued while we resynced (they do not wait for the lock): flush them
                # too; no await separates the empty queue from ``healthy``.
                await self._flush_queue()
                self._healthy = True
            self._synced_once = True
            self._ready.set()
            _log.info("Redis event store in sync (%d watermarks)", len(self.watermarks()))
            while not self._closed:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None and message.get("type") == "message":
                    self._on_message(message["data"])
        finally:
            self._healthy = False
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _on_message(self, data: bytes) -> None:
        event = self._decode(data)
        if event is not None:
            self._apply_mirror(event)

    def _decode(self, data: bytes | str) -> Event | None:
        """An event from the channel or a state hash; anything malformed (another writer, a
        version skew) is logged and skipped rather than stopping the subscription."""
        try:
            payload = json.loads(data)
            if not isinstance(payload, dict):
                raise ValueError("not an object")
            return event_from_dict(payload)
        except (ValueError, KeyError, TypeError):
            _log.warning("ignoring a malformed event under %s", self.prefix)
            return None

    async def _reseed(self) -> None:
        """After an outage, write the mirror's state back: a Redis restarted without persistence
        has forgotten revocations that every replica still enforces. The script keeps only the
        newest state, so this is idempotent."""
        assert self._client is not None
        events: list[Event] = [
            RevocationEvent(subject, not_before, "resync", "redis-resync")
            for subject, not_before in self._mirror.watermarks().items()
        ]
        for subject in self._risk_subjects:
            level = self._mirror.risk(subject)
            if level is not None:
                events.append(RiskEvent(subject, level, 0, "resync", "redis-resync"))
        locations = self._mirror.named_locations()
        if locations:
            events.append(LocationsEvent(locations, 0, "redis-resync"))
        for start in range(0, len(events), 500):
            pipe = self._client.pipeline(transaction=False)
            for event in events[start : start + 500]:
                await self._write(event, client=pipe)
            await pipe.execute()
        if events:
            _log.info("re-seeded Redis with %d mirrored entries", len(events))

    async def _resync(self) -> None:
        """Replace what the mirror believes with Redis' state (missed events get notified)."""
        assert self._client is not None
        seen_risk: set[SubjectKey] = set()
        for pattern in (f"{self.prefix}wm:*", f"{self.prefix}risk:*"):
            keys = [k async for k in self._client.scan_iter(match=pattern, count=500)]
            if not keys:
                continue
            pipe = self._client.pipeline(transaction=False)
            for key in keys:
                pipe.hget(key, "event")
            for raw in await pipe.execute():
                if raw is None:
                    continue  # expired between SCAN and HGET
                event = self._decode(raw)
                if event is None:
                    continue
                if isinstance(event, RiskEvent):
                    seen_risk.add(event.subject)
                self._apply_mirror(event)
        # Risk that went back to "none" while we were away: Redis no longer has the key.
        for subject in list(self._risk_subjects):
            if subject not in seen_risk and self._mirror.risk(subject) is not None:
                self._apply_mirror(RiskEvent(subject, RiskLevel.NONE, int(self._clock())))
        raw_locations = await self._client.hget(f"{self.prefix}locations", "event")
        if raw_locations is not None:
            locations = self._decode(raw_locations)
            if isinstance(locations, LocationsEvent):
                self._apply_mirror(locations)

    async def clear(self) -> None:
        """Delete every key under this store's prefix (tests and resets)."""
        assert self._client is not None
        keys = [k async for k in self._client.scan_iter(match=f"{self.prefix}*", count=500)]
        if keys:
            await self._client.delete(*keys)
