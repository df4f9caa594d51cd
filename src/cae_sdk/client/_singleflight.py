"""Coalesce concurrent identical token acquisitions into one call.

When many requests are challenged together they all need the same new token. Callers that
ask for the same key while a call is in flight wait for its outcome (value or exception)
instead of starting their own: one token request for the whole burst. Works for threads
(:meth:`SingleFlight.call`) and for asyncio tasks (:meth:`SingleFlight.acall`, which also joins
flights started by threads, because the leader task runs the call through :meth:`call` in a
worker thread).

Those worker threads are cae-sdk's own (:data:`MAX_WORKERS`), not the event loop's default
executor: an application's blocking work queued there cannot hold token acquisitions beyond
their deadline, and acquisitions held by a slow identity provider cannot starve what the loop
itself runs there (``getaddrinfo`` for every new connection).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

__all__ = ["MAX_WORKERS", "SingleFlight"]

T = TypeVar("T")

MAX_WORKERS = 16
"""Worker threads for blocking token acquisitions started from event loops (all loops share
them); each acquisition is bounded by its credential's timeout."""

_EXECUTOR: ThreadPoolExecutor | None = None
_EXECUTOR_LOCK = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _EXECUTOR
    with _EXECUTOR_LOCK:
        if _EXECUTOR is None:
            _EXECUTOR = ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="cae-sdk-token")
        return _EXECUTOR


class _Flight(Generic[T]):
    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None

    def outcome(self) -> T:
        if self.error is not None:
            raise fresh(self.error)
        return self.value  # type: ignore[return-value]


def fresh(error: BaseException) -> BaseException:
    """A copy of ``error`` for one more caller to raise: same type, arguments, attributes and
    cause, its own traceback. Raising the one object in every waiting thread or task made its
    traceback collect every waiter's frames (and keep their locals alive), mixed across
    threads. ``__init__`` is not run again (it may decorate its message)."""
    try:
        copy = type(error).__new__(type(error), *error.args)
        copy.args = error.args
        if hasattr(error, "__dict__"):
            vars(copy).update(vars(error))
    except Exception:  # noqa: BLE001 - an exception type that cannot be copied: as it is
        return error
    copy.__cause__ = error.__cause__
    copy.__context__ = error.__context__
    copy.__suppress_context__ = error.__suppress_context__
    return copy


class SingleFlight(Generic[T]):
    """Per-key call coalescing, safe across threads and event loops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _Flight[T]] = {}
        self._loop_flights: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[Hashable, asyncio.Task[T]]
        ] = weakref.WeakKeyDictionary()

    def busy(self, key: Hashable) -> bool:
        """Whether a call for ``key`` is running right now: in any thread, or started by a task
        of the calling event loop (whose worker thread may not have begun yet)."""
        if key in self._flights:
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a plain thread
            return False
        return key in self._loop_flights.get(loop, {})

    def call(self, key: Hashable, fn: Callable[[], T]) -> T:
        """Run ``fn`` unless a call for ``key`` is in flight; then wait for that call instead."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.done.wait()
            return flight.outcome()
        try:
            flight.value = fn()
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.done.set()
        return flight.value

    async def acall(self, key: Hashable, fn: Callable[[], T]) -> T:
        """Async variant for a blocking ``fn``: one task per ``key`` and event loop runs
        ``call(key, fn)`` in a worker thread of cae-sdk's own; every caller awaits that task.

        The task is shielded, so a cancelled caller (even the one that started it) never
        cancels the acquisition the others are waiting for.
        """
        loop = asyncio.get_running_loop()
        flights = self._loop_flights.setdefault(loop, {})
        task = flights.get(key)
        if task is None:
            # As asyncio.to_thread does, with the caller's context variables, on our threads.
            run = contextvars.copy_context().run
            future = loop.run_in_executor(_executor(), run, self.call, key, fn)
            task = loop.create_task(_await(future))
            flights[key] = task
            task.add_done_callback(lambda done: _finish(flights, key, done))
        try:
            return await asyncio.shield(task)
        except BaseException as exc:
            if not (task.done() and not task.cancelled() and exc is task.exception()):
                raise  # this caller was cancelled: as it is
            error = exc
        raise fresh(error)  # each waiter its own traceback


async def _await(future: asyncio.Future[T]) -> T:
    return await future


def _finish(flights: dict[Hashable, asyncio.Task[T]], key: Hashable, done: asyncio.Task[T]) -> None:
    if flights.get(key) is done:
        del flights[key]
    if not done.cancelled():
        done.exception()  # retrieved: no "never retrieved" warning when every caller left
