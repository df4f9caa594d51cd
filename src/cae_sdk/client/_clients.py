"""httpx clients with :class:`CAEAuth` preset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from ..core.errors import ConfigurationError
from ._auth import CAEAuth
from ._loop_breaker import LoopBreaker
from ._token import TokenCredential

__all__ = ["AsyncCAEClient", "CAEClient"]


def _take_auth(
    credential: TokenCredential | CAEAuth,
    scopes: Sequence[str] | str | None,
    kwargs: dict[str, Any],
) -> CAEAuth:
    """Build the client's :class:`CAEAuth`, taking its own options out of ``kwargs`` (the rest
    belongs to httpx)."""
    loop_breaker: LoopBreaker | None = kwargs.pop("loop_breaker", None)
    accept_invalid_token: bool | None = kwargs.pop("accept_invalid_token", None)
    allow_http: bool | None = kwargs.pop("allow_http", None)
    if isinstance(credential, CAEAuth):
        if any(s is not None for s in (scopes, loop_breaker, accept_invalid_token, allow_http)):
            # Silently dropping them would leave the client running on other settings.
            raise ConfigurationError(
                "scopes, loop_breaker, accept_invalid_token and allow_http are settings of the "
                "CAEAuth passed in; give them to CAEAuth, not to the client"
            )
        return credential
    if scopes is None:
        raise TypeError("scopes are required when passing a credential")
    return CAEAuth(
        credential,
        scopes,
        loop_breaker=loop_breaker,
        accept_invalid_token=bool(accept_invalid_token),
        allow_http=bool(allow_http),
    )


class _WithCAEAuth:
    """Constructor shared by both clients: build :class:`CAEAuth`, hand the rest to httpx."""

    cae_auth: CAEAuth

    def __init__(
        self,
        credential: TokenCredential | CAEAuth,
        scopes: Sequence[str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        self.cae_auth = _take_auth(credential, scopes, kwargs)
        # Cooperative: the next class in the MRO is httpx.Client or httpx.AsyncClient.
        super().__init__(auth=self.cae_auth, **kwargs)  # type: ignore[call-arg]


class CAEClient(_WithCAEAuth, httpx.Client):
    """``httpx.Client`` whose requests carry cp1 tokens and survive CAE claims challenges.

    ``CAEClient(credential, scopes, **kwargs)``: pass a credential and scopes (or a ready
    :class:`CAEAuth` to share its token state and single flight between clients).
    ``loop_breaker=``, ``accept_invalid_token=`` and ``allow_http=`` go to :class:`CAEAuth`;
    every other keyword goes to ``httpx.Client``.
    """


class AsyncCAEClient(_WithCAEAuth, httpx.AsyncClient):
    """``httpx.AsyncClient`` counterpart of :class:`CAEClient` (same arguments)."""
