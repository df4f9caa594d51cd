"""Push delivery (RFC 8935): POST the compact SET, retry transient failures with backoff.

* ``202 Accepted`` (RFC 8935 section 2.2) is success; any other 2xx is taken as success too.
* ``400`` with a JSON body ``{"err", "description"}`` (section 2.3) is a permanent refusal of
  that SET: recorded, not retried. Other 4xx (401, 403, ...) are permanent as well.
* Network errors, ``408``, ``429`` and 5xx are retried after the configured delays; a
  ``Retry-After`` in seconds is honoured (capped by the longest configured delay).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence

import httpx

from ...core._urls import loggable_url
from ...core.secevents import SECEVENT_CONTENT_TYPE

__all__ = ["classify_response", "push_set"]

# Named as when the module was public, so logging configuration that names it keeps working.
logger = logging.getLogger("cae_sdk.devidp.ssf.push")

DELIVERED = "delivered"
_RETRYABLE = {408, 425, 429}


def classify_response(status: int, body: bytes) -> tuple[str, bool]:
    """``(outcome, retry)`` for a receiver's answer: ``delivered``, an RFC 8935 ``err`` code,
    or ``http_<status>``."""
    if 200 <= status < 300:
        return DELIVERED, False
    if status >= 500 or status in _RETRYABLE:
        return f"http_{status}", True
    err = f"http_{status}"
    try:
        parsed = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("err"), str):
        err = parsed["err"][:64]
    return err, False


def _retry_after(response: httpx.Response, cap: float) -> float | None:
    value = response.headers.get("retry-after", "")
    return min(float(value), cap) if value.isdigit() else None


async def push_set(
    client: httpx.AsyncClient,
    url: str,
    token: str,
    authorization: str | None,
    delays: Sequence[float],
) -> str:
    """Deliver one SET; returns the final outcome (``delivered`` or an error code)."""
    headers = {"Content-Type": SECEVENT_CONTENT_TYPE, "Accept": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    outcome = "not_attempted"
    cap = max(delays, default=1.0)
    for attempt in range(len(delays) + 1):
        wait: float | None = None
        try:
            response = await client.post(url, content=token.encode("ascii"), headers=headers)
        except httpx.HTTPError as exc:
            outcome, retry = f"network_{type(exc).__name__}", True
        else:
            outcome, retry = classify_response(response.status_code, response.content)
            wait = _retry_after(response, cap)
        if not retry:
            break
        if attempt < len(delays):
            await asyncio.sleep(wait if wait is not None else delays[attempt])
    if outcome != DELIVERED:
        logger.info("SET push to %s ended with %s", loggable_url(url), outcome)
    return outcome
