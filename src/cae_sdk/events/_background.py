"""One way to run an event source's ``run()`` loop as a background task and stop it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


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
