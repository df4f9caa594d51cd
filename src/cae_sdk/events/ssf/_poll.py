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

from ...core.errors import CAEError, EventSourceError, EventValidationError, StoreUnavailable
from .._auth import BearerSource, bearer_auth
from .._background import BackgroundLoop
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
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._sleep = sleep
        self._ack: list[str] = []
        self._errors: dict[str, tuple[str, str]] = {}
        self.failures = 0

    async def poll_once(self, *, return_immediately: bool | None = None) -> PollResult:
        """One request/response round; raises ``httpx.HTTPError`` on transport or HTTP errors
        (the pending acknowledgements are kept for the next round)."""
        immediate = (not self._long_poll) if return_immediately is None else return_immediately
        body = build_poll_request(
            ack=self._ack,
            errors=self._errors,
            max_events=self._max_events,
            return_immediately=immediate,
        )
        response = await self._http.post(
            self.endpoint, json=body, auth=self._auth, timeout=self._timeout
        )
        response.raise_for_status()
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
        if not isinstance(token, str):
            result.refused[jti] = (INVALID_REQUEST, "SET is not a compact JWS string")
            return
        try:
            await self.receiver.receive(token)
        except EventValidationError as exc:
            result.refused[jti] = (exc.err, exc.description)
        except (StoreUnavailable, EventSourceError):
            result.retry_later.append(jti)  # neither acked nor refused: delivered again
        else:
            result.acknowledged.append(jti)

    async def flush(self) -> None:
        """Send pending acknowledgements without asking for more SETs (``maxEvents: 0``)."""
        if not self._ack and not self._errors:
            return
        body = build_poll_request(
            ack=self._ack, errors=self._errors, max_events=0, return_immediately=True
        )
        response = await self._http.post(
            self.endpoint, json=body, auth=self._auth, timeout=self._timeout
        )
        response.raise_for_status()
        self._ack, self._errors = [], {}

    async def run(self) -> None:
        """Poll until cancelled."""
        more = False
        while True:
            try:
                result = await self.poll_once(return_immediately=more or not self._long_poll)
            except (httpx.HTTPError, CAEError, ValueError) as exc:
                # CAEError also covers the credential behind the bearer token (e.g.
                # TokenAcquisitionError): retried like a transport error, never ending the loop.
                self.failures += 1
                delay = min(self._backoff_max, self._backoff_initial * 2 ** (self.failures - 1))
                delay *= 0.5 + random.random() / 2  # noqa: S311 - jitter, not security
                _log.warning("SET poll failed (%s); retrying in %.1fs", type(exc).__name__, delay)
                await self._sleep(delay)
                continue
            self.failures = 0
            more = result.more_available
            if not more and not self._long_poll:
                await self._sleep(self._backoff_initial)

    async def stop(self) -> None:
        """Cancel the loop and send the last acknowledgements."""
        await super().stop()
        with contextlib.suppress(httpx.HTTPError):
            await self.flush()
