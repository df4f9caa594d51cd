"""Verify a compact SET against the transmitter's keys, then apply the pure rules.

:class:`TransmitterKeys` discovers the transmitter (SSF 1.0 section 7.2: the configuration's
``issuer`` must equal the expected issuer exactly), fetches its JWKS, and refreshes it when a SET
names an unknown ``kid`` (at most once per cooldown, so a flood of bogus ``kid`` values cannot
make the receiver hammer the transmitter). :class:`SetDecoder` ties keys and rules together.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ...core.errors import ConfigurationError, EventSourceError, EventValidationError
from ...core.secevents import SSF_CONFIGURATION_PATH
from .rules import (
    INVALID_KEY,
    INVALID_REQUEST,
    SecurityEvent,
    SetValidationConfig,
    validate_set_claims,
    validate_set_header,
)

__all__ = ["SetDecoder", "TransmitterKey", "TransmitterKeys", "parse_jwks", "verify_set"]

_MIN_RSA_BITS = 2048
_MAX_DOCUMENT_BYTES = 256 * 1024

_BASE64URL = re.compile(rb"[A-Za-z0-9_-]*")
_ALGORITHMS = {alg: jwt.get_algorithm_by_name(alg) for alg in ("RS256", "PS256", "ES256")}


@dataclass(frozen=True, slots=True)
class TransmitterKey:
    """One public signing key of the transmitter."""

    kid: str
    algorithms: frozenset[str]
    """What the key may verify: RSA of 2048 bits or more for RS256/PS256, P-256 for ES256
    (RFC 8725 section 3.1: a header may not pair an algorithm with the wrong kind of key)."""
    key: Any


def _algorithms_for(key: Any) -> frozenset[str]:
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= _MIN_RSA_BITS:
        return frozenset({"RS256", "PS256"})
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
        return frozenset({"ES256"})
    return frozenset()


def parse_jwks(document: Any) -> dict[str, TransmitterKey]:
    """Signing keys of a JWKS document by ``kid``; keys that are not usable are skipped."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ConfigurationError("transmitter JWKS is not a JSON object with a 'keys' array")
    keys: dict[str, TransmitterKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") not in ("RSA", "EC") or not isinstance(entry.get("kid"), str):
            continue
        try:
            public = jwt.PyJWK(entry).key
        except jwt.PyJWTError:
            continue
        algorithms = _algorithms_for(public)
        if algorithms:
            keys[entry["kid"]] = TransmitterKey(entry["kid"], algorithms, public)
    return keys


@dataclass(frozen=True, slots=True)
class _CompactSet:
    header: dict[str, Any]
    signing_input: bytes
    payload_segment: bytes
    signature_segment: bytes


def _b64url(segment: bytes) -> bytes:
    # RFC 7515 section 2: base64url without padding; any other byte is refused (the stdlib
    # decoder would silently skip it).
    if not _BASE64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


def _json_segment(segment: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64url(segment))
    except (ValueError, RecursionError):
        raise EventValidationError(INVALID_REQUEST, f"SET {what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise EventValidationError(INVALID_REQUEST, f"SET {what} is not a JSON object")
    return value


def _split(token: str, config: SetValidationConfig) -> _CompactSet:
    """Split a compact JWS (RFC 7515 section 7.1) and decode its header; verifies nothing."""
    if len(token) > config.max_set_bytes:
        raise EventValidationError(INVALID_REQUEST, "SET exceeds the size limit")
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise EventValidationError(INVALID_REQUEST, "SET is not ASCII") from None
    parts = raw.split(b".")
    if len(parts) != 3:
        raise EventValidationError(INVALID_REQUEST, "body is not a compact JWS")
    header = _json_segment(parts[0], "header")
    return _CompactSet(header, parts[0] + b"." + parts[1], parts[1], parts[2])


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
    compact: _CompactSet,
    alg: str,
    keys: Mapping[str, TransmitterKey],
    config: SetValidationConfig,
    *,
    now: int,
) -> SecurityEvent:
    key = _select_key(compact.header, alg, keys)
    try:
        signature = _b64url(compact.signature_segment)
    except ValueError:
        raise EventValidationError(INVALID_REQUEST, "SET signature is not base64url") from None
    # PyJWT's algorithm objects do the RFC 7518 section 3 work (PKCS#1 v1.5, PSS, R||S -> DER).
    if not _ALGORITHMS[alg].verify(compact.signing_input, key.key, signature):
        raise EventValidationError(INVALID_KEY, "SET signature does not verify")
    claims = _json_segment(compact.payload_segment, "payload")
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
        self.configuration_url = configuration_url or issuer.rstrip("/") + SSF_CONFIGURATION_PATH
        self._http = http
        self._cooldown = refresh_cooldown_seconds
        self._clock = clock
        self._keys: dict[str, TransmitterKey] = {}
        self._configuration: dict[str, Any] | None = None
        self._last_refresh: float | None = None
        self._loaded = False
        if jwks is not None:
            # Pinned keys (out-of-band configuration): never fetched, never refreshed.
            self._keys = parse_jwks(jwks)
            self._loaded = True
        elif http is None:
            raise ConfigurationError("TransmitterKeys needs an http client or pinned jwks")
        self._lock = asyncio.Lock()

    @property
    def keys(self) -> Mapping[str, TransmitterKey]:
        return self._keys

    async def configuration(self) -> dict[str, Any]:
        """The transmitter configuration (SSF 1.0 section 7.1), fetched once."""
        if self._configuration is None:
            document = await self._get_json(self.configuration_url)
            if not isinstance(document, dict) or document.get("issuer") != self.issuer:
                # SSF 1.0 section 7.2.3: the issuer in the document must be identical.
                raise ConfigurationError(
                    "SSF configuration issuer does not match the expected issuer"
                )
            if not isinstance(document.get("jwks_uri"), str):
                raise ConfigurationError("SSF configuration has no jwks_uri")
            self._configuration = document
        return self._configuration

    async def refresh(self, *, force: bool = False) -> bool:
        """Fetch the JWKS again unless an unknown-``kid`` refresh ran within the cooldown.

        The first load does not count against the cooldown, so a rotation right after start-up
        is picked up; after that, bogus ``kid`` values trigger at most one fetch per cooldown.
        """
        async with self._lock:
            now = self._clock()
            recent = self._last_refresh is not None and now - self._last_refresh < self._cooldown
            if recent and not force:
                return False
            configuration = await self.configuration()
            self._keys = parse_jwks(await self._get_json(str(configuration["jwks_uri"])))
            self._last_refresh = now if self._loaded else None
            self._loaded = True
            return True

    async def key_set_for(self, kid: str | None) -> Mapping[str, TransmitterKey]:
        """Keys to verify a SET naming ``kid``: refresh once (with cooldown) if it is unknown."""
        if not self._loaded or (kid is not None and kid not in self._keys):
            try:
                await self.refresh()
            except httpx.HTTPError as exc:
                # Unreachable key endpoint: temporary, so the SET must come again later (push
                # answers 503, poll does not acknowledge) rather than be refused for good.
                raise EventSourceError(
                    f"transmitter keys are unavailable: {type(exc).__name__}"
                ) from None
            except ConfigurationError as exc:
                if not self._keys:
                    raise EventValidationError(
                        INVALID_KEY, f"transmitter keys are unusable: {exc}"
                    ) from None
        return self._keys

    async def _get_json(self, url: str) -> Any:
        if self._http is None:
            raise ConfigurationError("pinned transmitter keys cannot be refreshed")
        response = await self._http.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        if len(response.content) > _MAX_DOCUMENT_BYTES:
            raise ConfigurationError(f"document at {url} is too large")
        try:
            return response.json()
        except ValueError:
            raise ConfigurationError(f"document at {url} is not JSON") from None


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
        kid = compact.header.get("kid")
        keys = await self._keys.key_set_for(kid if isinstance(kid, str) else None)
        return _verify_with(compact, alg, keys, self.config, now=int(self._clock()))
