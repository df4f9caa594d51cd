"""Signing keys of an issuer or transmitter, fetched asynchronously with httpx.

One adapter serves bearer-token validation (``cae_sdk.resource``) and Security Event Token
verification (``cae_sdk.events.ssf``); the parsing and checks are :mod:`cae_sdk.core.jose`,
reading the documents is :mod:`._documents` and when fetches run is :mod:`._schedule`.

* every fetch (discovery and JWKS together) has one overall deadline, ``timeout``, that this
  code enforces itself (a server trickling a byte at a time cannot stretch it), and a document is
  refused as soon as its body passes ``max_document_bytes``;
* one fetch in flight (concurrent callers await the same task);
* keys are refreshed after ``max_age`` seconds (or the response's ``Cache-Control: max-age``,
  whichever is shorter), in the background while the stale keys keep answering;
* an unknown ``kid``/``x5t`` refreshes at once, with at most one fetch started per ``cooldown``
  seconds; a lookup the limit holds back schedules the fetch for the earliest allowed moment and
  is answered :class:`~cae_sdk.core.errors.KeysUnavailable` (retryable, with ``retry_after``), so
  the limit delays a key, it never refuses one for good (see :meth:`KeySource.lookup`);
* a failed or garbage fetch keeps the last good key set and records ``last_error``;
* pinned keys (``jwks=``) are never fetched.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ..core.errors import ConfigurationError, JOSEError, KeysUnavailable
from ..core.jose import JWK, JWKSet, parse_jwks
from ._documents import (
    MAX_DOCUMENT_BYTES,
    IssuerMismatch,
    KeyFetchError,
    checked_configuration,
    get_json,
)
from ._schedule import FetchSchedule

__all__ = [
    "DEFAULT_FETCH_TIMEOUT",
    "KEYS_UNAVAILABLE",
    "UNKNOWN_KEY",
    "IssuerMismatch",
    "KeyFetchError",
    "KeySource",
    "require_signing_keys",
]

log = logging.getLogger("cae_sdk.keys")

UNKNOWN_KEY = "unknown_key"
KEYS_UNAVAILABLE = "keys_unavailable"
DEFAULT_FETCH_TIMEOUT = 5.0
_PENDING_MAX = 256  # unknown key ids remembered until a fetch after their first sighting ran

require_signing_keys = parse_jwks
"""The one JWKS parser (:func:`cae_sdk.core.jose.parse_jwks`), which refuses a document without
a usable key; kept under this name for existing callers."""


class KeySource:
    """The key set of one issuer, cached and refreshed as the module docstring says.

    ``unknown_key_wait`` bounds how long a lookup of an unknown key waits for the fetch it needs
    (the fetch itself goes on in the background); a lookup before any key set was loaded waits
    at most ``timeout``. ``retry_until_loaded``: until the first successful load the ``cooldown``
    does not apply, so a transmitter briefly down at start-up is picked up at the next event.
    """

    def __init__(
        self,
        *,
        jwks_uri: str | None = None,
        configuration_url: str | None = None,
        expected_issuer: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_age: float = 3600.0,
        cooldown: float = 5.0,
        timeout: float | None = DEFAULT_FETCH_TIMEOUT,
        unknown_key_wait: float = 1.0,
        retry_until_loaded: bool = False,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (jwks_uri or configuration_url or jwks is not None):
            raise ConfigurationError("keys need a jwks_uri, a configuration url or pinned jwks")
        if cooldown < 0 or unknown_key_wait < 0 or (timeout is not None and timeout <= 0):
            raise ConfigurationError("key refresh intervals and timeouts must be positive")
        self.jwks_uri = jwks_uri
        self.configuration_url = configuration_url
        self.expected_issuer = expected_issuer
        self.configuration: Mapping[str, Any] | None = None
        self._http = http_client
        self._owns_http = http_client is None
        self._max_age = max_age
        self._cooldown = cooldown
        # None used to mean "the client's timeout": every fetch now has a deadline of its own.
        self._timeout = DEFAULT_FETCH_TIMEOUT if timeout is None else timeout
        self._unknown_key_wait = unknown_key_wait
        self._retry_until_loaded = retry_until_loaded
        self._max_document_bytes = max_document_bytes
        self._clock = clock
        self._keys: JWKSet | None = None
        self.thumbprints: frozenset[str] = frozenset()
        """RFC 7638 thumbprints of the current keys (a cached verdict checks its key here)."""
        self._keys_from = float("-inf")  # when the fetch that produced the current keys started
        self._fresh_until = 0.0
        # Until the first load the cooldown does not apply when retry_until_loaded. The
        # schedule reads this source's clock (``now``), whatever it is set to later.
        self._fetches = FetchSchedule(
            self._fetch, cooldown=cooldown, clock=self.now, unlimited=retry_until_loaded
        )
        self._pending: OrderedDict[tuple[str | None, str | None], float] = OrderedDict()
        self.last_error: Exception | None = None
        self._refresh_listeners: list[Callable[[str, bool], None]] = []
        self.pinned = jwks is not None
        if jwks is not None:
            # Pinned keys (offline deployments, tests, benchmarks): never fetched; a key they do
            # not hold is definitely unknown.
            self._keys = parse_jwks(jwks)
            self.thumbprints = self._keys.thumbprints
            self._keys_from = float("inf")
            self._fresh_until = float("inf")

    @property
    def keys(self) -> JWKSet | None:
        """The current key set (None before the first successful load)."""
        return self._keys

    @property
    def name(self) -> str:
        """What this source fetches for: the expected issuer, else the URL it starts from."""
        return self.expected_issuer or self.configuration_url or self.jwks_uri or "pinned"

    def now(self) -> float:
        """This source's clock (the time base of :meth:`lookup`'s ``since``)."""
        return self._clock()

    @property
    def timeout(self) -> float:
        """The overall deadline of one fetch, in seconds."""
        return self._timeout

    @property
    def attempts(self) -> int:
        """Fetches started so far."""
        return self._fetches.attempts

    def on_refresh(self, listener: Callable[[str, bool], None]) -> None:
        """Call ``listener(name, ok)`` after every fetch (metrics, alerts on failing fetches)."""
        self._refresh_listeners.append(listener)

    def _notify_refresh(self, ok: bool) -> None:
        for listener in self._refresh_listeners:
            try:
                listener(self.name, ok)
            except Exception:  # an observer must never break key fetching
                log.exception("key refresh listener %r failed", listener)

    # -- lookups ---------------------------------------------------------------------------------

    def cached(self, kid: str | None, x5t: str | None) -> JWK | None:
        """Sync lookup in the current key set; a stale set is answered from and refreshed in
        the background. None when the key is not known (then call :meth:`lookup`)."""
        keys = self._keys
        key = keys.find(kid, x5t) if keys is not None else None
        if key is not None:
            self.refresh_if_stale()
        return key

    def refresh_if_stale(self, now: float | None = None) -> None:
        """Start a background refresh when the key set is past its freshness (and the cooldown
        allows); never waits. Callers that answer from a cache call it too, so a key withdrawn
        from the JWKS is noticed even when every request is a cache hit.

        Safe from any thread: a synchronous caller (a WSGI thread answering from the
        validated-token cache, where no event loop runs) hands the refresh to the loop this
        source fetches on, so its cache hits end a withdrawn key's tokens too. ``now`` is this
        source's clock read by the caller (once per request), else it is read here."""
        if self.pinned:
            return
        if now is None:
            now = self._clock()
        if now >= self._fresh_until:
            try:
                self._fetches.adopt_loop()
            except RuntimeError:
                self._fetches.hand_over(self.refresh_if_stale)
                return
            if self._fetches.may_start(now):
                self._fetches.start()

    async def lookup(
        self, kid: str | None, x5t: str | None = None, *, since: float | None = None
    ) -> JWK:
        """The key named ``kid`` (or ``x5t``), refreshing the key set when it is not known.

        ``since`` (this source's clock) is the earliest fetch start whose key set may declare
        the key unknown: a SET receiver passes the arrival time (the transmitter published the
        key before it signed, so a fetch that started after the SET arrived must hold it); the
        default, ``now - cooldown``, trusts a key set fetched within the cooldown. A key id
        that was already missed is judged from its first miss, so a redelivery after a deferred
        fetch is answered for good.

        Raises ``JOSEError`` ``unknown_key`` only when such a fetch completed without the key,
        and :class:`~cae_sdk.core.errors.KeysUnavailable` (retryable, ``retry_after``) when the
        fetch failed, is still running after ``unknown_key_wait`` (``timeout`` on a cold start),
        or is held back by the cooldown (it is then scheduled, so a retry finds it done).
        """
        keys = self._keys
        if keys is not None:
            key = keys.find(kid, x5t)
            if key is not None:
                self.refresh_if_stale()
                return key
        if self.pinned or (kid is None and x5t is None):
            raise JOSEError(UNKNOWN_KEY, "signing key is unknown")
        now = self._clock()
        wanted = (kid, x5t)
        first_miss = self._pending.get(wanted)
        since = now - self._cooldown if since is None else min(since, now)
        if first_miss is not None:
            since = min(since, first_miss)
        loop = self._fetches.adopt_loop()
        # A cold start waits for the fetch's own deadline (plus a hair, so the fetch reports
        # its own timeout first); an unknown key in a loaded set waits unknown_key_wait.
        budget = self._unknown_key_wait if keys is not None else self._timeout + 0.05
        deadline = loop.time() + budget
        try:
            return await self._lookup(kid, x5t, since, deadline)
        except KeysUnavailable:
            self._remember_miss(wanted, now if first_miss is None else first_miss)
            raise
        except JOSEError:
            self._pending.pop(wanted, None)
            raise

    async def _lookup(self, kid: str | None, x5t: str | None, since: float, deadline: float) -> JWK:
        loop = asyncio.get_running_loop()
        while True:
            keys = self._keys
            if keys is not None:
                key = keys.find(kid, x5t)
                if key is not None:
                    self._pending.pop((kid, x5t), None)
                    return key
                if self._keys_from >= since:
                    raise JOSEError(UNKNOWN_KEY, "signing key is unknown")
            now = self._clock()
            task = self._fetches.running()
            if task is None:
                if not self._fetches.may_start(now):
                    start_at = self._fetches.defer(now)
                    delay = max(0.0, start_at - now)
                    if loop.time() + delay >= deadline:
                        raise KeysUnavailable(
                            "signing key refresh is rate-limited; scheduled",
                            retry_after=math.ceil(delay) + 1,
                        )
                    await asyncio.sleep(delay)
                    continue
                task = self._fetches.start()
            started = self._fetches.inflight_started
            remaining = deadline - loop.time()
            done: set[asyncio.Task[bool]] = set()
            if remaining > 0:
                # asyncio.wait neither raises nor cancels the shared fetch on timeout.
                done, _ = await asyncio.wait({task}, timeout=remaining)
            if not done:
                raise KeysUnavailable("signing keys are still being fetched", retry_after=1)
            ok = not task.cancelled() and task.result()
            if not ok and started >= since:
                found = self._keys.find(kid, x5t) if self._keys is not None else None
                if found is not None:
                    return found
                retry = max(1.0, self._fetches.retry_after())
                raise KeysUnavailable(
                    "signing key refresh failed; keeping the last good keys",
                    retry_after=math.ceil(retry),
                )
            # Otherwise the fetch predates ``since`` (or failed before it): go round once more.

    def _remember_miss(self, wanted: tuple[str | None, str | None], first: float) -> None:
        self._pending[wanted] = first
        self._pending.move_to_end(wanted)
        while len(self._pending) > _PENDING_MAX:
            self._pending.popitem(last=False)

    async def get(self, kid: str | None, x5t: str | None = None) -> JWK:
        """:meth:`lookup` with the default ``since``."""
        return await self.lookup(kid, x5t)

    async def key_set(self, kid: str | None = None, x5t: str | None = None) -> JWKSet:
        """The key set to look ``kid``/``x5t`` up in (refreshed as :meth:`lookup` does); raises
        ``KeysUnavailable`` when none could be loaded."""
        if kid is not None or x5t is not None:
            try:
                await self.lookup(kid, x5t)
            except KeysUnavailable:
                if self._keys is None:
                    raise
            except JOSEError:
                pass
        elif self._keys is None and not self.pinned:
            await self.refresh()
        if self._keys is None:
            raise KeysUnavailable("signing keys are unavailable")
        return self._keys

    # -- fetching --------------------------------------------------------------------------------

    def may_refresh(self) -> bool:
        """Whether a refresh may start now (not pinned, none in flight, outside the cooldown)."""
        return not self.pinned and self._fetches.may_start(self._clock())

    async def refresh(self) -> None:
        """Fetch now (ignoring the cooldown), sharing one in-flight fetch between concurrent
        callers; returns when it ended, at the latest after ``timeout``."""
        if self.pinned:
            return
        self._fetches.adopt_loop()
        task = self._fetches.start()
        # asyncio.wait: a cancelled caller must not cancel the fetch other callers wait on.
        await asyncio.wait({task}, timeout=self._timeout + 0.05)

    async def _fetch(self, started: float) -> bool:
        first_load = self._keys is None
        try:
            document, max_age = await asyncio.wait_for(self._fetch_document(), self._timeout)
            keys = parse_jwks(document)
        except Exception as exc:  # noqa: BLE001 - any failure (network, garbage, closed loop)
            if isinstance(exc, asyncio.TimeoutError):
                exc = KeyFetchError(f"key fetch exceeded its {self._timeout:g} s deadline")
            # Keep the last good keys (and their freshness): a failure never wipes them, and
            # it never escapes to a request as a 500.
            self.last_error = exc
            log.warning(
                "signing key fetch failed, keeping last good keys: %s: %s",
                type(exc).__name__,
                exc,
            )
            self._notify_refresh(False)
            return False
        self._keys = keys
        self.thumbprints = keys.thumbprints
        self._keys_from = started
        self.last_error = None
        self._notify_refresh(True)
        lifetime = self._max_age if max_age is None else min(self._max_age, max_age)
        self._fresh_until = self._clock() + max(lifetime, self._cooldown)
        if first_load and self._retry_until_loaded:
            self._fetches.unlimited = False
            self._fetches.last_attempt = float("-inf")  # the first load starts no cooldown
        return True

    async def _fetch_document(self) -> tuple[Any, float | None]:
        jwks_uri = self.jwks_uri or await self._discover()
        return await get_json(self._client(), jwks_uri, self._max_document_bytes)

    async def _discover(self) -> str:
        """``jwks_uri`` of the configuration document, which is fetched once."""
        if self.configuration is None:
            assert self.configuration_url is not None
            url = self.configuration_url
            document, _ = await get_json(self._client(), url, self._max_document_bytes)
            self.configuration = checked_configuration(
                document, configuration_url=url, expected_issuer=self.expected_issuer
            )
        return str(self.configuration["jwks_uri"])

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False)
        return self._http

    async def aclose(self) -> None:
        self._fetches.close()
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None
