"""Verify a compact SET against the transmitter's keys, then apply the pure rules.

Parsing and signature checks are the shared verifier (:mod:`cae_sdk.core.jose`), keys come from
the shared :class:`~cae_sdk.keys.KeySource`; this adapter adds the SET rules
(:mod:`._rules`) and maps refusals to RFC 8935 section 2.4 error codes.

:class:`TransmitterKeys` discovers the transmitter (SSF 1.0 section 7.2: the configuration's
``issuer`` must equal the expected issuer exactly) and fetches its JWKS. A SET naming a ``kid``
the key set does not hold refreshes it at once (at most one fetch per
``refresh_cooldown_seconds``). A key is declared unknown (final ``400 invalid_key``) only when a
fetch that started after the SET arrived lacks it: the transmitter publishes a key before it
signs with it. When that fetch failed, is still running or is held back by the rate limit, the
decoder raises a retryable :class:`~cae_sdk.core.errors.EventSourceError` with ``retry_after``
(push: 503 + ``Retry-After``; poll: not acknowledged), so a freshly rotated key never costs an
event (RFC 8935 section 2.3, RFC 8936 section 2.4).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import httpx

from ...core import jose
from ...core.errors import (
    ConfigurationError,
    EventSourceError,
    EventValidationError,
    JOSEError,
    KeysUnavailable,
)
from ...core.jose import JWK, CompactJWS, parse_jwks
from ...core.secevents import ssf_configuration_url
from ...keys._source import IssuerMismatch, KeySource
from ._rules import (
    INVALID_KEY,
    INVALID_REQUEST,
    SecurityEvent,
    SetValidationConfig,
    validate_set_claims,
    validate_set_header,
)

__all__ = ["SetDecoder", "TransmitterKey", "TransmitterKeys", "parse_jwks", "verify_set"]

TransmitterKey = JWK
"""One public signing key of the transmitter: ``kid``, ``algorithms`` (what it may verify, RFC
8725 section 3.1) and ``key``."""

_MAX_DOCUMENT_BYTES = 256 * 1024
_HEADER_CACHE_SIZE = 32  # a transmitter signs with a few headers: one per key, alg and typ

# JOSEError reason -> RFC 8935 section 2.4 error code: a refusal of the key or signature is
# invalid_key, a malformed serialisation invalid_request.
_MALFORMED_REASONS = frozenset({jose.MALFORMED, jose.UNSUPPORTED_HEADER})


def _set_error(error: JOSEError) -> EventValidationError:
    err = INVALID_REQUEST if error.reason in _MALFORMED_REASONS else INVALID_KEY
    return EventValidationError(err, f"SET {error.description}")


def _unpublished() -> EventValidationError:
    return EventValidationError(
        INVALID_KEY, "SET is signed with a key the transmitter does not publish"
    )


def _split(token: str, config: SetValidationConfig) -> CompactJWS:
    """Split a compact JWS (RFC 7515 section 7.1) and decode its header; verifies nothing."""
    try:
        return jose.decode_compact(token, max_bytes=config.max_set_bytes)
    except JOSEError as error:
        raise _set_error(error) from None


def _select_key(kid: str | None, x5t: str | None, keys: Mapping[str, JWK]) -> JWK:
    """The key a SET names by ``kid`` (or ``x5t``); a SET naming neither may use the
    transmitter's only key."""
    key: JWK | None
    if isinstance(keys, jose.JWKSet):
        key = keys.find(kid, x5t) if kid is not None or x5t is not None else keys.only_key()
    elif kid is not None:
        key = keys.get(kid)
    elif x5t is None and len({id(k) for k in keys.values()}) == 1:
        key = next(iter(keys.values()))
    else:
        key = None
    if key is None:
        raise _unpublished()
    return key


def verify_set(
    token: str,
    keys: Mapping[str, TransmitterKey],
    config: SetValidationConfig,
    *,
    now: int,
) -> SecurityEvent:
    """Verify the signature of ``token`` with ``keys`` (a :class:`~cae_sdk.core.jose.JWKSet`
    from :func:`parse_jwks`, or any mapping of ``kid`` to key) and validate it. No network."""
    compact = _split(token, config)
    alg = validate_set_header(compact.header, config)
    return _verify_with(compact, alg, _select_key(compact.kid, compact.x5t, keys), config, now=now)


def _verify_with(
    compact: CompactJWS, alg: str, key: JWK, config: SetValidationConfig, *, now: int
) -> SecurityEvent:
    try:
        # The one verifier: honours the JWK's own alg (RFC 8725 section 3.1) as for tokens.
        jose.verify_signature(alg, compact.signing_input, compact.signature(), key)
        # The payload is decoded only once the signature holds.
        claims = compact.payload()
    except JOSEError as error:
        raise _set_error(error) from None
    return validate_set_claims(claims, config, now=now)


