"""What the receiver knows about its streams: which they are, and the status the transmitter
announced (SSF 1.0 section 8.1.5, stream-updated events)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ...core.errors import EventValidationError
from ._rules import INVALID_REQUEST, SecurityEvent

__all__ = ["STREAM_STATUSES", "StreamState", "StreamStatuses", "notify_observer"]

_log = logging.getLogger("cae_sdk.events.ssf")

STREAM_STATUSES = ("enabled", "paused", "disabled")  # SSF 1.0 section 8.1.2
T = TypeVar("T")
_MAX_STREAMS = 1024


def notify_observer(observer: Callable[[T], None] | None, value: T, what: str) -> None:
    """Call an application's observer; its failure is logged, never the delivery's failure."""
    if observer is None:
        return
    try:
        observer(value)
    except Exception as exc:  # noqa: BLE001 - an observer must not fail the delivery
        _log.error("%s callback failed: %s", what, type(exc).__name__)


@dataclass(frozen=True, slots=True)
class StreamState:
    """A stream's status as the transmitter last announced it."""

    stream_id: str | None
    status: str
    reason: str | None = None
    at: int = 0
    """``iat`` of the stream-updated SET (an older announcement never overrides a newer)."""

    @property
    def delivering(self) -> bool:
        """False while paused (the transmitter holds events) or disabled (it drops them)."""
        return self.status == "enabled"


class StreamStatuses:
    def __init__(
        self,
        stream_ids: Collection[str] = (),
        on_updated: Callable[[StreamState], None] | None = None,
    ) -> None:
        self._known = set(stream_ids)
        self._states: dict[str | None, StreamState] = {}
        self._on_updated = on_updated

    def add(self, stream_id: str) -> None:
        self._known.add(stream_id)

    def discard(self, stream_id: str) -> None:
        self._known.discard(stream_id)
        self._states.pop(stream_id, None)

    @property
    def known(self) -> frozenset[str]:
        return frozenset(self._known)

    def check(self, subject: Mapping[str, Any]) -> str | None:
        """The stream a control event names (SSF 1.0 sections 8.1.4.1 and 8.1.5: ``sub_id`` is
        ``opaque`` with the stream id); refused when the receiver knows its streams and this is
        none of them."""
        stream_id = subject.get("id") if subject.get("format") == "opaque" else None
        if not isinstance(stream_id, str):
            stream_id = None
        if self._known and stream_id not in self._known:
            raise EventValidationError(INVALID_REQUEST, "control event names an unknown stream")
        return stream_id

    def update(self, event: SecurityEvent, payload: Mapping[str, Any]) -> StreamState:
        stream_id = self.check(event.subject)
        status = payload.get("status")
        if status not in STREAM_STATUSES:
            raise EventValidationError(INVALID_REQUEST, "stream-updated status is not valid")
        reason = payload.get("reason")
        state = StreamState(
            stream_id, str(status), reason if isinstance(reason, str) else None, event.issued_at
        )
        current = self._states.get(stream_id)
        if current is not None and current.at > state.at:
            return current  # a late, older announcement
        self._states[stream_id] = state
        while len(self._states) > _MAX_STREAMS:  # a transmitter naming ever new streams
            del self._states[next(iter(self._states))]
        log = _log.info if state.delivering else _log.warning
        log("transmitter set stream %s to %s (%s)", stream_id, state.status, state.reason or "")
        notify_observer(self._on_updated, state, "stream-updated")
        return state

    def get(self, stream_id: str | None = None) -> StreamState:
        """The announced status (``enabled`` until the transmitter says otherwise)."""
        found = self._states.get(stream_id)
        if found is None and stream_id is None and len(self._states) == 1:
            found = next(iter(self._states.values()))
        return found or StreamState(stream_id, "enabled")

    def set_read(self, stream_id: str, status: str, reason: str | None = None) -> StreamState:
        """Record a status read from the status endpoint (SSF 1.0 section 8.1.2.1)."""
        state = StreamState(stream_id, status, reason, self.get(stream_id).at)
        self._states[stream_id] = state
        return state
