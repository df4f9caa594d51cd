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

aiohttp runs client middlewares once per hop (redirects are followed around them, each hop a new
``ClientRequest``), and lets a middleware call the handler again with the same request; a
payload tells whether it can be sent again (``Payload.consumed``: aiohttp itself refuses to
resend a consumed body, ``aiohttp/client.py``). The challenged response is released before the
replay so its connection returns to the pool.

A token never follows a redirect to another origin (RFC 6454 origins). aiohttp drops the
``Authorization`` header on such a hop, but the hop comes through this middleware again, as a
request like any other. So when a redirect to another origin passes through, the middleware
notes the origin it points to, and the next request it sees for that origin is sent as it is
(no token), its challenges returned to the caller. The note is kept by the middleware, not by
the task: an outer middleware that runs the handler in a task of its own (``asyncio.wait_for``
before Python 3.12, ``create_task``) cannot make the hop look like a new request. A redirect
that is not followed (``allow_redirects=False``, too many redirects) leaves its note behind:
the next request to that origin through this middleware goes out once without a token (at most
64 notes are kept, oldest dropped first).
"""

from __future__ import annotations

import threading
from collections import deque
from contextlib import suppress

try:
    # ClientHandlerType exists from aiohttp 3.12 on, with client middlewares.
    from aiohttp import ClientHandlerType, ClientRequest, ClientResponse, hdrs
    from aiohttp.payload import Payload
    from yarl import URL
except ImportError as exc:  # pragma: no cover - exercised in a plain install only
    raise ImportError(
        "cae_sdk.client.aiohttp needs aiohttp 3.12 or later: install the 'aiohttp' extra "
        "(pip install 'cae-sdk[aiohttp]')"
    ) from exc

from ._adapter import FlowAdapter, NativeView, RequestView
from ._flow import TokenNeeded
from ._token import AccessToken

__all__ = ["CAEClientMiddleware"]

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})  # the ones aiohttp follows

_MAX_PENDING_HOPS = 64
"""Redirects to another origin whose hop has not come through yet, per middleware."""

_Origin = tuple[str, str, int | None]


# ClientRequest fits the bound; mypy checks it before it has inferred the class's attributes.
class _Request(RequestView[ClientRequest]):  # type: ignore[type-var]
    """An aiohttp ``ClientRequest`` as the flow's request."""

    __slots__ = ()

    def set_authorization(self, value: str) -> None:
        self.native.headers[hdrs.AUTHORIZATION] = value  # an istr: multidict skips case-folding

    def replayable(self) -> bool:
        body = self.native.body
        return not (isinstance(body, Payload) and body.consumed)


class _Response(NativeView[ClientResponse]):
    """An aiohttp ``ClientResponse`` as the flow's response."""

    __slots__ = ()

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
    ``loop_breaker``, ``accept_invalid_token`` and ``allow_http`` are as for
    :class:`~cae_sdk.client.CAEAuth`.
    """

    def _setup(self) -> None:
        # (origin a redirect points to, origin the token was sent to), oldest first.
        self._hops: deque[tuple[_Origin, _Origin]] = deque(maxlen=_MAX_PENDING_HOPS)
        self._hops_lock = threading.Lock()  # one middleware may serve sessions on several loops

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        if self._hops:  # a redirect to another origin is pending: is this its hop?
            token_origin = self._take_hop(request.url)
            if token_origin is not None:
                # The hop to another origin: aiohttp dropped the Authorization header
                # (client.py, the redirect loop); the token does not follow it either, and a
                # challenge from there is not ours to answer.
                passed = await handler(request)
                self._note_redirect(passed, token_origin)
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
        if response.status in _REDIRECT_STATUSES:
            token_origin = _origin_of(request.url)
            if token_origin is not None:
                self._note_redirect(response, token_origin)
        return response

    def _take_hop(self, url: URL) -> _Origin | None:
        """The token's origin when ``url`` is the pending hop of a redirect (consumed)."""
        here = _origin_of(url)
        with self._hops_lock:
            for index, (target, token_origin) in enumerate(self._hops):
                if target == here:
                    del self._hops[index]
                    return token_origin
        return None

    def _note_redirect(self, response: ClientResponse, token_origin: _Origin) -> None:
        """After a redirect response to another origin than ``token_origin``, remember its
        target for the hop that follows."""
        if response.status not in _REDIRECT_STATUSES:
            return
        location = response.headers.get("Location") or response.headers.get("URI")
        if location is None:
            return  # aiohttp does not follow it
        try:
            target = URL(location)
            if not target.scheme:  # relative, or scheme-relative ("//host/path")
                target = response.url.join(target)
        except ValueError:
            return  # aiohttp refuses it too (InvalidUrlRedirectClientError)
        target_origin = _origin_of(target)
        if target_origin is not None and target_origin != token_origin:
            with self._hops_lock:
                self._hops.append((target_origin, token_origin))


def _origin_of(url: URL) -> _Origin | None:
    """The origin of ``url`` (RFC 6454 section 4), compared however the URL was encoded:
    lower-case scheme, host in IDNA form without a trailing dot, effective port. ``None`` for
    a URL without a host (aiohttp resolves those against the current URL: same origin)."""
    host = url.raw_host
    if not host:
        return None
    host = host.lower().rstrip(".")
    with suppress(UnicodeError):  # not IDNA-encodable: compared as written (lower-case)
        host = host.encode("idna").decode("ascii")
    try:
        port = url.port
    except ValueError:
        return None
    return url.scheme.lower(), host, port
