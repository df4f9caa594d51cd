"""Signing keys of a token issuer: the shared :class:`~cae_sdk.keys.KeySource` with OpenID
discovery, and its errors as ``TokenValidationError`` reasons (``unknown_key``,
``keys_unavailable``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ..core.errors import JOSEError, KeysUnavailable, TokenValidationError
from ..core.jose import JWK, JWKSet, parse_jwks
from ..keys._source import DEFAULT_FETCH_TIMEOUT, KeySource

__all__ = ["JWKSet", "KeySetSource", "parse_jwks"]


def key_error(error: JOSEError) -> TokenValidationError:
    """A key source refusal as a ``TokenValidationError`` (retryable ones carry
    ``retry_after``)."""
    retry_after = error.retry_after if isinstance(error, KeysUnavailable) else None
    return TokenValidationError(error.reason, error.description, retry_after=retry_after)


class KeySetSource(KeySource):
    """The key set of one issuer (see :class:`cae_sdk.keys.KeySource`): from ``jwks_uri``, an
    ``openid_configuration_url`` or pinned ``jwks`` (none of them: ``ConfigurationError``)."""

    def __init__(
        self,
        *,
        jwks_uri: str | None = None,
        openid_configuration_url: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_age: float = 3600.0,
        cooldown: float = 5.0,
        timeout: float = DEFAULT_FETCH_TIMEOUT,
        unknown_key_wait: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            jwks_uri=jwks_uri,
            configuration_url=openid_configuration_url,
            jwks=jwks,
            http_client=http_client,
            max_age=max_age,
            cooldown=cooldown,
            timeout=timeout,
            unknown_key_wait=unknown_key_wait,
            clock=clock,
        )

    @property
    def openid_configuration_url(self) -> str | None:
        return self.configuration_url

    async def get(self, kid: str | None, x5t: str | None = None) -> JWK:
        """The key for ``kid`` (or ``x5t``), refreshing as :meth:`KeySource.lookup` does.
        Raises ``TokenValidationError`` with ``unknown_key`` or ``keys_unavailable``."""
        try:
            return await self.lookup(kid, x5t)
        except JOSEError as error:
            raise key_error(error) from None
