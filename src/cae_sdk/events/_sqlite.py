"""SQLite ``EventStore``: survives restarts, shared by the worker processes of one host.

* WAL journal (readers never block the writer) and ``busy_timeout`` for concurrent writers.
* Every state change appends a row to ``changes`` (a monotonic ``INTEGER PRIMARY KEY``). Each
  process keeps an in-memory mirror for the synchronous O(1) reads the middleware does, and a
  background task polls ``changes`` for ids it has not seen: writes of other processes become
  visible within ``poll_interval`` seconds and reach ``subscribe`` listeners.
* Every write reads the current state and replaces it only under the ordering rule of
  :func:`~cae_sdk.events._model.supersedes`, inside one ``BEGIN IMMEDIATE`` transaction: processes
  racing on one subject converge on the same winner, and a write that failed left nothing.
* Blocking SQLite calls run in the store's own worker thread, never on the event loop, and are
  waited for ``call_timeout`` (``busy_timeout`` + 5 s) at most: a hung disk makes a call fail
  with :class:`StoreUnavailable` rather than hang its caller. The thread is the store's, not
  asyncio's default pool: each hung call held a pool thread, and a handful of them stalled
  every ``asyncio.to_thread`` of the process; a call given up before it started never runs.
* ``healthy`` is derived at read time: the last poll that read everything must have started
  within ``max_staleness`` seconds, so a database that fails or hangs (a stuck network disk)
  turns the store unhealthy by itself; the middleware's fail mode applies.

The tables and the statements on them are :mod:`._sqlite_layout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from ..core.errors import ConfigurationError, StoreUnavailable
from ..core.subjects import SubjectKey
from ._background import cancel_and_wait, within
from ._memory import InMemoryEventStore, MirroredReads
from ._model import (
    WATERMARK_TTL_SECONDS,
    Event,
    RevocationEvent,
    RiskEvent,
    RiskLevel,
    event_from_json,
)
from ._sqlite_layout import SCHEMA, current_locations, watermark_rows, write_event
from ._store import (
    EventStoreMixin,
    WatermarkPage,
    decode_page_cursor,
    encode_page_cursor,
    page_limit,
)

__all__ = ["SQLiteEventStore"]

log = logging.getLogger("cae_sdk.events.sqlite")

_BATCH = 10_000  # changes read per query
_SLACK = 5.0  # seconds waited for a call beyond SQLite's own busy timeout
_T = TypeVar("_T")


class SQLiteEventStore(MirroredReads, EventStoreMixin):
    """An :class:`EventStore` in a SQLite database: survives restarts and is shared by the worker
    processes of one host (WAL journal; writes of other processes are seen within
    ``poll_interval`` seconds; unhealthy when not current within ``max_staleness``)."""

    def __init__(
        self,
        path: str | Path,
        *,
        poll_interval: float = 0.5,
        max_staleness: float = 3.0,
        busy_timeout: float = 5.0,
        watermark_retention: int = WATERMARK_TTL_SECONDS,
        call_timeout: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not (poll_interval > 0 and max_staleness > 0):
            raise ConfigurationError("poll_interval and max_staleness must be positive")
        # A poll_interval above max_staleness is allowed (a write-only tool), but then the
        # store reports unhealthy between polls: it cannot know it is up to date.
        self.path = str(path)
        self.poll_interval = poll_interval
        self.max_staleness = max_staleness
        self._busy_timeout = busy_timeout
        self._call_timeout = busy_timeout + _SLACK if call_timeout is None else call_timeout
        self._executor: ThreadPoolExecutor | None = None
        self._ttl = watermark_retention
        self._clock = clock
        self._mirror = InMemoryEventStore(watermark_retention=watermark_retention, clock=clock)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._last_change = 0
        self._last_prune = float("-inf")
        self._poller: asyncio.Task[None] | None = None
        self._read_failed = False
        self._heard: float | None = None  # monotonic start of the last complete read
        self._warned = False

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self._conn is not None:
            return
        began = time.monotonic()
        await self._in_thread(self._open)
        self._heard, self._read_failed = began, False
        self._poller = asyncio.ensure_future(self._poll_forever())

    def _open(self) -> None:
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
        conn.executescript(SCHEMA)
        cutoff = self._clock() - self._ttl
        with self._lock:
            self._conn = conn
            # The change-feed position first, the state after: a change another process commits
            # in between is then both restored and replayed (harmless: every apply is ordered
            # by time), never skipped. The other order lost it until the next restart.
            self._last_change = conn.execute("SELECT COALESCE(MAX(id), 0) FROM changes").fetchone()[
                0
            ]
            for subject, not_before in conn.execute(
                "SELECT subject, not_before FROM watermarks WHERE not_before >= ?", (cutoff,)
            ):
                self._mirror.apply_local(
                    RevocationEvent(SubjectKey.parse(subject), int(not_before), "restored")
                )
            for subject, level, at in conn.execute("SELECT subject, level, at FROM risk"):
                self._mirror.apply_local(
                    RiskEvent(SubjectKey.parse(subject), RiskLevel(level), int(at))
                )
            locations = current_locations(conn)
            if locations is not None:
                self._mirror.apply_local(locations)

    async def close(self) -> None:
        if self._poller is not None:
            await cancel_and_wait(self._poller)
            self._poller = None
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error, asyncio.TimeoutError):
                await self._in_thread(self._close_connection)
        executor, self._executor = self._executor, None
        if executor is not None:
            # A hung call keeps its thread; nothing waits for it, and nothing queued runs.
            executor.shutdown(wait=False, cancel_futures=True)
        self._heard = None

    def _close_connection(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def staleness(self) -> float:
        """Seconds since the start of the last poll that read every change (inf if none)."""
        if self._heard is None or self._read_failed:
            return float("inf")
        return max(0.0, time.monotonic() - self._heard)

    @property
    def healthy(self) -> bool:
        healthy = self._conn is not None and self.staleness() <= self.max_staleness
        if not healthy and self._conn is not None and not self._warned:
            self._warned = True
            log.warning("SQLite event store is stale (%.1f s); the fail mode applies",
                        self.staleness())  # fmt: skip
        return healthy

    # -- writes ----------------------------------------------------------------------------
    async def apply(self, event: Event) -> bool:
        try:
            changed = await self._in_thread(self._write, event)
        except (sqlite3.Error, asyncio.TimeoutError) as exc:
            # The transaction rolled back: nothing was recorded, a retry applies it.
            raise StoreUnavailable(f"SQLite event store write failed: {exc}") from exc
        # Our own change: mirror and notify now rather than at the next poll.
        if changed and self._mirror.apply_local(event):
            self._mirror.notify(event)
        return changed

    def _write(self, event: Event) -> bool:
        if isinstance(event, RevocationEvent) and event.not_before + self._ttl < self._clock():
            return False  # past its retention, as in every store
        with self._lock:
            conn = self._connection()
            # IMMEDIATE: the read-compare-write below is one step for every process.
            conn.execute("BEGIN IMMEDIATE")
            try:
                changed = write_event(conn, event, now=self._clock())
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            return changed

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("SQLiteEventStore is not started; await store.start() first")
        return self._conn

    # -- change feed -----------------------------------------------------------------------
    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            await self.poll()

    async def poll(self) -> int:
        """Apply changes other processes wrote since the last poll; returns how many."""
        total = 0
        while True:
            began = time.monotonic()
            try:
                rows = await self._in_thread(self._read_changes)
            except (sqlite3.Error, asyncio.TimeoutError) as exc:
                if not self._read_failed:
                    log.warning("SQLite event store unreadable: %s", exc)
                self._read_failed = True
                return total
            for change_id, payload in rows:
                self._last_change = max(self._last_change, change_id)
                event = event_from_json(payload)
                if event is None:
                    log.warning("skipping malformed change %s", change_id)
                    continue
                if self._mirror.apply_local(event):
                    self._mirror.notify(event)
            total += len(rows)
            if len(rows) < _BATCH:
                # Everything committed before ``began`` has been read.
                if self._read_failed or self._warned:
                    log.info("SQLite event store caught up")
                self._heard, self._read_failed, self._warned = began, False, False
                return total

    def _read_changes(self) -> list[tuple[int, str]]:
        with self._lock:
            conn = self._connection()
            rows = conn.execute(
                "SELECT id, event FROM changes WHERE id > ? ORDER BY id LIMIT ?",
                (self._last_change, _BATCH),
            ).fetchall()
            if self._clock() - self._last_prune > 60:
                # Once a minute: forget changes older than any watermark can live.
                self._last_prune = self._clock()
                with conn:
                    conn.execute("DELETE FROM changes WHERE at < ?", (self._clock() - self._ttl,))
                    conn.execute("DELETE FROM seen WHERE expires < ?", (self._clock(),))
                    conn.execute(
                        "DELETE FROM watermarks WHERE not_before < ?", (self._clock() - self._ttl,)
                    )
        return [(int(i), str(e)) for i, e in rows]

    # -- deduplication and cursors (shared by every process) ---------------------------------
    async def remember_once(self, key: str, ttl_seconds: int) -> bool:
        return await self._run(self._remember_once, key, ttl_seconds)

    def _remember_once(self, key: str, ttl_seconds: int) -> bool:
        now = self._clock()
        with self._lock:
            conn = self._connection()
            with conn:
                cursor = conn.execute(
                    "INSERT INTO seen (key, expires) VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                    "SET expires = excluded.expires WHERE seen.expires <= ?",
                    (key, now + ttl_seconds, now),
                )
                return cursor.rowcount > 0

    async def forget(self, key: str) -> None:
        await self._run(self._forget, key)

    def _forget(self, key: str) -> None:
        with self._lock:
            conn = self._connection()
            with conn:
                conn.execute("DELETE FROM seen WHERE key = ?", (key,))

    async def get_cursor(self, name: str) -> str | None:
        return await self._run(self._get_cursor, name)

    def _get_cursor(self, name: str) -> str | None:
        with self._lock:
            row = (
                self._connection()
                .execute("SELECT value FROM cursors WHERE name = ?", (name,))
                .fetchone()
            )
        return None if row is None else str(row[0])

    async def set_cursor(self, name: str, value: str | None) -> None:
        await self._run(self._set_cursor, name, value)

    def _set_cursor(self, name: str, value: str | None) -> None:
        with self._lock:
            conn = self._connection()
            with conn:
                if value is None:
                    conn.execute("DELETE FROM cursors WHERE name = ?", (name,))
                else:
                    conn.execute(
                        "INSERT INTO cursors (name, value) VALUES (?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                        (name, value),
                    )

    # -- listing -----------------------------------------------------------------------------
    async def watermark_page(self, limit: int, cursor: str | None = None) -> WatermarkPage:
        """Pages in ``rowid`` order, read from the database one page at a time: the cursor is
        the last ``rowid`` of the page before (valid in every process, a few characters
        whatever the subjects' length)."""
        limit = page_limit(limit)
        after = 0 if cursor is None else decode_page_cursor(cursor)
        # A rowid is a signed 64-bit integer (sqlite.org/lang_createtable.html#rowid): a larger
        # number is no rowid (sqlite3 raised OverflowError binding it).
        if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after < 2**63:
            raise ValueError("not a page cursor of this store")
        rows = await self._run(self._watermark_rows, after, limit)
        page = []
        for _, subject, not_before in rows:
            try:
                page.append((SubjectKey.parse(subject), int(not_before)))
            except ValueError:
                log.warning("skipping a malformed watermark row")
        more = len(rows) == limit
        return WatermarkPage(tuple(page), encode_page_cursor(rows[-1][0]) if more else None)

    def _watermark_rows(self, after: int, limit: int) -> list[tuple[int, str, int]]:
        with self._lock:
            return watermark_rows(self._connection(), after, self._clock() - self._ttl, limit)

    async def _run(self, call: Callable[..., _T], *args: object) -> _T:
        """Run a blocking call in a thread; a database error is :class:`StoreUnavailable`."""
        try:
            return await self._in_thread(call, *args)
        except (sqlite3.Error, asyncio.TimeoutError) as exc:
            raise StoreUnavailable(f"SQLite event store failed: {exc}") from exc

    async def _in_thread(self, call: Callable[..., _T], *args: object) -> _T:
        """``call`` in the store's own thread, within ``call_timeout`` (``asyncio.TimeoutError``
        after; a call still queued then is cancelled and never runs)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="cae-sqlite")
        future = asyncio.get_running_loop().run_in_executor(
            self._executor, functools.partial(call, *args)
        )
        return await within(future, self._call_timeout)
