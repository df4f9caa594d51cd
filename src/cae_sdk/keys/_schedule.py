"""When a key set is fetched: one fetch at a time, at most one started per cooldown.

:class:`FetchSchedule` runs the fetches of one :class:`~cae_sdk.keys.KeySource`:

* one fetch in flight (concurrent callers share its task);
* a fetch the cooldown holds back is deferred to the earliest moment it allows (one timer), so
  the limit delays a fetch, it never drops one;
* fetches run on the event loop of the caller; a fetch or timer left by another (closed) loop
  is forgotten, so it can never block fetches for good, and a thread without a loop hands its
  call over to the loop the source last fetched on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["FetchSchedule"]

Fetch = Callable[[float], Coroutine[Any, Any, bool]]
"""``fetch(started)``: one fetch that began at ``started`` (the schedule's clock); True when it
loaded a key set."""


class FetchSchedule:
    """Starts ``fetch`` as the module docstring says; ``cooldown`` seconds between starts,
    except while ``unlimited`` (a source retrying until its first load)."""

    def __init__(
        self, fetch: Fetch, *, cooldown: float, clock: Callable[[], float], unlimited: bool
    ) -> None:
        self._fetch = fetch
        self.cooldown = cooldown
        self._clock = clock
        self.unlimited = unlimited
        self.last_attempt = float("-inf")
        self.inflight: asyncio.Task[bool] | None = None
        self.inflight_started = float("-inf")
        """When the fetch in flight (or the last one) started."""
        self.attempts = 0
        self._deferred: asyncio.TimerHandle | None = None
        self._deferred_at = float("-inf")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handing_over = False

    def running(self) -> asyncio.Task[bool] | None:
        """The fetch in flight, if any."""
        task = self.inflight
        return None if task is None or task.done() else task

    def may_start(self, now: float) -> bool:
        if self.running() is not None:
            return False
        return self.unlimited or now - self.last_attempt >= self.cooldown

    def retry_after(self) -> float:
        """Seconds until the cooldown lets the next fetch start."""
        return self.last_attempt + self.cooldown - self._clock()

    def start(self) -> asyncio.Task[bool]:
        """The fetch in flight, or a new one started now (whatever the cooldown says)."""
        task = self.running()
        if task is not None:
            return task
        if self._deferred is not None:
            self._deferred.cancel()  # this fetch is the one it was waiting for
            self._deferred = None
        self.last_attempt = self.inflight_started = self._clock()
        self.attempts += 1
        self.inflight = asyncio.ensure_future(self._fetch(self.inflight_started))
        return self.inflight

    def defer(self, now: float) -> float:
        """Schedule one fetch at the earliest moment the cooldown allows; returns that time."""
        if self._deferred is not None:
            return self._deferred_at
        start_at = max(now, self.last_attempt + self.cooldown)
        self._deferred_at = start_at
        self._deferred = asyncio.get_running_loop().call_later(
            max(0.0, start_at - now), self._run_deferred
        )
        return start_at

    def _run_deferred(self) -> None:
        self._deferred = None
        if self.running() is None:
            self.start()

    def adopt_loop(self) -> asyncio.AbstractEventLoop:
        """The running loop (``RuntimeError`` without one); a fetch or timer left by another
        loop is forgotten."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self.inflight = None
            self._deferred = None
        return loop

    def hand_over(self, call: Callable[[], None]) -> None:
        """From a thread without an event loop: run ``call`` on the loop fetches last ran on,
        if it still runs (one hand-over at a time)."""
        loop = self._loop
        if loop is None or self._handing_over or loop.is_closed() or not loop.is_running():
            return  # never fetched from a loop: the first async lookup loads the keys
        self._handing_over = True

        def handed_over() -> None:
            self._handing_over = False
            call()

        try:
            loop.call_soon_threadsafe(handed_over)
        except RuntimeError:  # the loop closed meanwhile
            self._handing_over = False

    def close(self) -> None:
        """Cancel the deferred fetch and the one in flight."""
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        task = self.running()
        if task is not None:
            task.cancel()
