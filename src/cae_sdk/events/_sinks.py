"""Where workflow records go: a signed webhook (:class:`WebhookNotifier`) and an append-only
JSON lines file (:class:`AuditLog`). Any ``async`` callable taking a record is a sink too."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from ..core.errors import EventSourceError
from ._http import exchange

__all__ = ["AuditLog", "Record", "Sink", "WebhookNotifier", "sign_body"]

_log = logging.getLogger("cae_sdk.events.workflows")

Record = dict[str, Any]
Sink = Callable[[Record], Awaitable[None]]


def sign_body(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``"<timestamp>.<body>"`` (replay-resistant)."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookNotifier:
    """POST each record as JSON with ``X-CAE-Timestamp`` and ``X-CAE-Signature`` headers."""

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        *,
        http: httpx.AsyncClient,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``timeout``: the deadline of each whole attempt (a webhook that answers a byte at
        a time must not hold every workflow behind it)."""
        self.url = url
        self.timeout = timeout
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._http = http
        self._retries = retries
        self._backoff = backoff
        self._clock = clock
        self._sleep = sleep

    async def __call__(self, record: Record) -> None:
        body = json.dumps(record, separators=(",", ":"), sort_keys=True).encode()
        for attempt in range(self._retries + 1):
            timestamp = str(int(self._clock()))
            headers = {
                "Content-Type": "application/json",
                "X-CAE-Timestamp": timestamp,
                "X-CAE-Signature": sign_body(self._secret, timestamp, body),
            }
            try:
                response = await exchange(
                    self._http, "POST", self.url, content=body, headers=headers,
                    deadline=self.timeout, max_bytes=64 * 1024,
                )  # fmt: skip
                if response.status < 500 and response.status != 429:
                    if not response.is_success:
                        _log.warning("webhook refused the record: HTTP %d", response.status)
                    return
            except (httpx.HTTPError, EventSourceError) as exc:
                _log.info("webhook attempt %d failed: %s", attempt + 1, type(exc).__name__)
            if attempt < self._retries:
                await self._sleep(self._backoff * 2**attempt)
        _log.error("webhook %s unreachable after %d attempts", self.url, self._retries + 1)


class AuditLog:
    """Append-only JSON lines file (one incident or confirmation per line)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = asyncio.Lock()

    async def __call__(self, record: Record) -> None:
        line = json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
