"""Signing keys of an issuer or transmitter, fetched asynchronously with httpx.

One adapter serves bearer-token validation (``cae_sdk.resource``) and Security Event Token
verification (``cae_sdk.events.ssf``); the parsing and checks are :mod:`cae_sdk.core.jose`.

* ``jwks_uri`` comes from the caller or from a discovery document (OpenID Connect Discovery 1.0
  section 4, SSF 1.0 section 7.1); with ``expected_issuer`` the document's ``issuer`` must equal
  it exactly (SSF 1.0 section 7.2.3, OpenID Connect Discovery 1.0 section 4.3);
* one fetch in flight (concurrent callers await the same task);
* keys are refreshed after ``max_age`` seconds (or the response's ``Cache-Control: max-age``,
  whichever is shorter), in the background while the stale keys keep answering, and when a token
  names an unknown ``kid``/``x5t`` - at most once per ``cooldown`` seconds, so garbage ``kid``
  values cannot turn into a fetch storm;
* a failed or garbage fetch keeps the last good key set and records ``last_error``;
* pinned keys (``jwks=``) are never fetched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ..core.errors import ConfigurationError, JOSEError
from ..core.jose import JWK, MALFORMED, JWKSet, parse_jwks

__all__ = ["KEYS_UNAVAILABLE", "UNKNOWN_KEY", "KeySource", "require_signing_keys"]

log = logging.getLogger("cae_sdk.keys")

UNKNOWN_KEY = "unknown_key"
KEYS_UNAVAILABLE = "keys_unavailable"
MAX_DOCUMENT_BYTES = 512 * 1024


def require_signing_keys(document: Any) -> JWKSet:
    """:func:`~cae_sdk.core.jose.parse_jwks`, refusing a document without a usable key (so the
    last good set stays in force)."""
    keys = parse_jwks(document)
    if not keys:
        raise JOSEError(MALFORMED, "JWKS has no usable signing key")
    return keys


def _max_age(response: httpx.Response) -> float | None:
    for directive in response.headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age" and value.isdigit():
            return float(value)
    return None


class KeySource:
    """The key set of one issuer, cached and refreshed as the module docstring says.

    ``retry_until_loaded``: until the first successful load, every lookup may fetch (the cooldown
    starts after it), so a transmitter that was briefly down at start-up is picked up as soon as
    a redelivered event arrives.
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
        cooldown: float = 30.0,
        timeout: float | None = 5.0,
        retry_until_loaded: bool = False,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (jwks_uri or configuration_url or jwks is not None):
            raise ConfigurationError("keys need a jwks_uri, a configuration url or pinned jwks")
        self.jwks_uri = jwks_uri
        self.configuration_url = configuration_url
        self.expected_issuer = expected_issuer
        self.configuration: Mapping[str, Any] | None = None
        self._http = http_client
        self._owns_http = http_client is None
        self._max_age = max_age
        self._cooldown = cooldown
        self._timeout = timeout
        self._retry_until_loaded = retry_until_loaded
        self._max_document_bytes = max_document_bytes
        self._clock = clock
        self._keys: JWKSet | None = None
        self._fresh_until = 0.0
        self._last_attempt = float("-inf")
        self._inflight: asyncio.Task[None] | None = None
        self.last_error: Exception | None = None
        self.attempts = 0
        """Fetches started so far (an adapter tells a failure of its own refresh this way)."""
        self._refresh_listeners: list[Callable[[str, bool], None]] = []
        self.pinned = jwks is not None
        if jwks is not None:
            # Pinned keys (offline deployments, tests, benchmarks): never fetched.
            self._keys = require_signing_keys(jwks)
            self._fresh_until = float("inf")

    @property
    def keys(self) -> JWKSet | None:
        return self._keys

    @property
    def name(self) -> str:
        """What this source fetches for: the expected issuer, else the URL it starts from."""
        return self.expected_issuer or self.configuration_url or self.jwks_uri or "pinned"

    def on_refresh(self, listener: Callable[[str, bool], None]) -> None:
        """Call ``listener(name, ok)`` after every fetch (metrics, alerts on failing fetches)."""
        self._refresh_listeners.append(listener)

    def _notify_refresh(self, ok: bool) -> None:
        for listener in self._refresh_listeners:
            try:
                listener(self.name, ok)
            except Exception:  # an observer must never break key fetching
                log.exception("key refresh listener %r failed", listener)

    def cached(self, kid: str | None, x5t: str | None) -> JWK | None:
        """Sync lookup in the current key set; a stale set is answered from and refreshed in
        the background (call from the event loop). None when the key is not known."""
        keys = self._keys
        key = keys.find(kid, x5t) if keys is not None else None
        if key is not None:
            self._refresh_if_stale()
        return key

    def _refresh_if_stale(self) -> None:
        if not self.pinned:
            now = self._clock()
            if now >= self._fresh_until and now - self._last_attempt >= self._cooldown:
                self._start_fetch()

    async def key_set(self, kid: str | None = None, x5t: str | None = None) -> JWKSet:
        """The key set to look ``kid``/``x5t`` up in: fetched when none is loaded, refreshed
        (with cooldown) when it does not hold the key. Raises ``JOSEError`` with
        ``keys_unavailable`` when no key set was ever loaded."""
        keys = self._keys
        if keys is not None and ((kid is None and x5t is None) or keys.find(kid, x5t) is not None):
            # Stale but known: answer now and refresh in the background, so a slow key
            # endpoint never delays requests.
            self._refresh_if_stale()
            return keys
        if self.may_refresh() or (self._inflight is not None and not self._inflight.done()):
            await self.refresh()
        if self._keys is None:
            raise JOSEError(KEYS_UNAVAILABLE, "signing keys are unavailable")
        return self._keys

    async def get(self, kid: str | None, x5t: str | None = None) -> JWK:
        """The key for ``kid`` (or ``x5t``); raises ``JOSEError`` with ``unknown_key`` or
        ``keys_unavailable``."""
        key = (await self.key_set(kid, x5t)).find(kid, x5t)
        if key is None:
            raise JOSEError(UNKNOWN_KEY, "signing key is unknown")
        return key

    def may_refresh(self) -> bool:
        """Whether a refresh may run now (not pinned, and outside the cooldown)."""
        if self.pinned:
            return False
        if self._keys is None and self._retry_until_loaded:
            return True
        return self._clock() - self._last_attempt >= self._cooldown

    def _start_fetch(self) -> asyncio.Task[None]:
        if self._inflight is None or self._inflight.done():
            self._last_attempt = self._clock()
            self.attempts += 1
            self._inflight = asyncio.ensure_future(self._fetch())
        return self._inflight

    async def refresh(self) -> None:
        """Fetch now, sharing one in-flight fetch between concurrent callers."""
        if self.pinned:
            return
        task = self._start_fetch()
        # shield: a cancelled caller must not cancel the fetch other callers wait on.
        await asyncio.shield(task)

    async def _fetch(self) -> None:
        first_load = self._keys is None
        try:
            jwks_uri = self.jwks_uri or await self._discover()
            document, max_age = await self._get_json(jwks_uri)
            keys = require_signing_keys(document)
        except Exception as exc:  # noqa: BLE001 - any failure (network, garbage, closed loop)
            # Keep the last good keys (and their freshness): a failure never wipes them, and
            # it never escapes to a request as a 500.
            self.last_error = exc
            log.warning(
                "signing key fetch failed, keeping last good keys: %s: %s",
                type(exc).__name__,
                exc,
            )
            self._notify_refresh(False)
            return
        self._keys = keys
        self.last_error = None
        self._notify_refresh(True)
        lifetime = self._max_age if max_age is None else min(self._max_age, max_age)
        self._fresh_until = self._clock() + max(lifetime, self._cooldown)
        if first_load and self._retry_until_loaded:
            self._last_attempt = float("-inf")  # the first load does not start the cooldown

    async def _discover(self) -> str:
        """``jwks_uri`` of the configuration document, which is fetched once."""
        if self.configuration is None:
            assert self.configuration_url is not None
            document, _ = await self._get_json(self.configuration_url)
            if not isinstance(document, Mapping):
                raise ConfigurationError("configuration document is not a JSON object")
            if self.expected_issuer is not None and document.get("issuer") != self.expected_issuer:
                raise ConfigurationError("configuration issuer does not match the expected issuer")
            uri = document.get("jwks_uri")
            if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
                raise ConfigurationError("configuration document has no jwks_uri")
            self.configuration = document
        return str(self.configuration["jwks_uri"])

    async def _get_json(self, url: str) -> tuple[Any, float | None]:
        timeout = httpx.USE_CLIENT_DEFAULT if self._timeout is None else self._timeout
        response = await self._client().get(
            url, headers={"Accept": "application/json"}, timeout=timeout
        )
        response.raise_for_status()
        if len(response.content) > self._max_document_bytes:
            raise ConfigurationError(f"{url} returned an oversized document")
        try:
            return response.json(), _max_age(response)
        except ValueError:
            raise ConfigurationError(f"{url} did not return JSON") from None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False)
        return self._http

    async def aclose(self) -> None:
        if self._inflight is not None and not self._inflight.done():
            self._inflight.cancel()
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None
