"""The access token value credentials hand to :class:`~cae_sdk.client.CAEAuth`."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["AccessToken", "TokenCredential", "token_sha256"]

# MSAL treats a cached access token as expired five minutes before ``expires_on``
# (msal/application.py, _acquire_token_silent_from_cache_and_possibly_refresh_it).
EXPIRY_MARGIN_SECONDS = 5 * 60


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token and when to stop using it.

    ``refresh_on`` is when a proactive refresh should start (MSAL's ``refresh_in``); the token
    itself is excluded from ``repr`` so it never lands in logs or tracebacks.
    """

    token: str = field(repr=False)
    expires_on: float
    refresh_on: float
    claims: str | None = None
    """The claims request the token was acquired for (``None`` for a plain cp1 token)."""

    @property
    def sha256(self) -> str:
        return token_sha256(self.token)

    def needs_refresh(self, now: float) -> bool:
        return now >= self.refresh_on or now >= self.expires_on - EXPIRY_MARGIN_SECONDS

    @classmethod
    def from_result(
        cls, result: Mapping[str, Any], *, now: float, claims: str | None = None
    ) -> AccessToken:
        """Build from an MSAL success result: ``expires_in`` plus ``refresh_in`` (fresh from the
        identity provider) or ``refresh_on`` (cache hit)."""
        expires_on = now + _seconds(result.get("expires_in") or 0)
        if result.get("refresh_on") is not None:
            refresh_on = _seconds(result["refresh_on"])
        elif result.get("refresh_in") is not None:
            refresh_on = now + _seconds(result["refresh_in"])
        else:
            refresh_on = expires_on - EXPIRY_MARGIN_SECONDS
        return cls(str(result["access_token"]), expires_on, min(refresh_on, expires_on), claims)


def _seconds(value: Any) -> float:
    """A time value of a token response: a finite, non-negative number (``ValueError`` else)."""
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("a token response time is not a finite, non-negative number")
    return seconds


def token_sha256(token: str) -> str:
    """Hex SHA-256 of a token: how tokens are compared and referred to without exposing them."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@runtime_checkable
class TokenCredential(Protocol):
    """What :class:`CAEAuth` needs from a credential.

    ``claims`` is the decoded claims request of a challenge (``None`` normally);
    ``challenged_token`` is the token the resource just refused, so a credential can tell when
    the identity provider hands the same one back.
    """

    def get_token(
        self,
        scopes: Sequence[str],
        *,
        claims: str | None = None,
        challenged_token: str | None = None,
    ) -> AccessToken: ...
