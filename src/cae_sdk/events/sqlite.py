"""SQLite ``EventStore``: survives restarts, shared by the worker processes of one host.

* WAL journal (readers never block the writer) and ``busy_timeout`` for concurrent writers.
* Every state change appends a row to ``changes`` (a monotonic ``INTEGER PRIMARY KEY``). Each
  process keeps an in-memory mirror for the synchronous O(1) reads the middleware does, and a
  background task polls ``changes`` for ids it has not seen: writes of other processes become
  visible within ``poll_interval`` seconds and reach ``subscribe`` listeners.
* Watermarks only move forward (``ON CONFLICT ... WHERE excluded.not_before > not_before``), so
  two processes racing on one subject converge on the newest.
* Blocking SQLite calls run in a worker thread (``asyncio.to_thread``), never on the event loop.
* ``healthy`` turns False when the database cannot be read; the middleware's fail mode applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..core.errors import StoreUnavailable
from ..core.subjects import SubjectKey
from .memory import InMemoryEventStore, MirroredReads
from .model import (
    WATERMARK_TTL_SECONDS,
    Event,
    RevocationEvent,
    RiskEvent,
    RiskLevel,
    event_from_dict,
    event_to_dict,
)
from .store import EventStoreMixin

__all__ = ["SQLiteEventStore"]

log = logging.getLogger("cae_sdk.events.sqlite")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watermarks (subject TEXT PRIMARY KEY, not_before INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS risk (subject TEXT PRIMARY KEY, level TEXT NOT NULL,
                                 at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changes (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL,
                                    event TEXT NOT NULL);
"""


class SQLiteEventStore(MirroredReads, EventStoreMixin):
    def __init__(
        self,
        path: str | Path,
        *,
        poll_interval: float = 0.5,
        watermark_ttl: int = WATERMARK_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = str(path)
        self.poll_interval = poll_interval
        self._ttl = watermark_ttl
        self._clock = clock
        self._mirror = InMemoryEventStore(watermark_ttl=watermark_ttl, clock=clock)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._last_change = 0
        self._last_prune = float("-inf")
        self._poller: asyncio.Task[None] | None = None
        self._healthy = False

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        if self._conn is not None:
            return
        await asyncio.to_thread(self._open)
        self._poller = asyncio.ensure_future(self._poll_forever())

    def _open(self) -> None:
        conn = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(_SCHEMA)
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
            row = conn.execute("SELECT value FROM state WHERE name = 'locations'").fetchone()
            if row:
                self._mirror.apply_local(event_from_dict(json.loads(row[0])))
        self._healthy = True

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        self._healthy = False

    @property
    def healthy(self) -> bool:
        return self._healthy

    # -- writes ----------------------------------------------------------------------------
    async def apply(self, event: Event) -> bool:
        try:
            changed = await asyncio.to_thread(self._write, event)
        except sqlite3.Error as exc:
            self._healthy = False
            raise StoreUnavailable(f"SQLite event store write failed: {exc}") from exc
        # Our own change: mirror and notify now rather than at the next poll.
        if changed and self._mirror.apply_local(event):
            self._mirror.notify(event)
        return changed

    def _write(self, event: Event) -> bool:
        with self._lock:
            conn = self._connection()
            with conn:
                if isinstance(event, RevocationEvent):
                    cursor = conn.execute(
                        "INSERT INTO watermarks (subject, not_before) VALUES (?, ?) "
                        "ON CONFLICT(subject) DO UPDATE SET not_before = excluded.not_before "
                        "WHERE excluded.not_before > watermarks.not_before",
                        (str(event.subject), event.not_before),
                    )
                elif isinstance(event, RiskEvent):
                    # Same ordering as the in-memory and Redis stores: an older report never
                    # overwrites a newer one; a cleared risk stays as a "none" row so a late,
                    # older "high" cannot resurrect it.
                    cursor = conn.execute(
                        "INSERT INTO risk (subject, level, at) VALUES (?, ?, ?) "
                        "ON CONFLICT(subject) DO UPDATE SET level = excluded.level, "
                        "at = excluded.at "
                        "WHERE excluded.at > risk.at "
                        "OR (excluded.at = risk.at AND excluded.level != risk.level)",
                        (str(event.subject), event.level.value, event.at),
                    )
                else:
                    payload = json.dumps(event_to_dict(event))
                    cursor = conn.execute(
                        "INSERT INTO state (name, value) VALUES ('locations', ?) "
                        "ON CONFLICT(name) DO UPDATE SET value = excluded.value "
                        "WHERE excluded.value != state.value",
                        (payload,),
                    )
                if cursor.rowcount == 0:
                    return False
                conn.execute(
                    "INSERT INTO changes (at, event) VALUES (?, ?)",
                    (self._clock(), json.dumps(event_to_dict(event))),
                )
                return True

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
        try:
            rows = await asyncio.to_thread(self._read_changes)
        except sqlite3.Error as exc:
            if self._healthy:
                log.warning("SQLite event store unreadable: %s", exc)
            self._healthy = False
            return 0
        self._healthy = True
        for change_id, payload in rows:
            self._last_change = max(self._last_change, change_id)
            try:
                event = event_from_dict(json.loads(payload))
            except (ValueError, KeyError, TypeError):
                log.warning("skipping malformed change %s", change_id)
                continue
            if self._mirror.apply_local(event):
                self._mirror.notify(event)
        return len(rows)

    def _read_changes(self) -> list[tuple[int, str]]:
        with self._lock:
            conn = self._connection()
            rows = conn.execute(
                "SELECT id, event FROM changes WHERE id > ? ORDER BY id LIMIT 10000",
                (self._last_change,),
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
        return await asyncio.to_thread(self._remember_once, key, ttl_seconds)

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

    async def get_cursor(self, name: str) -> str | None:
        return await asyncio.to_thread(self._get_cursor, name)

    def _get_cursor(self, name: str) -> str | None:
        with self._lock:
            row = (
                self._connection()
                .execute("SELECT value FROM cursors WHERE name = ?", (name,))
                .fetchone()
            )
        return None if row is None else str(row[0])

    async def set_cursor(self, name: str, value: str | None) -> None:
        await asyncio.to_thread(self._set_cursor, name, value)

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
