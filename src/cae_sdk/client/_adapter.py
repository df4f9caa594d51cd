"""What every HTTP-library adapter over :class:`ChallengeFlow` shares.

An adapter (httpx auth, ``requests`` auth, aiohttp middleware, ...) is its library's glue around
one :class:`~cae_sdk.client._flow.ChallengeFlow`: it inherits how that flow is built from the
adapter's arguments (:class:`FlowAdapter`) and the ``credential`` / ``scopes`` it serves, and
wraps its library's request and response objects in small views the flow reads
(:class:`NativeView`, :class:`RequestView`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping, Sequence
from typing import Generic, Protocol, TypeVar

from ._flow import ChallengeFlow
from ._loop_breaker import LoopBreaker
from ._token import TokenCredential

__all__ = ["FlowAdapter", "NativeView", "RequestView"]


class FlowAdapter:
    """Holds ``self.flow``: the token state and protocol for ``credential`` and ``scopes``.

    ``loop_breaker``, ``accept_invalid_token`` and ``allow_http`` are as for
    :class:`~cae_sdk.client.CAEAuth`. An adapter that keeps state of its own sets it up in
    :meth:`_setup`, so that this constructor stays the one every adapter is built with.
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
        self._setup()

    def _setup(self) -> None:
        """Per-instance state of an adapter beyond the flow (none by default)."""

    @property
    def credential(self) -> TokenCredential:
        return self.flow.credential

    @property
    def scopes(self) -> tuple[str, ...]:
        return self.flow.scopes


_Native = TypeVar("_Native")


class NativeView(Generic[_Native]):
    """A library's own request or response object (``native``), as the flow sees it."""

    __slots__ = ("native",)

    def __init__(self, native: _Native) -> None:
        self.native = native


class _URL(Protocol):
    @property
    def scheme(self) -> str: ...


class _HTTPRequest(Protocol):
    """A request object with ``method``, a parsed ``url`` and mutable ``headers`` (httpx's and
    aiohttp's are)."""

    @property
    def method(self) -> str: ...

    @property
    def url(self) -> _URL: ...

    @property
    def headers(self) -> MutableMapping[str, str]: ...


_Request = TypeVar("_Request", bound=_HTTPRequest)


class RequestView(NativeView[_Request]):
    """:class:`~cae_sdk.client._flow.FlowRequest` over such a request, but ``replayable()``,
    which depends on how the library holds a body."""

    __slots__ = ()

    @property
    def method(self) -> str:
        return self.native.method

    @property
    def url(self) -> str:
        return str(self.native.url)

    @property
    def scheme(self) -> str:
        return self.native.url.scheme

    def set_authorization(self, value: str) -> None:
        self.native.headers["Authorization"] = value
