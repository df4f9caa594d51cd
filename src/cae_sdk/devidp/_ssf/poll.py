"""Poll delivery (RFC 8936): the receiver POSTs acknowledgements and asks for SETs.

Request members (section 2.1): ``maxEvents`` (non-negative integer; 0 = only acknowledge),
``returnImmediately`` (boolean), ``ack`` (array of jti), ``setErrs`` (jti -> ``{"err",
"description"}``). Response (section 2.2): ``{"sets": {jti: SET}, "moreAvailable": bool}``.
SETs stay available until acknowledged or reported in ``setErrs`` (section 2.4: a transmitter
may deliver an unacknowledged SET again).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from .streams import Stream, StreamError

__all__ = ["PollRequest", "parse_poll_request", "poll_stream"]

DEFAULT_MAX_EVENTS = 100
MAX_EVENTS_LIMIT = 1000
LONG_POLL_SECONDS = 10.0


@dataclass(frozen=True)
class PollRequest:
    max_events: int = DEFAULT_MAX_EVENTS
    return_immediately: bool = False
    ack: tuple[str, ...] = ()
    set_errs: dict[str, tuple[str, str]] = field(default_factory=dict)


def parse_poll_request(body: Any) -> PollRequest:
    """Validate an RFC 8936 poll request; raises :class:`StreamError` (``invalid_request``)."""
    if not isinstance(body, dict):
        raise StreamError(400, "invalid_request", "poll request must be a JSON object")
    max_events = body.get("maxEvents", DEFAULT_MAX_EVENTS)
    if isinstance(max_events, bool) or not isinstance(max_events, int) or max_events < 0:
        raise StreamError(400, "invalid_request", "maxEvents must be a non-negative integer")
    immediately = body.get("returnImmediately", False)
    if not isinstance(immediately, bool):
        raise StreamError(400, "invalid_request", "returnImmediately must be a boolean")
    ack = body.get("ack", [])
    if not isinstance(ack, list) or not all(isinstance(j, str) for j in ack):
        raise StreamError(400, "invalid_request", "ack must be an array of strings")
    raw_errs = body.get("setErrs", {})
    if not isinstance(raw_errs, dict):
        raise StreamError(400, "invalid_request", "setErrs must be an object")
    set_errs: dict[str, tuple[str, str]] = {}
    for jti, detail in raw_errs.items():
        if not isinstance(detail, dict) or not isinstance(detail.get("err"), str):
            raise StreamError(400, "invalid_request", "each setErrs entry needs an err string")
        set_errs[jti] = (detail["err"][:64], str(detail.get("description", ""))[:512])
    return PollRequest(min(max_events, MAX_EVENTS_LIMIT), immediately, tuple(ack), set_errs)


async def poll_stream(
    stream: Stream, request: PollRequest, long_poll_seconds: float = LONG_POLL_SECONDS
) -> dict[str, Any]:
    """Apply acknowledgements and errors, then return up to ``maxEvents`` SETs."""
    for jti in request.ack:
        if stream.available.pop(jti, None) is not None:
            stream.record(jti, "delivered")
    for jti, (err, _description) in request.set_errs.items():
        if stream.available.pop(jti, None) is not None:
            stream.record(jti, err)
    if request.max_events == 0:
        return {"sets": {}, "moreAvailable": bool(stream.available)}
    if not stream.available and not request.return_immediately:
        stream.arrived = stream.arrived or asyncio.Event()
        stream.arrived.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stream.arrived.wait(), long_poll_seconds)
    jtis = list(stream.available)[: request.max_events]
    return {
        "sets": {jti: stream.available[jti] for jti in jtis},
        "moreAvailable": len(stream.available) > len(jtis),
    }
