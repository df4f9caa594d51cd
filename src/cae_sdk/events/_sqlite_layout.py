"""How events are laid out in SQLite: the schema, and the statements that read and write it
(synchronous; :class:`~cae_sdk.events.SQLiteEventStore` runs them in its own thread).

* ``watermarks``, ``risk``, ``state`` (the named locations): the state, one row per subject
  (a cleared risk stays as a "none" row, so a late, older report cannot resurrect it);
* ``changes``: one row per change of state, with a monotonic id every process polls;
* ``seen`` (``remember_once``) and ``cursors``.
"""

from __future__ import annotations

import logging
import sqlite3

from ._model import (
    Event,
    LocationsEvent,
    RevocationEvent,
    RiskEvent,
    RiskLevel,
    event_from_json,
    event_to_json,
    supersedes,
)

__all__ = ["SCHEMA", "current_locations", "watermark_rows", "write_event"]

log = logging.getLogger("cae_sdk.events.sqlite")

SCHEMA = """
CREATE TABLE IF NOT EXISTS watermarks (subject TEXT PRIMARY KEY, not_before INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS risk (subject TEXT PRIMARY KEY, level TEXT NOT NULL,
                                 at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changes (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL,
                                    event TEXT NOT NULL);
"""


def write_event(conn: sqlite3.Connection, event: Event, *, now: float) -> bool:
    """Record ``event`` when it supersedes the current state, with its row in ``changes``;
    True when it did. Runs inside the caller's transaction."""
    if isinstance(event, RevocationEvent):
        row = conn.execute(
            "SELECT not_before FROM watermarks WHERE subject = ?", (str(event.subject),)
        ).fetchone()
        current: Event | None = (
            None if row is None else RevocationEvent(event.subject, int(row[0]), "")
        )
        if not supersedes(event, current):
            return False
        conn.execute(
            "INSERT INTO watermarks (subject, not_before) VALUES (?, ?) ON CONFLICT(subject) "
            "DO UPDATE SET not_before = excluded.not_before",
            (str(event.subject), event.not_before),
        )
    elif isinstance(event, RiskEvent):
        # A cleared risk stays as a "none" row, so a late, older "high" cannot resurrect it.
        row = conn.execute(
            "SELECT level, at FROM risk WHERE subject = ?", (str(event.subject),)
        ).fetchone()
        current = None if row is None else RiskEvent(event.subject, RiskLevel(row[0]), row[1])
        if not supersedes(event, current):
            return False
        conn.execute(
            "INSERT INTO risk (subject, level, at) VALUES (?, ?, ?) ON CONFLICT(subject) "
            "DO UPDATE SET level = excluded.level, at = excluded.at",
            (str(event.subject), event.level.value, event.at),
        )
    else:
        if not supersedes(event, current_locations(conn)):
            return False
        conn.execute(
            "INSERT INTO state (name, value) VALUES ('locations', ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (event_to_json(event),),
        )
    conn.execute(
        "INSERT INTO changes (at, event) VALUES (?, ?)",
        (now, event_to_json(event)),
    )
    return True


def current_locations(conn: sqlite3.Connection) -> LocationsEvent | None:
    """The named locations in force (None when none were set, or the row is malformed)."""
    row = conn.execute("SELECT value FROM state WHERE name = 'locations'").fetchone()
    if row is None:
        return None
    event = event_from_json(row[0])
    if event is None:
        log.warning("replacing malformed named locations in %s", "state")
    return event if isinstance(event, LocationsEvent) else None


def watermark_rows(
    conn: sqlite3.Connection, after: int, cutoff: float, limit: int
) -> list[tuple[int, str, int]]:
    """Up to ``limit`` watermarks at or after ``cutoff`` whose ``rowid`` is greater than
    ``after``, in ``rowid`` order (the table's own b-tree: one page costs one page). A row keeps
    its ``rowid`` while it lives (a newer watermark updates it in place), so a cursor of a few
    digits resumes a listing whatever the subjects' length."""
    rows = conn.execute(
        "SELECT rowid, subject, not_before FROM watermarks WHERE rowid > ? AND not_before >= ? "
        "ORDER BY rowid LIMIT ?",
        (after, cutoff, limit),
    ).fetchall()
    return [(int(rowid), str(subject), int(not_before)) for rowid, subject, not_before in rows]
