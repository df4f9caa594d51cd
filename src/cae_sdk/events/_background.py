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
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
