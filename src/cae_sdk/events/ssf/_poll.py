"""RFC 8936 poll delivery: a background task that fetches SETs, acknowledges them, and reports
the ones it refused.

Each request carries the acknowledgements (``ack``) and errors (``setErrs``) for what the
previous response delivered (RFC 8936 section 2.4), so every SET is answered exactly once. With
``moreAvailable`` the next request goes out immediately; otherwise it long-polls
(``returnImmediately: false``). Transport errors and non-200 answers back off exponentially.
SETs that could not be stored (:class:`StoreUnavailable`) are neither acknowledged nor refused,
so the transmitter delivers them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from ...core.errors import CAEError, EventSourceError, EventValidationError
from .._auth import BearerSource, bearer_auth
from .._background import BackgroundLoop
from .._http import Answer, exchange
from ._receiver import SetReceiver
from ._rules import INVALID_REQUEST

__all__ = ["PollClient", "PollResult", "build_poll_request", "parse_poll_response"]

_log = logging.getLogger("cae_sdk.events.ssf")


def build_poll_request(
    *,
    ack: list[str],
    errors: Mapping[str, tuple[str, str]],
    max_events: int,
    return_immediately: bool,
) -> dict[str, Any]:
    """The RFC 8936 section 2.2 request body."""
    body: dict[str, Any] = {"maxEvents": max_events, "returnImmediately": return_immediately}
    if ack:
        body["ack"] = list(ack)
    if errors:
        body["setErrs"] = {
            jti: {"err": err, "description": description}
            for jti, (err, description) in errors.items()
        }
    return body


def parse_poll_response(body: Any) -> tuple[dict[str, Any], bool]:
    """``(sets by jti, moreAvailable)`` from an RFC 8936 section 2.3 response body. Values are
    returned as sent: one that is not a string is refused in ``setErrs`` like any bad SET."""
    if not isinstance(body, Mapping) or not isinstance(body.get("sets", {}), Mapping):
        raise EventValidationError(INVALID_REQUEST, "poll response is not an RFC 8936 object")
    sets = {str(k): v for k, v in body.get("sets", {}).items()}
    return sets, body.get("moreAvailable") is True


@dataclass(slots=True)
class PollResult:
    """What one poll did: SETs received, acknowledged, refused (``jti`` -> (err, description),
    reported in ``setErrs``), left for a later poll, and whether more are available."""

    received: int = 0
    acknowledged: list[str] = field(default_factory=list)
    refused: dict[str, tuple[str, str]] = field(default_factory=dict)
    retry_later: list[str] = field(default_factory=list)
    more_available: bool = False
    retry_after: float | None = None
    """The longest wait a SET to deliver again asked for (e.g. a deferred key refresh)."""


class PollClient(BackgroundLoop):
    """Poll one stream's endpoint and feed the SETs to a :class:`SetReceiver`."""

    _task_name = "cae-ssf-poll"

    def __init__(
        self,
        receiver: SetReceiver,
        endpoint: str,
        *,
        http: httpx.AsyncClient,
        auth: BearerSource,
        scopes: Sequence[str] = (),
        max_events: int = 100,
        long_poll: bool = True,
        request_timeout: float = 35.0,
        max_response_bytes: int = 16 * 1024 * 1024,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.receiver = receiver
        self.endpoint = endpoint
        self._http = http
        self._auth = bearer_auth(auth, scopes)
        self._max_events = max_events
        self._long_poll = long_poll
        self._timeout = request_timeout
        self._max_bytes = max_response_bytes
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._sleep = sleep
        self._ack: list[str] = []
        self._errors: dict[str, tuple[str, str]] = {}
        self.failures = 0

    async def poll_once(self, *, return_immediately: bool | None = None) -> PollResult:
        """One request/response round; raises ``httpx.HTTPError`` on transport errors and
        :class:`EventSourceError` on HTTP errors, a missed deadline or an oversized answer (the
        pending acknowledgements are kept for the next round)."""
        immediate = (not self._long_poll) if return_immediately is None else return_immediately
        body = build_poll_request(
            ack=self._ack,
            errors=self._errors,
            max_events=self._max_events,
            return_immediately=immediate,
        )
        response = await self._post(body)
        # The transmitter has our answers now.
        self._ack, self._errors = [], {}
        sets, more = parse_poll_response(response.json())
        result = PollResult(received=len(sets), more_available=more)
        for jti, token in sets.items():
            await self._process(jti, token, result)
        self._ack = list(result.acknowledged)
        self._errors = dict(result.refused)
        return result

    async def _process(self, jti: str, token: Any, result: PollResult) -> None:
        delivery = await self.receiver.deliver(token)
        if delivery.accepted:
            result.acknowledged.append(jti)
        elif delivery.err is not None:
            result.refused[jti] = (delivery.err, delivery.description)
        else:
            result.retry_later.append(jti)  # neither acked nor refused: delivered again
            hint = delivery.retry_after
            if hint is not None and (result.retry_after is None or hint > result.retry_after):
                result.retry_after = hint

    async def flush(self) -> None:
        """Send pending acknowledgements without asking for more SETs (``maxEvents: 0``)."""
        if not self._ack and not self._errors:
            return
        body = build_poll_request(
            ack=self._ack, errors=self._errors, max_events=0, return_immediately=True
        )
        await self._post(body)
        self._ack, self._errors = [], {}

    async def _post(self, body: dict[str, Any]) -> Answer:
        """One poll request: ``request_timeout`` is the deadline of the whole exchange (a long
        poll included), and at most ``max_response_bytes`` of the answer are read."""
        response = await exchange(
            self._http, "POST", self.endpoint, json_body=body, auth=self._auth,
            deadline=self._timeout, max_bytes=self._max_bytes,
        )  # fmt: skip
        if not response.is_success:
            raise EventSourceError(
                f"poll endpoint answered HTTP {response.status}", status=response.status
            )
        return response

    async def run(self) -> None:
        """Poll until cancelled; no failure ends the loop."""
        more = False
        retrying = 0  # consecutive rounds that left SETs to be delivered again
        while True:
            try:
                result = await self.poll_once(return_immediately=more or not self._long_poll)
            except Exception as exc:  # noqa: BLE001 - the loop outlives any failure
                # Transport, HTTP, a credential's TokenAcquisitionError, garbage: retried with
                # backoff. An unexpected one is logged with its traceback, never the loop's end
                # (a dead loop would stop every revocation of the stream, silently).
                self.failures += 1
                delay = self._backoff(self.failures)
                if isinstance(exc, (httpx.HTTPError, CAEError, ValueError)):
                    _log.warning("SET poll failed (%s); retry in %.1fs", type(exc).__name__, delay)
                else:
                    _log.exception("SET poll failed unexpectedly; retry in %.1fs", delay)
                await self._sleep(delay)
                continue
            self.failures = 0
            more = result.more_available
            if result.retry_later:
                # The transmitter hands unacknowledged SETs straight back: wait (as long as the
                # failing part asked, else with backoff) rather than spin on them.
                retrying += 1
                hint = result.retry_after
                await self._sleep(min(hint, self._backoff_max) if hint else self._backoff(retrying))
                continue
            retrying = 0
            if not more and not self._long_poll:
                await self._sleep(self._backoff_initial)

    def _backoff(self, attempt: int) -> float:
        # The exponent is capped: 2.0 ** 1024 overflows, and a transmitter down for a night
        # (about a thousand failures at backoff_max) must not end the loop with OverflowError.
        delay: float = min(self._backoff_max, self._backoff_initial * 2.0 ** min(attempt - 1, 64))
        return delay * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security

    async def stop(self) -> None:
        """Cancel the loop and send the last acknowledgements."""
        await super().stop()
        with contextlib.suppress(httpx.HTTPError, CAEError):
            await self.flush()
