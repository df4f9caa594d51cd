"""``CAEAuth``: cp1 bearer tokens for httpx, with CAE claims challenges handled in the flow.

A thin driver over the transport-neutral protocol in :mod:`cae_sdk.client._flow`: the sync
driver (:meth:`CAEAuth.auth_flow`) resolves token steps inline; the async driver
(:meth:`CAEAuth.async_auth_flow`) resolves them with :meth:`ChallengeFlow.atoken`, so blocking
MSAL calls never run on the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx

from ._adapter import FlowAdapter, NativeView, RequestView
from ._flow import TokenNeeded
from ._replay import is_replayable
from ._token import AccessToken

__all__ = ["CAEAuth"]


class _Request(RequestView[httpx.Request]):
    """An ``httpx.Request`` as :class:`~cae_sdk.client._flow.FlowRequest`."""

    __slots__ = ()

    def replayable(self) -> bool:
        return is_replayable(self.native)


class _Response(NativeView[httpx.Response]):
    """An ``httpx.Response`` as :class:`~cae_sdk.client._flow.FlowResponse`."""

    __slots__ = ()

    @property
    def status_code(self) -> int:
        return self.native.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.native.headers

    @property
    def url(self) -> str:
        # After redirects httpx hands the auth flow the last response; its request is the hop
        # that produced it.
        return str(self.native.request.url)


class CAEAuth(FlowAdapter, httpx.Auth):
    """``httpx.Auth`` that sends cp1 bearer tokens and answers CAE claims challenges.

    ``credential`` is any :class:`~cae_sdk.client.TokenCredential` (every cae-sdk
    credential is one). Concurrent acquisitions for the same claims are coalesced
    (:class:`SingleFlight`), repeated identical challenges are cut off by ``loop_breaker``, and
    the token is refreshed proactively at MSAL's ``refresh_in``. ``accept_invalid_token`` also
    treats ARM-style ``error="invalid_token"`` challenges with claims as claims challenges.
    Tokens go to https URLs and loopback hosts only, unless ``allow_http`` (RFC 6750 section
    5.3); any other plain http request raises :class:`~cae_sdk.core.errors.ConfigurationError`.
    """

    requires_request_body = False
    requires_response_body = False

    @property
    def accept_invalid_token(self) -> bool:
        return self.flow.accept_invalid_token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        state = self.flow
        flow = state.flow(_Request(request))
        step = next(flow)
        while True:
            if isinstance(step, TokenNeeded):
                reply: AccessToken | _Response = state.token(step)
            else:
                reply = _Response((yield request))
            try:
                step = flow.send(reply)
            except StopIteration:
                return

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        state = self.flow
        flow = state.flow(_Request(request))
        step = next(flow)
        while True:
            if isinstance(step, TokenNeeded):
                reply: AccessToken | _Response = await state.atoken(step)
            else:
                reply = _Response((yield request))
            try:
                step = flow.send(reply)
            except StopIteration:
                return
