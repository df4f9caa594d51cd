"""One way to run an event source's ``run()`` loop as a background task and stop it, and one
way to give a call a deadline of our own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")


class BackgroundLoop:
    """Mixin: ``start()`` runs ``self.run()`` as a task (once), ``stop()`` cancels it."""

    _task_name = "cae-events"
    _task: asyncio.Task[None] | None = None

    def run(self) -> Coroutine[Any, Any, None]:  # pragma: no cover - provided by the class
        raise NotImplementedError

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=self._task_name)
        return self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has ended.

    Cancels again while it runs: before Python 3.12, ``asyncio.wait_for`` can swallow a
    cancellation that arrives as its inner call completes, and the task would carry on."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()


async def within(call: Awaitable[_T], seconds: float) -> _T:
    """``call``'s result, or :class:`asyncio.TimeoutError` once ``seconds`` have passed.

    Unlike ``asyncio.wait_for`` before Python 3.12 it never swallows a cancellation of the
    caller, and an abandoned call's late exception is consumed rather than logged as never
    retrieved."""
    task = asyncio.ensure_future(call)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        _abandon(task)
        raise
    if not done:
        _abandon(task)
        raise asyncio.TimeoutError
    return task.result()


def _abandon(task: asyncio.Future[Any]) -> None:
    task.cancel()
    task.add_done_callback(_consume)


def _consume(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
