"""The embedded default store: process-local, in memory.

Watermarks older than the retention (:data:`WATERMARK_TTL_SECONDS` by default) are dropped when
read and by an incremental sweep that runs with the writes once the table has doubled since the
last one, so memory stays within about twice the revocations of the last 28 hours, also for
subjects that are never looked up again.

Watermarks are kept compactly (about 150 bytes each at a million): the table is keyed by the
subject's 64-bit ``hash()`` (SipHash, randomised per process, so nobody can aim a collision at
it) and each value is one ``bytes`` holding the timestamp and the subject packed (GUIDs as 16
bytes). Two subjects sharing a 64-bit hash would share the newer watermark - a false refusal,
never a false acceptance.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator

from ..core.locations import NamedLocation
from ..core.subjects import SubjectKey, SubjectKind
from ._model import (
    WATERMARK_TTL_SECONDS,
    Event,
    LocationsEvent,
    RevocationEvent,
    RiskEvent,
    RiskLevel,
    supersedes,
)
from ._store import (
    EventListener,
    EventStoreMixin,
    WatermarkPage,
    decode_page_cursor,
    encode_page_cursor,
    next_generation,
    page_limit,
)

__all__ = ["InMemoryEventStore", "MirroredReads"]

log = logging.getLogger("cae_sdk.events")


_KINDS = tuple(SubjectKind)
_KIND_CODE = {kind: code for code, kind in enumerate(_KINDS)}


# Canonical lower-case GUIDs only (they round-trip); anything else is kept as text.
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _pack_text(text: str) -> bytes:
    # Without uuid.UUID: a replica catching up packs a hundred thousand of these in a row.
    if len(text) == 36 and _GUID.fullmatch(text):
        return b"\x00" + bytes.fromhex(text.replace("-", ""))
    raw = text.encode()
    return b"\x01" + len(raw).to_bytes(4, "big") + raw


def _unpack_text(data: bytes, pos: int) -> tuple[str, int]:
    if data[pos] == 0:
        h = data[pos + 1 : pos + 17].hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}", pos + 17
    length = int.from_bytes(data[pos + 1 : pos + 5], "big")
    return data[pos + 5 : pos + 5 + length].decode(), pos + 5 + length


def _pack(subject: SubjectKey, not_before: int) -> bytes:
    """8 bytes of timestamp, then kind, tenant and value."""
    return (
        not_before.to_bytes(8, "big", signed=True)
        + bytes((_KIND_CODE[subject.kind],))
        + _pack_text(subject.tenant_id)
        + _pack_text(subject.value)
    )


def _unpack(data: bytes) -> tuple[SubjectKey, int]:
    tenant_id, pos = _unpack_text(data, 9)
    value, _ = _unpack_text(data, pos)
    return SubjectKey(_KINDS[data[8]], tenant_id, value), _timestamp(data)


def _timestamp(data: bytes) -> int:
    return int.from_bytes(data[:8], "big", signed=True)


_SWEEP_STEP = 16  # slots checked per write while a sweep runs (faster than the table grows)
_SWEEP_FLOOR = 1024  # no sweep below this many watermarks
_SEEN_FLOOR = 100_000  # remember_once keys kept before the first prune


_READS = ("watermark", "risk", "named_locations")
"""The reads the generation vouches for (events/_store.py, "Generation")."""


class _NoGeneration:
    """``generation`` of a store subclass whose reads are its own: None, so the request path
    reads it on every request (setting it, as the base class does, is ignored)."""

    def __get__(self, store: object, owner: type | None = None) -> None:
        return None

    def __set__(self, store: object, value: object) -> None:
        pass


def _reads_keep_generation(cls: type, base: type) -> None:
    """Give ``cls`` (a subclass of ``base``) no generation when it overrides a read: its answers
    may change without an event (another source, a fault injected), which no generation
    follows. A class that defines ``generation`` itself answers for it."""
    if "generation" not in cls.__dict__ and any(
        getattr(cls, name) is not getattr(base, name) for name in _READS
    ):
        setattr(cls, "generation", _NoGeneration())  # noqa: B010 - mypy: a descriptor, not an int


class InMemoryEventStore(EventStoreMixin):
    """The embedded default :class:`EventStore`: process-local and in memory; watermarks older
    than ``watermark_retention`` are dropped."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        _reads_keep_generation(cls, InMemoryEventStore)

    def __init__(
        self,
        *,
        watermark_retention: int = WATERMARK_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._watermarks: dict[int, bytes] = {}
        self._risk: dict[SubjectKey, RiskLevel] = {}
        # The winning risk report per subject, "none" included: a late, older "high" must not
        # resurrect a cleared risk.
        self._risk_events: dict[SubjectKey, RiskEvent] = {}
        self._locations: LocationsEvent | None = None
        self._listeners: list[EventListener] = []
        self._seen: dict[str, float] = {}
        self._seen_limit = _SEEN_FLOOR
        self._cursors: dict[str, str] = {}
        self._ttl = watermark_retention
        self._clock = clock
        self._sweep: Iterator[int] | None = None
        self._sweep_at = _SWEEP_FLOOR
        self.generation = next_generation()
        """Changes after every change of state an event makes (the store contract's
        ``generation``): a plain attribute, read on every request."""

    @property
    def watermark_retention(self) -> int:
        return self._ttl

    def watermark_count(self) -> int:
        return len(self._watermarks)

    def _sweep_some(self) -> None:
        """Drop a few watermarks past their retention (amortised O(1) per write)."""
        table = self._watermarks
        if self._sweep is None:
            if len(table) < self._sweep_at:
                return
            self._sweep = iter(list(table))  # the slots as of now; later ones wait a sweep
        cutoff = self._clock() - self._ttl
        checked = 0
        for slot in itertools.islice(self._sweep, _SWEEP_STEP):
            checked += 1
            packed = table.get(slot)
            if packed is not None and _timestamp(packed) < cutoff:
                del table[slot]
        if checked < _SWEEP_STEP:
            self._sweep = None
            self._sweep_at = max(_SWEEP_FLOOR, 2 * len(table))

    def staleness(self) -> float:
        return 0.0  # the process's own memory: never behind

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    @property
    def healthy(self) -> bool:
        return True

    def apply_local(self, event: Event) -> bool:
        """Apply without notifying; shared stores use this to update their mirror. True when
        ``event`` became the recorded state (the ordering rule of :func:`~.model.supersedes`;
        a newer report of the same level counts: it moves the state's time); the generation
        moves on after the new state is in place, never before (a request that read the new
        generation reads the new state)."""
        changed = self._record(event)
        if changed:
            self.generation = next_generation()
        return changed

    def _record(self, event: Event) -> bool:
        if isinstance(event, RevocationEvent):
            if event.not_before + self._ttl < self._clock():
                return False  # past its retention: no token it could refuse is still valid
            # A watermark's order is its time alone: compare the packed timestamps directly.
            slot = hash(event.subject)
            current = self._watermarks.get(slot)
            if current is not None and _timestamp(current) >= event.not_before:
                return False
            self._watermarks[slot] = _pack(event.subject, event.not_before)
            if self._sweep is not None or len(self._watermarks) >= self._sweep_at:
                self._sweep_some()  # rarely: the check above keeps catch-up fast
            return True
        if isinstance(event, LocationsEvent):
            if not supersedes(event, self._locations):
                return False
            self._locations = event
            return True
        if not supersedes(event, self._risk_events.get(event.subject)):
            return False
        self._risk_events[event.subject] = event
        if event.level is RiskLevel.NONE:
            self._risk.pop(event.subject, None)
        else:
            self._risk[event.subject] = event.level
        return True

    def drop_risk(self, subject: SubjectKey) -> bool:
        """Forget every risk report of ``subject`` (a shared store learnt that the backend's
        cleared report expired); True when a level other than "none" was in force."""
        self._risk_events.pop(subject, None)
        dropped = self._risk.pop(subject, None) is not None
        self.generation = next_generation()
        return dropped

    def state_events(self) -> list[Event]:
        """Every piece of state as the event that set it (watermarks rebuilt from the packed
        table): what a shared store writes back to a backend that lost its data."""
        events: list[Event] = [
            RevocationEvent(subject, not_before, "resync", "resync")
            for subject, not_before in self.watermarks().items()
        ]
        events.extend(self._risk_events.values())
        if self._locations is not None:
            events.append(self._locations)
        return events

    async def apply(self, event: Event) -> bool:
        changed = self.apply_local(event)
        if changed:
            self.notify(event)
        return changed

    def notify(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                # A listener is an observer: its bug must not keep the event from the other
                # listeners, nor kill a shared store's poller or subscription task (its mirror
                # would then go stale while still reporting healthy: fail open).
                log.exception("event listener %r failed", listener)

    def watermark(self, subject: SubjectKey) -> int | None:
        # hash(subject) without the call into SubjectKey.__hash__ (it returns this attribute):
        # every request reads a watermark per subject of its token.
        slot = subject._hash
        packed = self._watermarks.get(slot)
        if packed is None:
            return None
        value = _timestamp(packed)
        if value + self._ttl < self._clock():
            del self._watermarks[slot]
            return None
        return value

    def risk(self, subject: SubjectKey) -> RiskLevel | None:
        risk = self._risk
        # Most of the time nobody is at risk: no key to hash (every request reads this).
        return risk.get(subject) if risk else None

    def named_locations(self) -> tuple[NamedLocation, ...]:
        return () if self._locations is None else self._locations.locations

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    async def remember_once(self, key: str, ttl_seconds: int) -> bool:
        now = self._clock()
        expires = self._seen.get(key)
        if expires is not None and expires > now:
            return False
        self._seen[key] = now + ttl_seconds
        if len(self._seen) > self._seen_limit:
            # Amortised: pruned when the record doubled. Pruning on every call past a fixed
            # size rebuilt the whole record per SET once that many were live (about one SET a
            # second over the 28-hour replay window): quadratic, on the event loop.
            self._seen = {k: v for k, v in self._seen.items() if v > now}
            self._seen_limit = max(_SEEN_FLOOR, 2 * len(self._seen))
        return True

    async def forget(self, key: str) -> None:
        """Undo :meth:`remember_once` for ``key`` (its event could not be applied)."""
        self._seen.pop(key, None)

    async def get_cursor(self, name: str) -> str | None:
        return self._cursors.get(name)

    async def set_cursor(self, name: str, value: str | None) -> None:
        if value is None:
            self._cursors.pop(name, None)
        else:
            self._cursors[name] = value

    def watermarks(self) -> dict[SubjectKey, int]:
        cutoff = self._clock() - self._ttl
        live = (_unpack(packed) for packed in self._watermarks.values())
        return {subject: value for subject, value in live if value >= cutoff}

    async def watermark_page(self, limit: int, cursor: str | None = None) -> WatermarkPage:
        """Pages in the order of the table's slots (this process's subject hashes): the next
        page starts after the last slot of this one, however the table changed meanwhile.
        Each page is one pass over the slots in C and ``limit`` unpacked entries."""
        limit = page_limit(limit)
        table = self._watermarks
        slots: Iterable[int] = table
        if cursor is not None:
            after = decode_page_cursor(cursor)
            if isinstance(after, bool) or not isinstance(after, int):
                raise ValueError("not a page cursor of this store")
            slots = filter(after.__lt__, table)
        chosen = heapq.nsmallest(limit, slots)
        cutoff = self._clock() - self._ttl
        live = (_unpack(table[slot]) for slot in chosen)
        page = tuple((subject, value) for subject, value in live if value >= cutoff)
        more = len(chosen) == limit
        return WatermarkPage(page, encode_page_cursor(chosen[-1]) if more else None)


class MirroredReads:
    """Reads for shared stores (Redis, SQLite): always answered from a local in-memory mirror,
    so the request hot path never waits on a network or a disk."""

    _mirror: InMemoryEventStore

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        _reads_keep_generation(cls, MirroredReads)

    @property
    def generation(self) -> int:
        return self._mirror.generation

    @property
    def watermark_retention(self) -> int:
        return self._mirror.watermark_retention

    def watermark(self, subject: SubjectKey) -> int | None:
        return self._mirror.watermark(subject)

    def risk(self, subject: SubjectKey) -> RiskLevel | None:
        return self._mirror.risk(subject)

    def named_locations(self) -> tuple[NamedLocation, ...]:
        return self._mirror.named_locations()

    def watermarks(self) -> dict[SubjectKey, int]:
        return self._mirror.watermarks()

    def watermark_count(self) -> int:
        return self._mirror.watermark_count()

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        return self._mirror.subscribe(listener)
