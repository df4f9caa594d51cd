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
* Generation: ``generation`` is a number that changes after every change of state an event
  makes (a watermark, a risk level, named locations: from this process or another replica), set
  once the new state is readable. While it stays the same, revocation and risk decide a token as
  they did; so the request path reuses the answer it got for a token it verified before, instead
  of reading every subject of the token again on every request. Values come from one counter
  for the whole process (:func:`next_generation`), so two stores never show the same value and a
  value is never shown twice. Only an allowing answer is reused, and the passing of time alone
  (a watermark past its retention) can only turn a refusal into an allow: it needs no new
  generation. A store without ``generation`` is read on every request (the attribute is
  optional for stores of your own); so is a subclass of the memory store or of a shared store
  that overrides ``watermark``, ``risk`` or ``named_locations``, unless it defines
  ``generation`` itself (its reads may change without an event).
* Listing: ``watermark_page`` costs one page (at most :data:`MAX_WATERMARK_PAGE` watermarks),
  never the whole set, in memory and in the backend; its cursor is opaque and the store's own.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..core.locations import NamedLocation
from ..core.subjects import SubjectKey
from ._model import Event, LocationsEvent, RevocationEvent, RiskEvent, RiskLevel

__all__ = [
    "MAX_WATERMARK_PAGE",
    "EventListener",
    "EventStore",
    "EventStoreMixin",
    "WatermarkPage",
    "decode_page_cursor",
    "encode_page_cursor",
    "next_generation",
    "page_limit",
]

EventListener = Callable[[Event], None]

MAX_WATERMARK_PAGE = 1000
"""The most watermarks one :meth:`EventStore.watermark_page` call returns."""

_MAX_CURSOR = 4096  # characters of a page cursor: a few keys at the most


@dataclass(frozen=True, slots=True)
class WatermarkPage:
    """One page of a store's live watermarks (:meth:`EventStore.watermark_page`)."""

    watermarks: tuple[tuple[SubjectKey, int], ...]
    """``(subject, not_before)`` pairs, in no particular order."""
    next_cursor: str | None
    """Where the next page starts; None when the listing is complete."""


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
        """A snapshot of every live watermark, from the local state (tests and tools; not for
        the hot path, and not for listing a large store: see :meth:`watermark_page`)."""

    async def watermark_page(self, limit: int, cursor: str | None = None) -> WatermarkPage:
        """At most ``limit`` (1 to :data:`MAX_WATERMARK_PAGE`) live watermarks from ``cursor``
        (None for the first page, then the ``next_cursor`` of the page before), read from the
        store's backend one page at a time.

        A page may hold fewer than ``limit`` even when more follow: the listing is complete
        when ``next_cursor`` is None. Every watermark live from the first page to the last is
        listed at least once (a shared store may list one twice, as Redis ``SCAN`` does).
        Raises ``ValueError`` for a ``limit`` out of range or a cursor the store did not
        issue, :class:`~cae_sdk.core.errors.StoreUnavailable` when the backend is away."""

    def watermark_count(self) -> int:
        """How many watermarks the store holds, in O(1) (health checks call it often; a few
        past their retention may be counted until they are swept)."""


_GENERATIONS = itertools.count(1)


def next_generation() -> int:
    """A store generation no store of this process has shown before (``itertools.count``: one
    atomic step in CPython, so threads never draw the same value)."""
    return next(_GENERATIONS)


def page_limit(limit: int) -> int:
    """``limit`` when it is a page size a store accepts, else ``ValueError``."""
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise ValueError("limit must be an integer")
    if not 1 <= limit <= MAX_WATERMARK_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_WATERMARK_PAGE}")
    return limit


def encode_page_cursor(position: Any) -> str:
    """A store's position (JSON) as an opaque, URL-safe page cursor."""
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_page_cursor(cursor: str) -> Any:
    """The position :func:`encode_page_cursor` encoded; ``ValueError`` for anything else."""
    if not isinstance(cursor, str) or not 0 < len(cursor) <= _MAX_CURSOR:
        raise ValueError("not a page cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise ValueError("not a page cursor") from None


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
