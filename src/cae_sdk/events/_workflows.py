"""Remediation workflows: hooks on events and on access decisions.

* notify - :class:`~cae_sdk.events.WebhookNotifier` POSTs a JSON body signed with HMAC-SHA256,
  with retries;
* flag an incident - :class:`~cae_sdk.events.AuditLog` appends JSON lines;
* remediate - any ``async`` callable per event reason (e.g. revoke the user's sessions at the
  identity provider: :func:`graph_session_revoker`);
* confirm - :class:`~cae_sdk.events.RemediationTracker` notices when a challenged subject comes
  back with a token that passes, and records it as remediated with the time it took.

:class:`Workflows` runs them; the sinks are :mod:`._sinks`, incidents and who can resolve them
:mod:`._incidents`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

from ..core.errors import StoreUnavailable
from ..core.subjects import SubjectKey, SubjectKind
from ._incidents import DecisionRecord, RemediationTracker, remediation_kind
from ._model import (
    Event,
    LocationsEvent,
    RevocationEvent,
    RiskEvent,
    RiskLevel,
    event_to_dict,
    order_key,
    state_key,
)
from ._sinks import Record, Sink
from ._store import EventStore
from .graph._client import GraphClient

__all__ = ["Remediator", "Workflows", "graph_session_revoker"]

_log = logging.getLogger("cae_sdk.events.workflows")

Remediator = Callable[[Event], Awaitable[None]]

_MAX_CAUSES = 100_000
# How long "this event was handled" is remembered for state that does not expire with a
# watermark's retention (risk levels, named locations): far beyond any replica's restart.
_HANDLED_TTL = 30 * 24 * 3600


def _event_reason(event: Event) -> str:
    if isinstance(event, RevocationEvent | RiskEvent):
        return event.reason
    return "locations_changed"


class Workflows:
    """Run sinks (webhooks, audit logs) and remediators for store events and decisions.

        ``attach(store)`` subscribes to every state-changing event (from any replica); pass
        ``workflows.on_decision`` to ``CAEMiddleware(on_decision=[...])`` for decisions.

        Each event's workflow (its records and its remediation) runs once for the whole fleet:
        every replica's store notifies every event, its own and the others', and a starting replica
        notifies the whole state it reads, so the attached store's ``remember_once`` decides which
        replica handles it (shared through Redis; per host with SQLite). Without that, a remediator
        ran on every replica and again at every restart (``graph_session_revoker`` signed a user who
        had already remediated out again). When the store cannot tell, the workflow runs: a
        remediation twice is better than none (a store that is not connected yet is waited for up to
    ``handled_wait`` seconds first). At most ``max_queue`` workflows wait; more are
        dropped and counted in ``dropped`` (logged).
    """

    def __init__(
        self,
        *,
        sinks: Sequence[Sink] = (),
        remediators: Mapping[str, Remediator] | None = None,
        tracker: RemediationTracker | None = None,
        max_queue: int = 10_000,
        handled_wait: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sinks = list(sinks)
        self._handled_wait = handled_wait
        self.remediators = dict(remediators or {})
        self.tracker = tracker or RemediationTracker(clock)
        self.dropped = 0
        self._max_queue = max_queue
        self._clock = clock
        self._causes: dict[str, str] = {}
        self._queue: asyncio.Queue[Coroutine[Any, Any, None]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._store: EventStore | None = None
        self._wait_until: float | None = None

    def attach(self, store: EventStore) -> Callable[[], None]:
        if self._store is None:
            self._store = store  # decides which replica handles each event
        return store.subscribe(self.on_event)

    async def _first_to_handle(self, event: Event) -> bool:
        store = self._store
        if store is None:
            return True
        # A replica notifies the state it reads while it starts or catches up, before its
        # store is connected: only a connected store's answer is the fleet's. Workflows are
        # not urgent; wait for it (bounded), then run if it still cannot tell.
        # One wait per outage, not per event: a backlog behind a long outage would otherwise
        # wait ``handled_wait`` each, one after the other.
        if store.healthy:
            self._wait_until = None
        else:
            if self._wait_until is None:
                self._wait_until = time.monotonic() + self._handled_wait
            # ``healthy`` is derived when read: there is no event to wait on, only to poll.
            while not store.healthy and time.monotonic() < self._wait_until:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        ttl = store.watermark_retention if isinstance(event, RevocationEvent) else _HANDLED_TTL
        key = f"workflow:{state_key(event)}:{order_key(event)}"
        try:
            return await store.remember_once(key, ttl)
        except StoreUnavailable:
            return True

    def on_event(self, event: Event) -> None:
        """Store listener (synchronous): remembers why the subject was hit (for decisions that
        follow at once) and schedules the event's workflow."""
        subject = getattr(event, "subject", None)
        if subject is not None:
            if len(self._causes) >= _MAX_CAUSES:
                self._causes.clear()
            self._causes[str(subject)] = _event_reason(event)
        self._spawn(self.handle_event(event))

    async def handle_event(self, event: Event) -> None:
        if not await self._first_to_handle(event):
            return  # another replica (or this one, before a restart) handled it
        reason = _event_reason(event)
        record: Record = {
            "kind": "event",
            "event": event_to_dict(event),
            "remediation": remediation_kind(reason).value,
            "at": self._clock(),
        }
        if isinstance(event, RiskEvent) and event.level is RiskLevel.NONE:
            record["kind"] = "risk_cleared"
        if isinstance(event, LocationsEvent):
            record["kind"] = "locations"
        await self._emit(record)
        remediator = self.remediators.get(reason)
        if remediator is not None:
            try:
                await remediator(event)
            except Exception as exc:  # noqa: BLE001 - a failed remediation must not stop others
                _log.error("remediation for %s failed: %s", reason, type(exc).__name__)
                await self._emit(
                    {"kind": "remediation_failed", "reason": reason, "at": self._clock()}
                )

    async def on_decision(self, record: DecisionRecord) -> None:
        """``CAEMiddleware`` decision hook."""
        details = getattr(record.decision, "details", None) or {}
        cause = self._causes.get(str(details.get("subject")))
        observed = self.tracker.observe(record, cause=cause)
        if observed is not None:
            await self._emit(observed)

    async def _emit(self, record: Record) -> None:
        for sink in self.sinks:
            try:
                await sink(record)
            except Exception as exc:  # noqa: BLE001 - one broken sink must not silence the rest
                _log.error("workflow sink failed: %s", type(exc).__name__)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        # One worker per loop keeps workflows in event order (the audit log reads in order).
        if self._queue is None:
            self._queue = asyncio.Queue(self._max_queue)
        try:
            self._queue.put_nowait(coroutine)
        except asyncio.QueueFull:
            coroutine.close()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                _log.error("workflow queue full: %d workflows dropped so far", self.dropped)
            return
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work(self._queue))

    async def _work(self, queue: asyncio.Queue[Coroutine[Any, Any, None]]) -> None:
        while True:
            coroutine = await queue.get()
            try:
                await coroutine
            finally:
                queue.task_done()

    async def drain(self) -> None:
        """Wait until every scheduled workflow ran (shutdown, tests)."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        await self.drain()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None


def graph_session_revoker(client: GraphClient, *, api_version: str = "v1.0") -> Remediator:
    """A remediator that revokes a user's refresh tokens and sessions at Entra
    (``POST /users/{id}/revokeSignInSessions``), e.g. for ``credential_compromise``."""

    async def revoke(event: Event) -> None:
        subject = getattr(event, "subject", None)
        if isinstance(subject, SubjectKey) and subject.kind is SubjectKind.USER:
            await client.post(f"/{api_version}/users/{subject.value}/revokeSignInSessions")

    return revoke
