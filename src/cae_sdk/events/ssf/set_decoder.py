"""Verify a compact SET against the transmitter's keys, then apply the pure rules.

Parsing and signature checks are the shared verifier (:mod:`cae_sdk.core.jose`), keys come from
the shared :class:`~cae_sdk.keys.KeySource`; this adapter adds the SET rules
(:mod:`.rules`) and maps refusals to RFC 8935 section 2.4 error codes.

:class:`TransmitterKeys` discovers the transmitter (SSF 1.0 section 7.2: the configuration's
``issuer`` must equal the expected issuer exactly), fetches its JWKS, and refreshes it when a SET
names an unknown ``kid`` (at most once per cooldown, so a flood of bogus ``kid`` values cannot
make the receiver hammer the transmitter). :class:`SetDecoder` ties keys and rules together.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ...core import jose
from ...core.errors import ConfigurationError, EventSourceError, EventValidationError, JOSEError
from ...core.jose import JWK, CompactJWS
from ...core.secevents import ssf_configuration_url
from ...keys.source import KeySource
from .rules import (
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


def _signing_keys(keys: jose.JWKSet) -> dict[str, TransmitterKey]:
    """Keys a SET may name: those with a ``kid`` and at least one algorithm they fit."""
    return {kid: key for kid, key in keys.by_kid.items() if key.algorithms}


def parse_jwks(document: Any) -> dict[str, TransmitterKey]:
    """Signing keys of a JWKS document by ``kid``; keys that are not usable are skipped."""
    try:
        return _signing_keys(jose.parse_jwks(document))
    except JOSEError:
        raise ConfigurationError(
            "transmitter JWKS is not a JSON object with a 'keys' array"
        ) from None


# JOSEError reason -> RFC 8935 section 2.4 error code: a refusal of the key or signature is
# invalid_key, a malformed serialisation invalid_request.
_MALFORMED_REASONS = frozenset({jose.MALFORMED, jose.UNSUPPORTED_HEADER})


def _set_error(error: JOSEError) -> EventValidationError:
    err = INVALID_REQUEST if error.reason in _MALFORMED_REASONS else INVALID_KEY
    return EventValidationError(err, f"SET {error.description}")


def _split(token: str, config: SetValidationConfig) -> CompactJWS:
    """Split a compact JWS (RFC 7515 section 7.1) and decode its header; verifies nothing."""
    try:
        return jose.decode_compact(token, max_bytes=config.max_set_bytes)
    except JOSEError as error:
        raise _set_error(error) from None


def verify_set(
    token: str,
    keys: Mapping[str, TransmitterKey],
    config: SetValidationConfig,
    *,
    now: int,
) -> SecurityEvent:
    """Verify the signature of ``token`` with ``keys`` and validate it. No network."""
    compact = _split(token, config)
    alg = validate_set_header(compact.header, config)
    return _verify_with(compact, alg, keys, config, now=now)


def _select_key(
    header: Mapping[str, Any], alg: str, keys: Mapping[str, TransmitterKey]
) -> TransmitterKey:
    kid = header.get("kid")
    if isinstance(kid, str):
        key = keys.get(kid)
    elif len(keys) == 1:
        # No kid: acceptable only when the transmitter publishes a single key.
        key = next(iter(keys.values()))
    else:
        key = None
    if key is None:
        raise EventValidationError(
            INVALID_KEY, "SET is signed with a key the transmitter does not publish"
        )
    if alg not in key.algorithms:
        raise EventValidationError(INVALID_KEY, f"key {kid!r} cannot be used with {alg}")
    return key


def _verify_with(
    compact: CompactJWS,
    alg: str,
    keys: Mapping[str, TransmitterKey],
    config: SetValidationConfig,
    *,
    now: int,
) -> SecurityEvent:
    key = _select_key(compact.header, alg, keys)
    try:
        jose.verify_signature(alg, compact.signing_input, compact.signature(), key)
        # The payload is decoded only once the signature holds.
        claims = compact.payload()
    except JOSEError as error:
        raise _set_error(error) from None
    return validate_set_claims(claims, config, now=now)


class TransmitterKeys:
    """The transmitter's signing keys, discovered from ``/.well-known/ssf-configuration``."""

    def __init__(
        self,
        issuer: str,
        *,
        http: httpx.AsyncClient | None = None,
        jwks: Mapping[str, Any] | None = None,
        configuration_url: str | None = None,
        refresh_cooldown_seconds: float = 30.0,
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
                timeout=None,  # the caller's client decides
                retry_until_loaded=True,
                max_document_bytes=_MAX_DOCUMENT_BYTES,
                clock=clock,
            )
        except JOSEError:
            raise ConfigurationError("pinned transmitter JWKS has no usable signing key") from None
        self._view: tuple[jose.JWKSet | None, Mapping[str, TransmitterKey]] = (None, {})

    def _by_kid(self, keys: jose.JWKSet | None) -> Mapping[str, TransmitterKey]:
        """The usable keys by ``kid``, rebuilt only when the key set changes (hot path)."""
        loaded, view = self._view
        if keys is not loaded:
            view = _signing_keys(keys) if keys is not None else {}
            self._view = (keys, view)
        return view

    @property
    def keys(self) -> Mapping[str, TransmitterKey]:
        return self._by_kid(self._source.keys)

    async def configuration(self) -> Mapping[str, Any]:
        """The transmitter configuration (SSF 1.0 section 7.1), fetched once."""
        if self._source.configuration is None:
            await self.refresh(force=True)
        if self._source.configuration is None:
            raise ConfigurationError(f"SSF configuration is unusable: {self._source.last_error}")
        return self._source.configuration

    async def refresh(self, *, force: bool = False) -> bool:
        """Fetch the JWKS again unless an unknown-``kid`` refresh ran within the cooldown.

        The first load does not count against the cooldown, so a rotation right after start-up
        is picked up; after that, bogus ``kid`` values trigger at most one fetch per cooldown.
        """
        if not force and not self._source.may_refresh():
            return False
        await self._source.refresh()
        return self._source.last_error is None

    async def key_set_for(self, kid: str | None) -> Mapping[str, TransmitterKey]:
        """Keys to verify a SET naming ``kid``: refresh once (with cooldown) if it is unknown."""
        attempts = self._source.attempts
        try:
            keys = await self._source.key_set(kid, None)
        except JOSEError:
            keys = None
        error = self._source.last_error
        fetched = self._source.attempts != attempts
        unresolved = keys is None or (kid is not None and kid not in keys.by_kid)
        if unresolved and isinstance(error, httpx.HTTPError) and (fetched or keys is None):
            # Unreachable key endpoint: temporary, so the SET must come again later (push
            # answers 503, poll does not acknowledge) rather than be refused for good.
            raise EventSourceError(
                f"transmitter keys are unavailable: {type(error).__name__}"
            ) from None
        if keys is None:
            raise EventValidationError(INVALID_KEY, f"transmitter keys are unusable: {error}")
        return self._by_kid(keys)


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

    async def decode(self, token: str) -> SecurityEvent:
        compact = _split(token, self.config)
        alg = validate_set_header(compact.header, self.config)
        keys = await self._keys.key_set_for(compact.kid)
        return _verify_with(compact, alg, keys, self.config, now=int(self._clock()))