class TransmitterKeys:
    """The transmitter's signing keys, discovered from ``/.well-known/ssf-configuration``.

    ``fetch_timeout`` is the overall deadline of one fetch; a SET waits at most
    ``unknown_key_wait`` for the refresh its unknown ``kid`` starts (the fetch goes on).
    """

    def __init__(
        self,
        issuer: str,
        *,
        http: httpx.AsyncClient | None = None,
        jwks: Mapping[str, Any] | None = None,
        configuration_url: str | None = None,
        refresh_cooldown_seconds: float = 1.0,
        fetch_timeout: float = 5.0,
        unknown_key_wait: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        if jwks is None and http is None:
            raise ConfigurationError("TransmitterKeys needs an http client or pinned jwks")
        if configuration_url is None:
            # The same well-known location the stream client and the dev IdP use.
            try:
                configuration_url = ssf_configuration_url(issuer)
            except ValueError as exc:
                if jwks is None:
                    raise ConfigurationError(str(exc)) from None
        self.configuration_url = configuration_url
        try:
            self._source = KeySource(
                configuration_url=self.configuration_url,
                expected_issuer=issuer,
                jwks=jwks,
                http_client=http,
                # SETs refresh keys when they name an unknown kid; Cache-Control still applies.
                max_age=float("inf"),
                cooldown=refresh_cooldown_seconds,
                timeout=fetch_timeout,
                unknown_key_wait=unknown_key_wait,
                retry_until_loaded=True,
                max_document_bytes=_MAX_DOCUMENT_BYTES,
                clock=clock,
            )
        except JOSEError:
            raise ConfigurationError("pinned transmitter JWKS has no usable signing key") from None

    @property
    def source(self) -> KeySource:
        """The shared key source underneath (metrics: ``observe_key_source``)."""
        return self._source

    @property
    def keys(self) -> Mapping[str, TransmitterKey]:
        """The current key set (a :class:`~cae_sdk.core.jose.JWKSet`; empty before a load)."""
        keys = self._source.keys
        return keys if keys is not None else {}

    async def configuration(self) -> Mapping[str, Any]:
        """The transmitter configuration (SSF 1.0 section 7.1), fetched once."""
        if self._source.configuration is None:
            await self.refresh(force=True)
        if self._source.configuration is None:
            raise ConfigurationError(f"SSF configuration is unusable: {self._source.last_error}")
        return self._source.configuration

    async def refresh(self, *, force: bool = False) -> bool:
        """Fetch the JWKS again (unless ``force`` is false and the rate limit holds it back);
        True when a fetch ran and succeeded."""
        if not force and not self._source.may_refresh():
            return False
        await self._source.refresh()
        return self._source.last_error is None

    async def key_for(self, kid: str | None, x5t: str | None = None) -> TransmitterKey:
        """The key a SET arriving now names, refreshing when it is unknown (see the module
        docstring). Raises ``EventValidationError`` ``invalid_key`` when it is definitely not
        published, ``EventSourceError`` (retryable, ``retry_after``) when that is not known yet."""
        arrived = self._source.now()
        try:
            if kid is None and x5t is None:
                return _select_key(None, None, await self._source.key_set())
            return await self._source.lookup(kid, x5t, since=arrived)
        except KeysUnavailable as error:
            if self._source.keys is None and isinstance(self._source.last_error, IssuerMismatch):
                # Discovery answered for another issuer: a configuration conflict, not an outage
                # (SSF 1.0 section 7.2.3: such a configuration is never used).
                raise EventValidationError(
                    INVALID_KEY, "transmitter configuration names another issuer"
                ) from None
            raise EventSourceError(
                f"transmitter keys are unavailable: {error.description}",
                status=503,
                retry_after=error.retry_after,
            ) from None
        except JOSEError:
            raise _unpublished() from None

    async def key_set_for(self, kid: str | None) -> Mapping[str, TransmitterKey]:
        """The key set after making sure ``kid`` was looked up (refreshing as
        :meth:`key_for` does); kept for callers of earlier versions."""
        try:
            await self.key_for(kid)
        except EventValidationError:
            if not self.keys:
                raise
        return self.keys


class _CheckedHeaders:
    """JOSE headers already decoded and accepted under ``config``, by their raw segment.

    A transmitter signs every SET with the same few headers (``alg``, ``kid``, ``typ``), so each
    is decoded and checked once instead of once per SET: the result depends on the segment's
    bytes and the configuration alone. Only accepted headers are kept (read-only), at most
    ``_HEADER_CACHE_SIZE`` of them; a refused header is decoded and refused every time.
    """

    __slots__ = ("_config", "_headers")

    def __init__(self, config: SetValidationConfig) -> None:
        self._config = config
        self._headers: dict[bytes, tuple[Mapping[str, Any], str]] = {}

    def check(self, segment: bytes, config: SetValidationConfig) -> tuple[Mapping[str, Any], str]:
        """The decoded header and its accepted ``alg``; raises as the uncached rules do."""
        if config is not self._config:  # the decoder was given another configuration
            self._config, self._headers = config, {}
        found = self._headers.get(segment)
        if found is None:
            try:
                header = jose.decode_json_object(segment, "header")
            except JOSEError as error:
                raise _set_error(error) from None
            found = (MappingProxyType(header), validate_set_header(header, config))
            if len(self._headers) >= _HEADER_CACHE_SIZE:
                self._headers.clear()
            self._headers[segment] = found
        return found


class SetDecoder:
    """Verify and validate compact SETs from one transmitter."""

    def __init__(
        self,
        config: SetValidationConfig,
        keys: TransmitterKeys,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if keys.issuer != config.issuer:
            raise ConfigurationError("TransmitterKeys issuer differs from the SET issuer")
        self.config = config
        self._keys = keys
        self._clock = clock
        self._headers = _CheckedHeaders(config)

    async def decode(self, token: str) -> SecurityEvent:
        config = self.config
        try:
            header_segment, payload_segment, signature_segment = jose.split_compact(
                token, max_bytes=config.max_set_bytes
            )
        except JOSEError as error:
            raise _set_error(error) from None
        header, alg = self._headers.check(header_segment, config)
        compact = CompactJWS(
            header, header_segment + b"." + payload_segment, payload_segment, signature_segment
        )
        key = await self._keys.key_for(compact.kid, compact.x5t)
        return _verify_with(compact, alg, key, config, now=int(self._clock()))
