"""The embedded default store: process-local, in memory.

Watermarks older than :data:`WATERMARK_TTL_SECONDS` are dropped lazily, so memory stays bounded
by the number of revocations in the last 28 hours.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..core.locations import NamedLocation
from ..core.subjects import SubjectKey
from .model import WATERMARK_TTL_SECONDS, Event, LocationsEvent, RevocationEvent, RiskLevel
from .store import EventListener, EventStoreMixin

__all__ = ["InMemoryEventStore"]


class InMemoryEventStore(EventStoreMixin):
    def __init__(
        self,
        *,
        watermark_ttl: int = WATERMARK_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._watermarks: dict[SubjectKey, int] = {}
        self._risk: dict[SubjectKey, RiskLevel] = {}
        self._locations: tuple[NamedLocation, ...] = ()
        self._listeners: list[EventListener] = []
        self._seen: dict[str, float] = {}
        self._cursors: dict[str, str] = {}
        self._ttl = watermark_ttl
        self._clock = clock

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    @property
    def healthy(self) -> bool:
        return True

    def apply_local(self, event: Event) -> bool:
        """Apply without notifying; shared stores use this to update their mirror."""
        if isinstance(event, RevocationEvent):
            current = self._watermarks.get(event.subject)
            if current is not None and current >= event.not_before:
                return False
            self._watermarks[event.subject] = event.not_before
            return True
        if isinstance(event, LocationsEvent):
            if event.locations == self._locations:
                return False
            self._locations = event.locations
            return True
        if self._risk.get(event.subject) is event.level:
            return False
        if event.level is RiskLevel.NONE:
            self._risk.pop(event.subject, None)
        else:
            self._risk[event.subject] = event.level
        return True

    async def apply(self, event: Event) -> bool:
        changed = self.apply_local(event)
        if changed:
            self.notify(event)
        return changed

    def notify(self, event: Event) -> None:
        for listener in list(self._listeners):
            listener(event)

    def watermark(self, subject: SubjectKey) -> int | None:
        value = self._watermarks.get(subject)
        if value is not None and value + self._ttl < self._clock():
            del self._watermarks[subject]
            return None
        return value

    def risk(self, subject: SubjectKey) -> RiskLevel | None:
        return self._risk.get(subject)

    def named_locations(self) -> tuple[NamedLocation, ...]:
        return self._locations

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
        if len(self._seen) > 100_000:
            self._seen = {k: v for k, v in self._seen.items() if v > now}
        return True

    async def get_cursor(self, name: str) -> str | None:
        return self._cursors.get(name)

    async def set_cursor(self, name: str, value: str | None) -> None:
        if value is None:
            self._cursors.pop(name, None)
        else:
            self._cursors[name] = value

    def watermarks(self) -> dict[SubjectKey, int]:
        cutoff = self._clock() - self._ttl
        return {k: v for k, v in self._watermarks.items() if v >= cutoff}
