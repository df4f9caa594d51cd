"""httpx clients with :class:`CAEAuth` preset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from .auth import CAEAuth
from .loop_breaker import LoopBreaker
from .token import TokenCredential

__all__ = ["AsyncCAEClient", "CAEClient"]


def _auth(
    credential: TokenCredential | CAEAuth,
    scopes: Sequence[str] | str | None,
    loop_breaker: LoopBreaker | None,
    accept_invalid_token: bool,
) -> CAEAuth:
    if isinstance(credential, CAEAuth):
        return credential
    if scopes is None:
        raise TypeError("scopes are required when passing a credential")
    return CAEAuth(
        credential, scopes, loop_breaker=loop_breaker, accept_invalid_token=accept_invalid_token
    )


class CAEClient(httpx.Client):
    """``httpx.Client`` whose requests carry cp1 tokens and survive CAE claims challenges.

    Pass a credential and scopes (or a ready :class:`CAEAuth` to share its token state and
    single flight between clients); every other keyword goes to ``httpx.Client``.
    """

    def __init__(
        self,
        credential: TokenCredential | CAEAuth,
        scopes: Sequence[str] | str | None = None,
        *,
        loop_breaker: LoopBreaker | None = None,
        accept_invalid_token: bool = False,
        **kwargs: Any,
    ) -> None:
        self.cae_auth = _auth(credential, scopes, loop_breaker, accept_invalid_token)
        super().__init__(auth=self.cae_auth, **kwargs)


class AsyncCAEClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` counterpart of :class:`CAEClient`."""

    def __init__(
        self,
        credential: TokenCredential | CAEAuth,
        scopes: Sequence[str] | str | None = None,
        *,
        loop_breaker: LoopBreaker | None = None,
        accept_invalid_token: bool = False,
        **kwargs: Any,
    ) -> None:
        self.cae_auth = _auth(credential, scopes, loop_breaker, accept_invalid_token)
        super().__init__(auth=self.cae_auth, **kwargs)
