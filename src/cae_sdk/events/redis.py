"""``RedisEventStore``: events shared by every replica through a Redis stream, read from a local
in-memory mirror.

* **Writes** run one Lua script each: it keeps the state key only if the event wins under the
  ordering rule (:func:`~cae_sdk.events._model.supersedes`), sets its TTL and ``XADD``\\ s the
  event to the stream (trimmed by age to the watermark retention) in the same atomic step.
* **Replication**: each replica reads the stream with ``XREAD BLOCK`` from the last entry id it
  applied. After a reconnect it resumes from that id: nothing missed, nothing replayed, no full
  reload. If its position was trimmed away it reads the whole state, from a stream position
  taken *before* the state was read (entries committed meanwhile are applied twice, which is
  harmless), so nothing is skipped. If Redis lost data (a restart without persistence, a
  failover that dropped the newest writes) every replica writes its state back first.
* **Bounded staleness**: ``healthy`` is derived when it is read: the replica is connected,
  has read the stream to its end, and the last read that reached the end was *sent* at most
  ``max_staleness`` seconds ago. The block time is a third of that, so an idle replica hears
  from Redis several times per ``max_staleness``; a silent link, a stuck socket or a hung task
  turns the replica unhealthy by itself, and the middleware's fail mode applies. Every Redis
  call has a deadline of the store's own.
* **Outages**: writes are queued in order (bounded) or refused with :class:`StoreUnavailable`;
  never silently dropped. ``forget`` is queued in both modes.

``redis`` is imported lazily: install the ``redis`` extra to use this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ..core.errors import ConfigurationError, StoreUnavailable
from ._background import cancel_and_wait, within
from ._memory import InMemoryEventStore, MirroredReads
from ._model import WATERMARK_TTL_SECONDS, Event
from ._redis_client import build_client
from ._redis_layout import WRITE_SCRIPT, RedisKeys, StreamId, write_for
from ._redis_pages import watermark_page
from ._redis_sync import StreamFollower
from ._store import EventStoreMixin, WatermarkPage

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisEventStore"]

_log = logging.getLogger("cae_sdk.events.redis")
_T = TypeVar("_T")

OnUnavailable = Literal["queue", "raise"]
_BULK_EXTRA = 5.0


@dataclass(frozen=True, slots=True)
class _Forget:
    key: str


class RedisEventStore(MirroredReads, EventStoreMixin):
    """An :class:`~cae_sdk.events.EventStore` shared through Redis, mirrored in memory.

    Args:
        url: ``redis://`` or ``rediss://`` (TLS; ``?ssl_ca_certs=/path`` for a private CA),
            with an ACL user and password in the userinfo; defaults to ``CAE_REDIS_URL``.
            With Sentinel it gives the primary's credentials, database and TLS settings.
        prefix: every key of the store starts with it (the ACL key pattern is ``<prefix>*``).
        watermark_retention: seconds a watermark (and a stream entry) is kept after its time.
        max_staleness: seconds without a complete read of the stream after which the replica
            is unhealthy (the fail mode applies); reads block for a third of it.
        on_unavailable: ``"queue"`` writes while Redis is away (bounded by ``max_queue``) or
            ``"raise"`` :class:`StoreUnavailable`.
        reconnect_delay: pause between reconnection attempts.
        startup_timeout: how long ``start()`` waits for the first catch-up.
        sentinels: ``[(host, port), ...]`` of Redis Sentinels; ``service_name`` names the
            monitored primary.
        client: a ``redis.asyncio.Redis`` of the caller's (left open by ``close()``).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str = "cae:",
        watermark_retention: int = WATERMARK_TTL_SECONDS,
        max_staleness: float = 3.0,
        on_unavailable: OnUnavailable = "queue",
        max_queue: int = 10_000,
        reconnect_delay: float = 0.2,
        startup_timeout: float = 5.0,
        sentinels: Sequence[tuple[str, int]] | None = None,
        service_name: str | None = None,
        clock: Callable[[], float] = time.time,
        client: Redis | None = None,
    ) -> None:
        if on_unavailable not in ("queue", "raise"):
            raise ConfigurationError("on_unavailable must be 'queue' or 'raise'")
        if not max_staleness > 0:
            raise ConfigurationError("max_staleness must be positive")
        self.url = url or os.environ.get("CAE_REDIS_URL", "redis://127.0.0.1:6379/0")
        self.prefix = prefix
        self.keys = RedisKeys(prefix)
        self.on_unavailable = on_unavailable
        self.max_staleness = max_staleness
        # A blocking read returns within a third of the staleness budget when nothing happens,
        # and any call that has not answered a third later is abandoned.
        self._block = max_staleness / 3
        self._deadline = max_staleness / 3
        self._ttl = watermark_retention
        self._max_queue = max_queue
        self._reconnect_delay = reconnect_delay
        self._startup_timeout = startup_timeout
        self._sentinels = list(sentinels) if sentinels else None
        self._service_name = service_name
        self._clock = clock
        self._client = client
        self._owns_client = client is None  # a client the caller passed is theirs to close
        self._mirror = InMemoryEventStore(watermark_retention=watermark_retention, clock=clock)
        self._follower = StreamFollower(self)
        self._queue: deque[Event | _Forget] = deque()
        self._write_lock = asyncio.Lock()
        self._link_up = False  # the last sync succeeded and no call has failed since
        self._ready = asyncio.Event()  # this start()'s first catch-up is done
        self._written: StreamId | None = None  # newest entry this replica wrote
        self._reported_healthy = False
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._script: Any = None
        self._errors: tuple[type[BaseException], ...] = (OSError, asyncio.TimeoutError)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, catch up and follow the stream; waits up to ``startup_timeout`` for the
        first catch-up, then carries on unhealthy (the fail mode applies) while it reconnects
        in the background."""
        if self._task is not None:
            return
        if self._client is None:
            self._client = build_client(
                self.url,
                sentinels=self._sentinels,
                service_name=self._service_name,
                socket_timeout=self._block + self._deadline,
                connect_timeout=self._deadline,
            )
        from redis.exceptions import RedisError

        # Any Redis failure (connection, timeout, a refused command such as OOM or NOPERM) makes
        # the link down and queues or raises; the background loop retries and never dies of it.
        self._errors = (OSError, asyncio.TimeoutError, RedisError)
        self._script = self._client.register_script(WRITE_SCRIPT)
        self._closed = False
        self._ready.clear()  # a restart after close() waits for a fresh catch-up too
        self._task = asyncio.create_task(self._run(), name="cae-redis-event-store")
        with contextlib.suppress(asyncio.TimeoutError):
            await within(self._ready.wait(), self._startup_timeout)

    async def close(self) -> None:
        self._closed = True
        self._link_up = False
        self._follower.reset_health()
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> RedisEventStore:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def staleness(self) -> float:
        """Seconds since this replica last knew it had every event: since it sent the last
        stream read that reached the end (``inf`` before the first one, or once disconnected)."""
        return self._follower.staleness()

    @property
    def healthy(self) -> bool:
        healthy = self._link_up and self._follower.staleness() <= self.max_staleness
        if healthy != self._reported_healthy:
            self._reported_healthy = healthy
            if healthy:
                _log.info("Redis event store caught up")
            elif not self._closed:
                _log.warning(
                    "Redis event store unhealthy: last caught up %.1f s ago (max_staleness %.1f s)",
                    self._follower.staleness(),
                    self.max_staleness,
                )
        return healthy

    @property
    def queued(self) -> int:
        """Writes (and forgets) waiting for Redis to come back."""
        return len(self._queue)

    # -- writes ------------------------------------------------------------------------------

    async def apply(self, event: Event) -> bool:
        """Write through to Redis (and the mirror at once); queue or raise while Redis is away."""
        if not self._link_up:
            return self._enqueue(event)
        try:
            async with self._write_lock:
                await self._flush_queue()
                written = await self._write(event)
        except self._errors as exc:
            # The script either ran whole or not at all; a retry (the queue) is idempotent.
            self._link_down(exc)
            return self._enqueue(event)
        if not written:
            return False  # Redis decides what is newest (another replica may have won)
        # The mirror may already hold it: the follower can read our own entry before the
        # script's reply resumes this coroutine. Redis said it changed state, so it did.
        self._follower.apply(event)
        return True

    async def remember_once(self, key: str, ttl_seconds: int) -> bool:
        if self._link_up:
            try:
                created = await self._call(
                    lambda c: c.set(self.keys.once(key), b"1", nx=True, ex=max(1, ttl_seconds))
                )
                # Mirror it as well, so a later outage still remembers what we saw.
                await self._mirror.remember_once(key, ttl_seconds)
                return bool(created)
            except self._errors as exc:
                self._link_down(exc)
                # The SET may have run before the call failed: a key nobody acted on would turn
                # the redelivery into a "duplicate" that is never applied. Delete it on reconnect.
                with contextlib.suppress(StoreUnavailable):
                    self._push(_Forget(key))
        if self.on_unavailable == "raise":
            raise StoreUnavailable("Redis is unreachable: cannot deduplicate the event")
        # Queue mode: deduplicate on this replica until Redis is back.
        return await self._mirror.remember_once(key, ttl_seconds)

    async def forget(self, key: str) -> None:
        """Undo :meth:`remember_once`: a redelivery of an event that could not be applied must
        be accepted. While Redis is away the delete waits in the write queue (in both modes)
        and runs before this replica reports healthy again."""
        await self._mirror.forget(key)
        if self._link_up:
            try:
                async with self._write_lock:
                    await self._flush_queue()
                    await self._delete_once(key)
                return
            except self._errors as exc:
                self._link_down(exc)
        self._push(_Forget(key))

    async def _delete_once(self, key: str) -> None:
        once = self.keys.once(key)
        await self._call(lambda c: c.delete(once))

    async def watermark_page(self, limit: int, cursor: str | None = None) -> WatermarkPage:
        """Pages read from Redis with ``SCAN``, not from the local mirror: a cursor is valid
        on every replica, and :class:`StoreUnavailable` is raised while Redis is away."""
        return await watermark_page(self, limit, cursor)

    async def get_cursor(self, name: str) -> str | None:
        value = await self._command(lambda c: c.get(self.keys.cursor(name)))
        return value.decode() if isinstance(value, bytes) else None

    async def set_cursor(self, name: str, value: str | None) -> None:
        key = self.keys.cursor(name)
        await self._command(lambda c: c.delete(key) if value is None else c.set(key, value))

    async def _command(self, call: Callable[[Redis], Awaitable[_T]]) -> _T:
        if not self._link_up:
            raise StoreUnavailable("Redis is unreachable")
        try:
            return await self._call(call)
        except self._errors as exc:
            self._link_down(exc)
            raise StoreUnavailable("Redis is unreachable") from exc

    async def _call(self, call: Callable[[Redis], Awaitable[_T]], *, bulk: bool = False) -> _T:
        """One Redis call under the store's own deadline (a silent link never hangs it).
        ``bulk`` calls (a thousand keys while catching up, when the replica is not healthy
        anyway) get a few seconds more, so a busy machine does not turn them into a loop."""
        client = self._client
        if client is None:
            raise ConnectionError("the store is closed")
        return await within(call(client), self._deadline + (_BULK_EXTRA if bulk else 0.0))

    def _enqueue(self, event: Event) -> bool:
        if self.on_unavailable == "raise":
            raise StoreUnavailable("Redis is unreachable; the event was not recorded")
        self._push(event)
        # This replica enforces the event at once; the others get it when the queue flushes.
        return self._follower.apply(event)

    def _push(self, item: Event | _Forget) -> None:
        if len(self._queue) >= self._max_queue:
            raise StoreUnavailable("Redis is unreachable and the write queue is full")
        self._queue.append(item)

    async def _flush_queue(self) -> None:
        while self._queue:
            item = self._queue[0]
            if isinstance(item, _Forget):
                await self._delete_once(item.key)
            else:
                await self._write(item)
            self._queue.popleft()

    async def _write(self, event: Event, *, client: Any = None) -> bool:
        write = write_for(event, self.keys, self._ttl, now=self._clock())
        if write is None:
            return False  # already past the watermark retention
        call = self._script(keys=write.keys, args=write.args, client=client)
        if client is not None:
            await call  # queued on a pipeline: the pipeline's execute() has the deadline
            return False
        entry = await within(call, self._deadline)
        if not entry:
            return False
        written = StreamId.parse(entry)
        self._written = written if self._written is None else max(self._written, written)
        return True

    def _link_down(self, exc: BaseException) -> None:
        if self._link_up:
            _log.warning(
                "Redis unreachable (%s); serving from the local mirror", type(exc).__name__
            )
        self._link_up = False
        self._follower.reset_health()

    # -- catch-up and following --------------------------------------------------------------

    async def _run(self) -> None:
        while not self._closed:
            try:
                await self._follower.catch_up()
                await self._follower.follow(first_read=self._ready.set)
            except asyncio.CancelledError:
                raise
            except self._errors as exc:
                self._link_down(exc)
            except Exception as exc:  # noqa: BLE001 - replication outlives any failure
                # Something unforeseen (a reply of a shape we did not expect): ending here
                # would leave the replica stale for good (closed mode: an outage). Log it and
                # reconnect; healthy stays False until a catch-up completes.
                _log.exception("Redis event store replication failed unexpectedly")
                self._link_down(exc)
            await asyncio.sleep(self._reconnect_delay)

    async def clear(self) -> None:
        """Delete every key under this store's prefix (tests and resets)."""
        client = self._client
        assert client is not None
        pattern = f"{self.keys.pattern_prefix}*"
        keys = [k async for k in client.scan_iter(match=pattern, count=500)]
        if keys:
            await client.delete(*keys)
