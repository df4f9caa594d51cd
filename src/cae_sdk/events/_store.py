"""The ``EventStore`` contract shared by the resource middleware and every event source.

Reads (``watermark``, ``risk``, ``named_locations``) are synchronous and local: they sit on the
request hot path and must never wait on a network. Writes (``apply``) are asynchronous because a
shared store (Redis) distributes them to every replica.

Every store follows the same rules (``tests/events/test_store_contract.py`` runs one suite on
each of them):

* Ordering: of all events for one piece of state, the one with the greatest
  :func:`~cae_sdk.events._model.order_key` is the state (time first; on a tie a watermark stays,
  the more severe risk wins, locations break the tie by their canonical digest). Applying the
  same events in any order, any number of times, gives the same state.
* Failure: a write that raised left no partial state; retried, it is applied.
* Retention: a watermark is kept ``watermark_retention`` seconds after its time. A resource must
  refuse tokens that live longer than that (minus clock leeway), or a revoked token could be
  served again once its watermark is gone.
* Health: ``healthy`` is derived at read time from ``staleness()``: a store that has not heard
  from its backend for longer than its ``max_staleness`` is unhealthy by itself, whatever its
  background tasks are doing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from ..core.locations import NamedLocation
from ..core.subjects import SubjectKey
from ._model import Event, LocationsEvent, RevocationEvent, RiskEvent, RiskLevel

__all__ = ["EventListener", "EventStore", "EventStoreMixin"]

EventListener = Callable[[Event], None]


@runtime_checkable
class EventStore(Protocol):
    """The store contract: synchronous local reads for the request path (``watermark``, ``risk``,
    ``named_locations``), asynchronous writes (``apply``) that reach every replica, one ordering
    rule, retention and derived health. Every store (memory, SQLite, Redis) implements it."""

    async def start(self) -> None:
        """Connect and load state; idempotent."""

    async def close(self) -> None:
        """Release connections and background tasks; idempotent."""

    async def apply(self, event: Event) -> bool:
        """Record an event. Returns True when it changed state (a newer watermark, a new risk
        level, new locations), False when it was already known or older."""

    def watermark(self, subject: SubjectKey) -> int | None:
        """Newest revocation watermark (epoch seconds) for ``subject``, or None. O(1)."""

    def risk(self, subject: SubjectKey) -> RiskLevel | None:
        """Current risk level of ``subject``, or None if none was reported."""

    def named_locations(self) -> tuple[NamedLocation, ...]:
        """The named locations currently in force."""

    def subscribe(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener`` for every event that changes state (from any replica); returns a
        function that unsubscribes."""

    @property
    def healthy(self) -> bool:
        """False while the store may be missing events: its backend is unreachable, it has not
        caught up yet, or it has not heard from the backend within its ``max_staleness`` (the
        middleware's fail mode applies)."""

    def staleness(self) -> float:
        """Seconds since the store last knew it had every event (0.0 for a local store)."""

    @property
    def watermark_retention(self) -> int:
        """Seconds a watermark is kept after its time; at least the longest token lifetime
        the resource accepts plus clock leeway."""

    async def remember_once(self, key: str, ttl_seconds: int) -> bool:
        """Record ``key`` (e.g. a SET ``jti``); True the first time, False if already seen."""

    async def forget(self, key: str) -> None:
        """Undo :meth:`remember_once` for ``key`` (its event could not be applied), so that a
        redelivery is accepted. Raises :class:`~cae_sdk.core.errors.StoreUnavailable` when
        that cannot be guaranteed."""

    async def get_cursor(self, name: str) -> str | None:
        """Read a persisted cursor (e.g. a Graph delta link)."""

    async def set_cursor(self, name: str, value: str | None) -> None:
        """Persist (or, with None, delete) a cursor."""

    def watermarks(self) -> dict[SubjectKey, int]:
        """A snapshot of every live watermark (admin API listing; not for the hot path)."""


class EventStoreMixin:
    """Convenience writers (the Python event API) for any class that implements ``apply``."""

    async def apply(self, event: Event) -> bool:  # pragma: no cover - provided by the store
        raise NotImplementedError

    async def revoke_user(
        self, tenant_id: str, object_id: str, *, at: int | None = None, reason: str = "revoked"
    ) -> bool:
        return await self.apply(
            RevocationEvent(SubjectKey.user(tenant_id, object_id), _now(at), reason)
        )

    async def revoke_service_principal(
        self, tenant_id: str, app_id: str, *, at: int | None = None, reason: str = "sp_disabled"
    ) -> bool:
        return await self.apply(
            RevocationEvent(SubjectKey.service_principal(tenant_id, app_id), _now(at), reason)
        )

    async def revoke_session(
        self, tenant_id: str, session_id: str, *, at: int | None = None, reason: str = "revoked"
    ) -> bool:
        return await self.apply(
            RevocationEvent(SubjectKey.session(tenant_id, session_id), _now(at), reason)
        )

    async def revoke_tenant(
        self, tenant_id: str, *, at: int | None = None, reason: str = "revoked"
    ) -> bool:
        return await self.apply(RevocationEvent(SubjectKey.tenant(tenant_id), _now(at), reason))

    async def set_risk(
        self, subject: SubjectKey, level: RiskLevel | str, *, at: int | None = None
    ) -> bool:
        return await self.apply(RiskEvent(subject, RiskLevel(level), _now(at)))

    async def set_named_locations(
        self, locations: tuple[NamedLocation, ...] | list[NamedLocation], *, at: int | None = None
    ) -> bool:
        return await self.apply(LocationsEvent(tuple(locations), _now(at)))


def _now(at: int | None) -> int:
    return int(time.time()) if at is None else int(at)
