"""The synchronous driver of the request path, for WSGI servers and other blocking callers.

:class:`BlockingRequestPath` runs :meth:`RequestPath.begin` and :meth:`RequestPath.finish` in the
calling thread. A token the validator has seen before is answered from its cache there too; only
a new token (a signature to verify, perhaps signing keys to fetch) goes to one event loop that
the driver owns on a daemon thread, with a deadline the driver enforces itself. Async
``on_decision`` hooks run on that loop as well.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

from ..core.decisions import Decision, token_refusal
from ..core.tokens import TokenClaims
from ._exchange import Exchange, Headers, PathResult
from ._hooks import close_hooks
from ._path import RequestPath

__all__ = ["BlockingRequestPath"]

log = logging.getLogger("cae_sdk.resource")

_T = TypeVar("_T")


class BlockingRequestPath:
    """Drive ``path`` from synchronous code::

        blocking = BlockingRequestPath(RequestPath(validator=validator, store=store))
        result = blocking.decide("GET", "/orders", headers, "203.0.113.7")
        ...
        blocking.close()

    ``timeout`` bounds the wait for a new token's validation (signing keys included): past it
    the request is answered ``503 temporarily_unavailable`` (``keys_unavailable``).
    """

    def __init__(self, path: RequestPath, *, timeout: float = 10.0) -> None:
        self.path = path
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="cae-request-path", daemon=True
        )
        self._thread.start()

    def decide(self, method: str, path: str, headers: Headers, peer: str | None) -> PathResult:
        request_path = self.path
        exchange = request_path.begin(method, path, headers, peer)
        result = exchange.result
        if result is None:  # a new token: verified on the driver's loop
            try:
                claims = self._run(request_path._verification(exchange))
            except concurrent.futures.TimeoutError:
                result = request_path.refuse(
                    exchange,
                    token_refusal("keys_unavailable", "token validation timed out", retry_after=1),
                )
            except Exception as error:  # noqa: BLE001 - settle() logs and refuses it
                result = request_path.settle(exchange, error=error)
            else:
                result = request_path.finish(exchange, claims)
        return self._hooked(exchange, result)

    def refuse_route(
        self,
        exchange: Exchange,
        decision: Decision,
        claims: TokenClaims,
        *,
        authorization_uri: str | None = None,
    ) -> PathResult:
        """:meth:`RequestPath.refuse_route` for synchronous code (a WSGI route guard): the
        refusal built and logged in the calling thread, the hooks run as :meth:`decide` runs
        them, within the same deadlines."""
        refusal = self.path._route_refusal(exchange, decision, claims, authorization_uri)
        return self._hooked(exchange, refusal)

    def _hooked(self, exchange: Exchange, result: PathResult) -> PathResult:
        """``result`` once the hooks have seen it (this driver's one hook step)."""
        request_path = self.path
        if request_path.hooks:
            pending = request_path.run_hooks(exchange, result)
            if pending:
                self._await_hooks(pending)
        return result

    def _await_hooks(self, pending: list[Awaitable[None]]) -> None:
        # The same deadline as the async driver (settings.hook_timeout, enforced on the loop by
        # RequestPath.await_hooks); a driver that cannot run them (closed) logs, never raises.
        waiting = self.path.await_hooks(pending)
        try:
            self._run(waiting)
        except concurrent.futures.TimeoutError:
            log.warning("on_decision hooks did not finish within %s s", self.timeout)
        except Exception:  # the loop is closed (or a hook raised past its guard)
            log.exception("on_decision hooks could not run")
            close_hooks(pending)  # never started, or finished: closing is safe

    def _run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        try:
            future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        except BaseException:  # the loop is closed: the coroutine never runs
            coroutine.close()
            raise
        try:
            return future.result(self.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        """Stop the driver's event loop (after closing the validator's key source on it)."""
        if self._loop.is_closed():
            return
        try:
            self._run(self.path.validator.aclose())
        except Exception:  # closing must not raise; the loop stops below either way
            log.exception("closing the validator failed")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self.timeout)
        self._loop.close()

    def __enter__(self) -> BlockingRequestPath:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
