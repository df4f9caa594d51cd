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
connection returns to the pool. A token never follows a redirect to another origin (aiohttp
drops the ``Authorization`` header there, and the middleware does not put it back): after a
redirect response, the next request of the same task that goes to another origin is sent as it
is, and its challenges go back to the caller.
"""

from __future__ import annotations

from contextvars import ContextVar

try:
    # ClientHandlerType exists from aiohttp 3.12 on, with client middlewares.
    from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
    from aiohttp.payload import Payload
    from yarl import URL
except ImportError as exc:  # pragma: no cover - exercised in a plain install only
    raise ImportError(
        "cae_sdk.client.aiohttp needs aiohttp 3.12 or later: install the 'aiohttp' extra "
        "(pip install 'cae-sdk[aiohttp]')"
    ) from exc

from ._adapter import FlowAdapter
from ._flow import FlowRequest, FlowResponse

__all__ = ["CAEClientMiddleware"]

# aiohttp runs client middlewares again for every redirect hop (the redirect loop is around
# them), in the same task. After a redirect response, the origin the token was sent to, so that
# the hop that follows is recognised. Per task: concurrent requests never see each other's.
_REDIRECTED_FROM: ContextVar[URL | None] = ContextVar("cae_aiohttp_redirect", default=None)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


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
        token_origin = _REDIRECTED_FROM.get()
        _REDIRECTED_FROM.set(None)
        if token_origin is not None and request.url.origin() != token_origin:
            # A redirect hop to another origin: aiohttp dropped the Authorization header
            # (client.py, the redirect loop); the token does not follow it either, and a
            # challenge from there is not ours to answer.
            response = await handler(request)
            _note_redirect(response, token_origin)
            return response
        response = await self._authorized(request, handler)
        _note_redirect(response, request.url.origin())
        return response

    async def _authorized(
        self, request: ClientRequest, handler: ClientHandlerType
    ) -> ClientResponse:
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


def _note_redirect(response: ClientResponse, token_origin: URL) -> None:
    if response.status in _REDIRECT_STATUSES and (
        "Location" in response.headers or "URI" in response.headers
    ):
        _REDIRECTED_FROM.set(token_origin)
