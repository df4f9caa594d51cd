"""cp1 bearer tokens and CAE claims challenges for aiohttp, as a client middleware.

``aiohttp.ClientSession(middlewares=[CAEClientMiddleware(credential, scopes)])`` (aiohttp
3.12 or later: client middlewares, ``aiohttp/client_middlewares.py``). The middleware is a thin
async driver over the protocol every cae-sdk adapter shares
(:class:`~cae_sdk.client._flow.ChallengeFlow`), so it behaves like
:class:`~cae_sdk.client.CAEAuth` does for ``httpx.AsyncClient``: cp1 token on every request;
a ``401`` with a CAE claims challenge gets a token for those claims and the request is sent once
more through the rest of the chain, body included; a second challenge raises
:class:`~cae_sdk.core.errors.ClaimsChallengeFailed`; a one-shot body (an async generator, a
stream) raises :class:`~cae_sdk.core.errors.RequestNotReplayable`. The event loop is never
blocked: a held token is used inline and MSAL runs in a worker thread, one per burst.

aiohttp runs client middlewares once per hop (redirects are followed around them), and lets a
middleware call the handler again with the same request; a payload tells whether it can be sent
again (``Payload.consumed``: aiohttp itself refuses to resend a consumed body,
``aiohttp/client.py``). The challenged response is released before the replay so its
connection returns to the pool.
"""

from __future__ import annotations

try:
    # ClientHandlerType exists from aiohttp 3.12 on, with client middlewares.
    from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
    from aiohttp.payload import Payload
except ImportError as exc:  # pragma: no cover - exercised in a plain install only
    raise ImportError(
        "cae_sdk.client.aiohttp needs aiohttp 3.12 or later: install the 'aiohttp' extra "
        "(pip install 'cae-sdk[aiohttp]')"
    ) from exc

from ._adapter import FlowAdapter
from ._flow import FlowRequest, FlowResponse

__all__ = ["CAEClientMiddleware"]


class _Request:
    """An aiohttp ``ClientRequest`` as the flow's request."""

    __slots__ = ("native",)

    def __init__(self, native: ClientRequest) -> None:
        self.native = native

    @property
    def method(self) -> str:
        return self.native.method

    @property
    def url(self) -> str:
        return str(self.native.url)

    def set_authorization(self, value: str) -> None:
        self.native.headers["Authorization"] = value

    def replayable(self) -> bool:
        body = self.native.body
        return not (isinstance(body, Payload) and body.consumed)


class _Response:
    """An aiohttp ``ClientResponse`` as the flow's response."""

    __slots__ = ("native",)

    def __init__(self, native: ClientResponse) -> None:
        self.native = native

    @property
    def status_code(self) -> int:
        return self.native.status

    @property
    def headers(self) -> object:
        return self.native.headers  # a multidict: every WWW-Authenticate value is read

    @property
    def url(self) -> str:
        return str(self.native.url)


class CAEClientMiddleware(FlowAdapter):
    """aiohttp client middleware: cp1 tokens from ``credential`` for ``scopes``, CAE claims
    challenges answered with one replay.

    Keep one instance per credential and scopes (it holds the token and the single flight);
    ``loop_breaker`` and ``accept_invalid_token`` are as for :class:`~cae_sdk.client.CAEAuth`.
    """

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        sent: list[ClientResponse] = []

        async def send(step: FlowRequest) -> FlowResponse:
            if sent:
                sent[-1].release()  # the challenged response: free its connection first
            response = await handler(request)
            sent.append(response)
            return _Response(response)

        try:
            final = await self.flow.arun(_Request(request), send)
        except BaseException as error:
            # An error that carries a response leaves it to the caller; any other releases it.
            if sent and getattr(error, "response", None) is not sent[-1]:
                sent[-1].release()
            raise
        response = final.native
        assert isinstance(response, ClientResponse)
        return response
