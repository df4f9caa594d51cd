"""Return from a blocking call at its deadline, whatever the call is blocked in.

Used where the client cannot bound every socket operation itself: an HTTP client with a
transport of its own (``http_client=`` with a custom transport, or a future httpx whose
connection pools :mod:`cae_sdk.client._deadline_backend` cannot reach) and a wrapped
azure-identity credential (its HTTP is its own). :func:`call_before` runs the call in a daemon
thread (context variables copied) and waits for it until the deadline; past it, the caller gets
:class:`~cae_sdk.client._exchange.AnswerTimeout` and the thread is left to end on its own. A
thread left behind holds resources as long as the peer keeps it busy (a trickling answer can
take hours), so at most :data:`MAX_ABANDONED` may be outstanding: past that, new calls fail at
once (fail closed) until one of them ends.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from ._exchange import AnswerTimeout

__all__ = ["MAX_ABANDONED", "abandoned", "call_before"]

T = TypeVar("T")

MAX_ABANDONED = 4
"""Calls still running past their deadline at which new calls are refused."""

_LOCK = threading.Lock()
_abandoned = 0


def abandoned() -> int:
    """How many calls are still running past their deadline."""
    return _abandoned


class _Call(Generic[T]):
    __slots__ = ("done", "error", "late", "value")

    def __init__(self) -> None:
        self.done = False
        self.late = False
        self.value: T | None = None
        self.error: BaseException | None = None


def call_before(deadline: float, fn: Callable[[], T], *, what: str) -> T:
    """``fn()``, or :class:`AnswerTimeout` at ``deadline`` (``time.monotonic()``)."""
    global _abandoned
    if deadline <= time.monotonic():
        raise AnswerTimeout(f"the deadline has passed ({what})")
    with _LOCK:
        if _abandoned >= MAX_ABANDONED:
            raise AnswerTimeout(
                f"{_abandoned} earlier calls are still hung past their deadline; not starting "
                f"another until one ends ({what})"
            )
    call: _Call[T] = _Call()
    finished = threading.Condition(_LOCK)
    context = contextvars.copy_context()

    def run() -> None:
        global _abandoned
        try:
            call.value = context.run(fn)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            call.error = exc
        with finished:
            call.done = True
            if call.late:
                _abandoned -= 1
            finished.notify_all()

    threading.Thread(target=run, name="cae-sdk-deadline", daemon=True).start()
    with finished:
        while not call.done:
            left = deadline - time.monotonic()
            if left <= 0:
                call.late = True
                _abandoned += 1
                raise AnswerTimeout(f"no answer before the deadline ({what})")
            finished.wait(left)
    if call.error is not None:
        raise call.error
    return call.value  # type: ignore[return-value]
