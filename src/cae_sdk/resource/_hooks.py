"""The ``on_decision`` hooks of the request path: what they receive (:class:`AccessRecord`), how
they are called (a hook never breaks a request) and how the async ones are awaited (together,
within a deadline, never waited for past it)."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any

from ..core.decisions import Decision
from ..core.tokens import TokenClaims

__all__ = ["AccessRecord", "DecisionHook", "await_hooks", "call_hooks", "close_hooks"]

log = logging.getLogger("cae_sdk.resource")


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """What an ``on_decision`` hook receives. Never holds the token itself."""

    decision: Decision
    claims: TokenClaims | None
    method: str
    path: str
    client_ip: str | None


DecisionHook = Callable[[AccessRecord], "Awaitable[None] | None"]
"""An ``on_decision`` hook: called with the :class:`AccessRecord` of every request, sync or
async."""


def call_hooks(hooks: Iterable[DecisionHook], record: AccessRecord) -> list[Awaitable[None]]:
    """Call every hook with ``record``; returns the awaitables the async hooks returned (a hook
    that raises is logged, never breaks the request)."""
    pending: list[Awaitable[None]] = []
    for hook in hooks:
        try:
            outcome = hook(record)
        except Exception:
            log.exception("on_decision hook %r failed", hook)
            continue
        if inspect.isawaitable(outcome):
            pending.append(_PendingHook(hook, outcome))
    return pending


async def await_hooks(pending: list[Awaitable[None]], timeout: float) -> None:
    """Run what :func:`call_hooks` returned, together, within ``timeout`` seconds: a hook still
    running then is cancelled and logged, never waited for (the request's answer must not
    depend on an audit sink). Each runs as a task of its own, so not even a hook that swallows
    its cancellation can hold the request."""
    tasks = [asyncio.ensure_future(outcome) for outcome in pending]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        _, late = await asyncio.wait(tasks, timeout=timeout)
    except asyncio.CancelledError:
        # This waiter is cancelled first (the blocking driver's own, shorter timeout): the
        # hooks still end at their deadline, never run on unawaited.
        loop.call_at(deadline, _cancel, tasks)
        raise
    if late:
        for task in late:
            task.cancel()
        log.warning("%d on_decision hook(s) did not finish within %s s", len(late), timeout)


def _cancel(tasks: Iterable[asyncio.Future[None]]) -> None:
    for task in tasks:
        task.cancel()  # a finished one is left as it is


class _PendingHook:
    """An async hook's awaitable, contained: awaiting it never raises (a hook must never break
    a request), and :meth:`close` closes one that will not be awaited (a deadline passed)."""

    __slots__ = ("hook", "outcome")

    def __init__(self, hook: DecisionHook, outcome: Awaitable[None]) -> None:
        self.hook = hook
        self.outcome = outcome

    def __await__(self) -> Generator[Any, None, None]:
        return self._contained().__await__()

    async def _contained(self) -> None:
        try:
            await self.outcome
        except Exception:
            log.exception("on_decision hook %r failed", self.hook)

    def close(self) -> None:
        if inspect.iscoroutine(self.outcome):
            self.outcome.close()


def close_hooks(pending: Iterable[Awaitable[None]]) -> None:
    """Close hook awaitables that will never be awaited (no "never awaited" warnings)."""
    for outcome in pending:
        if isinstance(outcome, _PendingHook) or inspect.iscoroutine(outcome):
            outcome.close()
