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
from ._flow import TokenNeeded
from ._token import AccessToken

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
        if token_origin is not None:
            _REDIRECTED_FROM.set(None)
            if request.url.origin() != token_origin:
                # A redirect hop to another origin: aiohttp dropped the Authorization header
                # (client.py, the redirect loop); the token does not follow it either, and a
                # challenge from there is not ours to answer.
                passed = await handler(request)
                _note_redirect(passed, token_origin)
                return passed
        # The shared generator, driven inline (as CAEAuth.async_auth_flow does): no extra
        # coroutine frames between aiohttp and its handler on the hot path.
        flow = self.flow
        exchange = flow.flow(_Request(request))
        step = next(exchange)
        response: ClientResponse | None = None
        try:
            while True:
                reply: AccessToken | _Response
                if isinstance(step, TokenNeeded):
                    reply = await flow.atoken(step)
                else:
                    if response is not None:
                        response.release()  # the challenged response: free its connection
                    response = await handler(request)
                    reply = _Response(response)
                try:
                    step = exchange.send(reply)
                except StopIteration:
                    break
        except BaseException as error:
            # An error that carries a response leaves it to the caller; any other releases it.
            if response is not None and getattr(error, "response", None) is not response:
                response.release()
            raise
        assert response is not None  # the flow always sends before it ends
        _note_redirect(response, None, request)
        return response


def _note_redirect(
    response: ClientResponse, token_origin: URL | None, request: ClientRequest | None = None
) -> None:
    """After a redirect response, remember where the token was sent (``token_origin``, or the
    origin of ``request``) for the hop that follows."""
    if response.status in _REDIRECT_STATUSES and (
        "Location" in response.headers or "URI" in response.headers
    ):
        if token_origin is None and request is not None:
            token_origin = request.url.origin()
        _REDIRECTED_FROM.set(token_origin)
