"""Signing keys of an issuer: OpenID discovery and JWKS fetched with httpx, asynchronously.

* one fetch in flight per key set (concurrent callers await the same task);
* keys are refreshed after ``max_age`` seconds (or the response's ``Cache-Control: max-age``,
  whichever is shorter), and when a token names an unknown ``kid``/``x5t`` - at most once per
  ``cooldown`` seconds, so garbage ``kid`` values cannot turn into a fetch storm;
* a failed or garbage fetch keeps the last good key set (unlike PyJWT's ``PyJWKClient``, which
  also blocks the event loop).

JWK parsing follows RFC 7517 section 4 and RFC 7518 section 6 (``RSA`` ``n``/``e``, ``EC``
P-256 ``x``/``y``); keys marked ``use: enc`` are skipped.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ..core.errors import TokenValidationError
from .jws import PublicKey, b64url_decode

__all__ = ["JWKSet", "KeySetSource", "parse_jwks"]

log = logging.getLogger("cae_sdk.resource.keys")

MAX_DOCUMENT_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class JWKSet:
    by_kid: Mapping[str, PublicKey]
    by_x5t: Mapping[str, PublicKey]

    def find(self, kid: str | None, x5t: str | None) -> PublicKey | None:
        if kid is not None:
            return self.by_kid.get(kid)
        if x5t is not None:
            return self.by_x5t.get(x5t)
        return None


def _b64_int(value: Any) -> int:
    if not isinstance(value, str):
        raise ValueError("JWK member is not a string")
    return int.from_bytes(b64url_decode(value.encode("ascii")), "big")


def _jwk_to_key(jwk: Mapping[str, Any]) -> PublicKey | None:
    kty = jwk.get("kty")
    if kty == "RSA":
        return rsa.RSAPublicNumbers(_b64_int(jwk["e"]), _b64_int(jwk["n"])).public_key()
    if kty == "EC" and jwk.get("crv") == "P-256":
        return ec.EllipticCurvePublicNumbers(
            _b64_int(jwk["x"]), _b64_int(jwk["y"]), ec.SECP256R1()
        ).public_key()
    return None  # other key types (oct, OKP) are never accepted for access tokens


def parse_jwks(document: Any) -> JWKSet:
    """Parse a JWKS document; keys that are malformed are skipped, and a document without a
    single usable key is an error (``ValueError``) so the last good set stays in force."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("JWKS has no 'keys' list")
    by_kid: dict[str, PublicKey] = {}
    by_x5t: dict[str, PublicKey] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, Mapping) or jwk.get("use", "sig") != "sig":
            continue
        try:
            key = _jwk_to_key(jwk)
        except (KeyError, ValueError, TypeError, binascii.Error, UnicodeEncodeError):
            continue
        if key is None:
            continue
        if isinstance(jwk.get("kid"), str):
            by_kid[jwk["kid"]] = key
        if isinstance(jwk.get("x5t"), str):
            by_x5t[jwk["x5t"]] = key
    if not by_kid and not by_x5t:
        raise ValueError("JWKS has no usable signing key")
    return JWKSet(by_kid, by_x5t)


def _max_age(response: httpx.Response) -> float | None:
    for directive in response.headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age" and value.isdigit():
            return float(value)
    return None


class KeySetSource:
    """The key set of one issuer, cached and refreshed as the module docstring says."""

    def __init__(
        self,
        *,
        jwks_uri: str | None = None,
        openid_configuration_url: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_age: float = 3600.0,
        cooldown: float = 30.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (jwks_uri or openid_configuration_url or jwks):
            raise ValueError("a key set needs a jwks_uri, an openid_configuration_url or jwks")
        self.jwks_uri = jwks_uri
        self.openid_configuration_url = openid_configuration_url
        self._http = http_client
        self._owns_http = http_client is None
        self._max_age = max_age
        self._cooldown = cooldown
        self._timeout = timeout
        self._clock = clock
        self._keys: JWKSet | None = None
        self._fresh_until = 0.0
        self._last_attempt = float("-inf")
        self._inflight: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        self._static = jwks is not None
        if jwks is not None:
            # Pinned keys (offline deployments, tests, benchmarks): never fetched.
            self._keys = parse_jwks(jwks)
            self._fresh_until = float("inf")

    @property
    def keys(self) -> JWKSet | None:
        return self._keys

    def cached(self, kid: str | None, x5t: str | None) -> PublicKey | None:
        """Sync lookup in the current key set; a stale set is answered from and refreshed in
        the background (call from the event loop). None when the key is not known."""
        keys = self._keys
        key = keys.find(kid, x5t) if keys is not None else None
        if key is not None and not self._static:
            now = self._clock()
            if now >= self._fresh_until and now - self._last_attempt >= self._cooldown:
                self._start_fetch()
        return key

    async def get(self, kid: str | None, x5t: str | None) -> PublicKey:
        """The key for ``kid`` (or ``x5t``); refreshes when stale or unknown (with cooldown).
        Raises ``TokenValidationError`` with ``unknown_key`` or ``keys_unavailable``."""
        # Stale but known: answer with the key now and refresh in the background, so a slow
        # key endpoint never delays requests.
        key = self.cached(kid, x5t)
        if key is not None:
            return key
        may_fetch = not self._static and self._clock() - self._last_attempt >= self._cooldown
        if may_fetch or (self._inflight is not None and not self._inflight.done()):
            await self.refresh()
            key = self._keys.find(kid, x5t) if self._keys is not None else None
        if key is not None:
            return key
        if self._keys is None:
            raise TokenValidationError("keys_unavailable", "signing keys are unavailable")
        raise TokenValidationError("unknown_key", "token signing key is unknown")

    def _start_fetch(self) -> asyncio.Task[None]:
        if self._inflight is None or self._inflight.done():
            self._last_attempt = self._clock()
            self._inflight = asyncio.ensure_future(self._fetch())
        return self._inflight

    async def refresh(self) -> None:
        """Fetch now, sharing one in-flight fetch between concurrent callers."""
        task = self._start_fetch()
        # shield: a cancelled caller must not cancel the fetch other callers wait on.
        await asyncio.shield(task)

    async def _fetch(self) -> None:
        try:
            client = self._client()
            jwks_uri = self.jwks_uri
            if jwks_uri is None:
                assert self.openid_configuration_url is not None
                config, _ = await self._get_json(client, self.openid_configuration_url)
                uri = config.get("jwks_uri") if isinstance(config, Mapping) else None
                if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
                    raise ValueError("discovery document has no jwks_uri")
                jwks_uri = uri
            document, max_age = await self._get_json(client, jwks_uri)
            keys = parse_jwks(document)
        except Exception as exc:  # noqa: BLE001 - any failure (network, garbage, closed loop)
            # Keep the last good keys (and their freshness): a failure never wipes them, and
            # it never escapes to a request as a 500.
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("signing key fetch failed, keeping last good keys: %s", self.last_error)
            return
        self._keys = keys
        self.last_error = None
        lifetime = self._max_age if max_age is None else min(self._max_age, max_age)
        self._fresh_until = self._clock() + max(lifetime, self._cooldown)

    async def _get_json(self, client: httpx.AsyncClient, url: str) -> tuple[Any, float | None]:
        response = await client.get(url, timeout=self._timeout)
        response.raise_for_status()
        if len(response.content) > MAX_DOCUMENT_BYTES:
            raise ValueError(f"{url} returned an oversized document")
        return response.json(), _max_age(response)

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
