"""The constructor and accessors every HTTP-library adapter over :class:`ChallengeFlow` shares.

An adapter (``requests`` auth, aiohttp middleware, ...) is its library's glue around one
:class:`~cae_sdk.client._flow.ChallengeFlow`: it inherits how that flow is built from the
adapter's arguments, and the ``credential`` / ``scopes`` it serves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from ._flow import ChallengeFlow
from ._loop_breaker import LoopBreaker
from ._token import TokenCredential

__all__ = ["FlowAdapter"]


class FlowAdapter:
    """Holds ``self.flow``: the token state and protocol for ``credential`` and ``scopes``.

    ``loop_breaker``, ``accept_invalid_token`` and ``allow_http`` are as for
    :class:`~cae_sdk.client.CAEAuth`.
    """

    def __init__(
        self,
        credential: TokenCredential,
        scopes: Sequence[str] | str,
        *,
        loop_breaker: LoopBreaker | None = None,
        accept_invalid_token: bool = False,
        allow_http: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.flow = ChallengeFlow(
            credential,
            scopes,
            loop_breaker=loop_breaker,
            accept_invalid_token=accept_invalid_token,
            allow_http=allow_http,
            clock=clock,
        )

    @property
    def credential(self) -> TokenCredential:
        return self.flow.credential

    @property
    def scopes(self) -> tuple[str, ...]:
        return self.flow.scopes
