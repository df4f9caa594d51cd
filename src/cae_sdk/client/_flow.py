"""The claims-challenge protocol, once, for every HTTP library.

Every client adapter (httpx's :class:`~cae_sdk.client.CAEAuth`, and the ``requests``, aiohttp,
azure-core adapters) is a thin driver over :class:`ChallengeFlow`. The flow knows nothing about
any HTTP library: it works on a small request abstraction (:class:`FlowRequest`) and a small
response abstraction (:class:`FlowResponse`) that each adapter implements in a few lines.

Stable API (adapters depend on it)
----------------------------------
``FlowRequest`` (protocol, implemented by the adapter around its own request object)
    ``method`` (text), ``url`` (absolute URL as text, read only for logs, errors and origin
    checks), ``scheme`` (the URL's scheme, lower-case; read on every request, so cheap),
    ``set_authorization(value)`` (set the ``Authorization`` header to ``value``), and
    ``replayable()`` (whether the body can be sent a second time intact).

``FlowResponse`` (protocol, implemented by the adapter around its own response object)
    ``status_code`` (int), ``headers`` (anything :func:`~cae_sdk.core.challenges.
    find_claims_challenge` reads: a mapping, ``httpx.Headers``, raw pairs...), ``url`` (text: the
    URL of the request that produced this response, after any redirects) and ``native`` (the
    adapter's own response object; errors carry it as ``.response``).

``TokenNeeded`` (value)
    A step of the flow: get a token for ``claims`` (``None``: the plain cp1 token) replacing
    ``challenged_token`` (the token the resource just refused, or ``None``).

``ChallengeFlow(credential, scopes, *, loop_breaker=None, accept_invalid_token=False,
allow_http=False, clock=...)``
    The token state of one adapter instance (the held token, proactive refresh, single flight,
    loop breaker) and the protocol:

    * ``flow(request)`` -> generator. It yields either a :class:`TokenNeeded` (send back an
      :class:`~cae_sdk.client.AccessToken`, e.g. from ``token(step)`` or ``await
      atoken(step)``) or the very ``request`` it was given, its ``Authorization`` header just
      set (send it, then send back its :class:`FlowResponse`). A valid token at hand is used
      without a step (no I/O, no lock), so the first step is ``PLAIN_TOKEN`` only when the
      credential must be asked; drivers handle either step at any point. It returns when the last
      response sent in is the answer for the caller, and raises a
      :class:`~cae_sdk.core.errors.CAEError` (``ClaimsChallengeFailed``,
      ``RequestNotReplayable``, ``TokenAcquisitionError``, ``ClaimsChallengeLoop``...) when the
      exchange fails. Like httpx's ``Auth.auth_flow``, and one generator serves sync and async.
    * ``token(need)`` -> ``AccessToken``: resolve a step, blocking (call it from threads).
    * ``await atoken(need)`` -> ``AccessToken``: resolve a step without blocking the event loop
      (a valid held token is returned without a thread hop; MSAL runs in a worker thread).
    * ``run(request, send)`` / ``await arun(request, send)``: complete drivers for adapters whose
      library lets them send a request themselves (``send(request) -> FlowResponse``, or an
      awaitable of one); they return the final :class:`FlowResponse`.

``not_replayable(method, url, *, response, challenge)`` -> ``RequestNotReplayable``
    The error an adapter raises (or the flow raises for it) for a challenged one-shot body.

A bearer token goes over TLS only (RFC 6750 section 5.3: "Clients MUST always use TLS"): a
request to a plain ``http`` URL raises :class:`~cae_sdk.core.errors.ConfigurationError` before
any token is fetched, unless its host is a loopback address or ``localhost`` (RFC 6761 section
6.3) or the adapter was built with ``allow_http=True`` (azure-core's bearer policy and kiota
refuse such URLs too).

Challenge handling follows Microsoft's "Claims challenges, claims requests and client
capabilities" (Microsoft identity platform docs) and RFC 6750 section 3 (``WWW-Authenticate``):
on a ``401`` whose ``Bearer`` challenge carries ``error="insufficient_claims"`` and ``claims``,
get a token for those claims and replay the request once; a second challenge fails with
:class:`~cae_sdk.core.errors.ClaimsChallengeFailed`.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import random
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..core._urls import loggable_url, origin
from ..core.challenges import ClaimsChallenge, find_claims_challenge
from ..core.errors import ClaimsChallengeFailed, ConfigurationError, RequestNotReplayable
from ._loop_breaker import LoopBreaker
from ._token import AccessToken, TokenCredential
from ._token_state import PLAIN_TOKEN, TokenNeeded, TokenState

__all__ = [
    "PLAIN_TOKEN",
    "ChallengeFlow",
    "FlowRequest",
    "FlowResponse",
    "Step",
    "TokenNeeded",
    "not_replayable",
]

logger = logging.getLogger("cae_sdk.client")


class FlowRequest(Protocol):
    """An outgoing request as the flow sees it (the adapter wraps its library's request)."""

    @property
    def method(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def scheme(self) -> str: ...

    def set_authorization(self, value: str) -> None: ...

    def replayable(self) -> bool: ...


class FlowResponse(Protocol):
    """A response as the flow sees it (the adapter wraps its library's response)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Any: ...

    @property
    def url(self) -> str: ...

    @property
    def native(self) -> object: ...


Step = FlowRequest | TokenNeeded
"""What :meth:`ChallengeFlow.flow` yields."""


class ChallengeFlow(TokenState):
    """The challenge/replay protocol over a :class:`~cae_sdk.client._token_state.TokenState`.

    ``credential`` is any :class:`~cae_sdk.client.TokenCredential`. Challenges are answered
    only for the origin the request was sent to (RFC 6454): after a cross-origin redirect, a
    ``401`` from the other origin goes back to the caller. Tokens come from the token state:
    single flight per claims shape, ``nbf`` challenges sharing one token, the loop breaker per
    credential and scopes across claims, proactive refresh that never fails a request while the
    held token is valid. ``accept_invalid_token`` also treats ARM-style
    ``error="invalid_token"`` challenges with claims as claims challenges.
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
        jitter: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(credential, scopes, loop_breaker=loop_breaker, clock=clock, jitter=jitter)
        self.accept_invalid_token = accept_invalid_token
        self.allow_http = allow_http

    # -- the protocol ------------------------------------------------------------------------

    def flow(self, request: FlowRequest) -> Generator[Step, AccessToken | FlowResponse, None]:
        """The exchange for one request (see the module docstring for the step contract)."""
        if request.scheme != "https" and not self.allow_http and not _loopback_url(request.url):
            raise _cleartext_refused(request)
        # A valid token at hand (the common case) is used right here: no step, no driver round.
        token = self._ready_token(PLAIN_TOKEN, None)
        if token is None:
            sent = yield PLAIN_TOKEN
            assert isinstance(sent, AccessToken)  # C-level (typing.cast is a Python call)
            token = sent
        request.set_authorization(f"Bearer {token.token}")
        response = yield request
        assert not isinstance(response, AccessToken)
        if response.status_code != 401:  # the common case: the answer, no challenge to look for
            return
        first = self._claims_challenge(request, response)
        if first is None:
            return
        logger.info(
            "claims challenge from %s %s; acquiring a new token",
            request.method,
            loggable_url(request.url),
        )
        if not request.replayable():
            raise not_replayable(
                request.method, request.url, response=response.native, challenge=first
            )
        sent = yield TokenNeeded(first.claims, token.token)
        assert isinstance(sent, AccessToken)
        request.set_authorization(f"Bearer {sent.token}")
        response = yield request
        assert not isinstance(response, AccessToken)
        second = self._claims_challenge(request, response)
        if second is not None:
            raise ClaimsChallengeFailed(
                f"{request.method} {loggable_url(request.url)} was challenged again "
                "after the client answered the first claims challenge.",
                first=first,
                second=second,
                response=response.native,
            )

    def _claims_challenge(
        self, request: FlowRequest, response: FlowResponse
    ) -> ClaimsChallenge | None:
        if response.status_code != 401:
            return None
        challenge = find_claims_challenge(
            response.headers, accept_invalid_token=self.accept_invalid_token
        )
        if challenge is None:
            return None
        sent_to = origin(request.url)
        if sent_to is None or origin(response.url) != sent_to:
            # A redirect took the request elsewhere (httpx, requests and aiohttp drop the
            # Authorization header across origins): that origin's challenge is not about our
            # token, and answering it would fetch tokens on a stranger's say-so.
            logger.info(
                "claims challenge from %s, not the origin %s was sent to; not answered",
                loggable_url(response.url),
                loggable_url(request.url),
            )
            return None
        return challenge

    # -- complete drivers ----------------------------------------------------------------------

    def run(
        self, request: FlowRequest, send: Callable[[FlowRequest], FlowResponse]
    ) -> FlowResponse:
        """Drive :meth:`flow` to the end, sending with ``send``; return the final response."""
        flow = self.flow(request)
        step = next(flow)
        response: FlowResponse | None = None
        while True:
            if isinstance(step, TokenNeeded):
                reply: AccessToken | FlowResponse = self.token(step)
            else:
                reply = response = send(step)
            try:
                step = flow.send(reply)
            except StopIteration:
                assert response is not None  # the flow always sends before it returns
                return response

    async def arun(
        self, request: FlowRequest, send: Callable[[FlowRequest], Awaitable[FlowResponse]]
    ) -> FlowResponse:
        """Async :meth:`run`: tokens come from :meth:`atoken`, requests go through ``send``."""
        flow = self.flow(request)
        step = next(flow)
        response: FlowResponse | None = None
        while True:
            if isinstance(step, TokenNeeded):
                reply: AccessToken | FlowResponse = await self.atoken(step)
            else:
                reply = response = await send(step)
            try:
                step = flow.send(reply)
            except StopIteration:
                assert response is not None
                return response


def _cleartext_refused(request: FlowRequest) -> ConfigurationError:
    """The error for ``request`` (not https, not to a loopback host): a network in the middle
    would read the token."""
    return ConfigurationError(
        f"{request.method} {loggable_url(request.url)}: a bearer token is sent over https only "
        "(RFC 6750 section 5.3); use an https URL, or pass allow_http=True to the client or "
        "auth for a network you trust (loopback addresses are always allowed)."
    )


@functools.lru_cache(maxsize=256)
def _loopback_url(url: str) -> bool:
    """Whether the absolute ``url`` goes to a loopback host. Asked on every plain-http request
    (a local API), so cached by URL, then by host (:func:`_loopback`): URLs that differ only in
    path or query still skip parsing an address, which costs more than the rest of the flow."""
    return _loopback((urlsplit(url).hostname or "").rstrip("."))


@functools.lru_cache(maxsize=64)
def _loopback(host: str) -> bool:
    """Whether ``host`` (lower-case, no trailing dot) is ``localhost`` or a name under it
    (RFC 6761 section 6.3) or a loopback address (RFC 1122 section 3.2.1.3, RFC 4291 section
    2.5.3)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name, not an address


def not_replayable(
    method: str, url: object, *, response: object, challenge: ClaimsChallenge | None
) -> RequestNotReplayable:
    """The error for a challenged request whose one-shot body was consumed by the first send."""
    return RequestNotReplayable(
        f"{method} {loggable_url(url)} was challenged but its body is a one-shot stream that "
        "has already been sent. Pass the body as bytes, JSON, form data or seekable files, or "
        "read it into memory first.",
        response=response,
        challenge=challenge,
    )
