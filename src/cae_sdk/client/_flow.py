"""The claims-challenge protocol, once, for every HTTP library.

Every client adapter (httpx's :class:`~cae_sdk.client.CAEAuth`, and the ``requests``, aiohttp,
azure-core adapters) is a thin driver over :class:`ChallengeFlow`. The flow knows nothing about
any HTTP library: it works on a small request abstraction (:class:`FlowRequest`) and a small
response abstraction (:class:`FlowResponse`) that each adapter implements in a few lines.

Stable API (adapters depend on it)
----------------------------------
``FlowRequest`` (protocol, implemented by the adapter around its own request object)
    ``method`` (text), ``url`` (absolute URL as text, read only for logs, errors and origin
    checks), ``set_authorization(value)`` (set the ``Authorization`` header to ``value``), and
    ``replayable()`` (whether the body can be sent a second time intact).

``FlowResponse`` (protocol, implemented by the adapter around its own response object)
    ``status_code`` (int), ``headers`` (anything :func:`~cae_sdk.core.challenges.
    find_claims_challenge` reads: a mapping, ``httpx.Headers``, raw pairs...), ``url`` (text: the
    URL of the request that produced this response, after any redirects) and ``native`` (the
    adapter's own response object; errors carry it as ``.response``).

``TokenNeeded`` (value)
    A step of the flow: get a token for ``claims`` (``None``: the plain cp1 token) replacing
    ``challenged_token`` (the token the resource just refused, or ``None``).

``ChallengeFlow(credential, scopes, *, loop_breaker=None, accept_invalid_token=False, clock=...)``
    The token state of one adapter instance (the held token, proactive refresh, single flight,
    loop breaker) and the protocol:

    * ``flow(request)`` -> generator. It yields either a :class:`TokenNeeded` (send back an
      :class:`~cae_sdk.client.token.AccessToken`, e.g. from ``token(step)`` or ``await
      atoken(step)``) or the very ``request`` it was given, its ``Authorization`` header just
      set (send it, then send back its :class:`FlowResponse`). It returns when the last
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

Challenge handling follows Microsoft's "Claims challenges, claims requests and client
capabilities" (Microsoft identity platform docs) and RFC 6750 section 3 (``WWW-Authenticate``):
on a ``401`` whose ``Bearer`` challenge carries ``error="insufficient_claims"`` and ``claims``,
get a token for those claims and replay the request once; a second challenge fails with
:class:`~cae_sdk.core.errors.ClaimsChallengeFailed`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, cast

from ..core.challenges import ClaimsChallenge, find_claims_challenge
from ..core.errors import (
    ClaimsChallengeFailed,
    ConfigurationError,
    RequestNotReplayable,
    TokenAcquisitionError,
)
from ..core.urls import loggable_url
from .loop_breaker import LoopBreaker
from .singleflight import SingleFlight
from .token import AccessToken, TokenCredential

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

# After a proactive refresh that could not get a new token (the identity provider is down and
# MSAL handed back the still-valid cached one), wait this long before trying again.
_REFRESH_RETRY_SECONDS = 30.0


class FlowRequest(Protocol):
    """An outgoing request as the flow sees it (the adapter wraps its library's request)."""

    @property
    def method(self) -> str: ...

    @property
    def url(self) -> str: ...

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


@dataclass(frozen=True, slots=True)
class TokenNeeded:
    """A step of the flow: get a token (for ``claims``, replacing ``challenged_token``)."""

    claims: str | None = None
    challenged_token: str | None = None


PLAIN_TOKEN = TokenNeeded()
"""Every request starts with this step: one shared value, nothing built on the hot path."""

Step = FlowRequest | TokenNeeded
"""What :meth:`ChallengeFlow.flow` yields."""


class ChallengeFlow:
    """Token state and the challenge/replay protocol shared by every client adapter.

    ``credential`` is any :class:`~cae_sdk.client.token.TokenCredential`. Concurrent
    acquisitions for the same claims are coalesced (:class:`SingleFlight`), repeated identical
    challenges are cut off by ``loop_breaker``, and the token is refreshed proactively at
    MSAL's ``refresh_in``. ``accept_invalid_token`` also treats ARM-style
    ``error="invalid_token"`` challenges with claims as claims challenges.
    """

    def __init__(
        self,
        credential: TokenCredential,
        scopes: Sequence[str] | str,
        *,
        loop_breaker: LoopBreaker | None = None,
        accept_invalid_token: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not callable(getattr(credential, "get_token", None)):
            raise ConfigurationError("credential must provide get_token(scopes, claims=...)")
        scope_list = [scopes] if isinstance(scopes, str) else list(scopes)
        if not scope_list:
            raise ConfigurationError("at least one scope is required")
        self.credential = credential
        self.scopes = tuple(scope_list)
        self.accept_invalid_token = accept_invalid_token
        self._breaker = loop_breaker if loop_breaker is not None else LoopBreaker()
        self._clock = clock
        # cae-sdk credentials also coalesce identical token requests (across clients); this
        # flight is still needed: a burst of challenged requests is admitted to the loop breaker
        # once (not once per request), takes one worker thread per event loop (not one each),
        # and any other TokenCredential is coalesced too.
        self._flights: SingleFlight[AccessToken] = SingleFlight()
        # The token in use and the challenge claims it answered (None for a plain token), as one
        # pair replaced whole: lock-free readers never see one token with another's claims.
        self._held: tuple[AccessToken, str | None] | None = None
        self._refresh_retry_at = 0.0

    # -- the protocol ------------------------------------------------------------------------

    def flow(self, request: FlowRequest) -> Generator[Step, AccessToken | FlowResponse, None]:
        """The exchange for one request (see the module docstring for the step contract)."""
        token = cast(AccessToken, (yield PLAIN_TOKEN))
        request.set_authorization(f"Bearer {token.token}")
        response = cast(FlowResponse, (yield request))
        first = self._claims_challenge(response)
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
        token = cast(AccessToken, (yield TokenNeeded(first.claims, token.token)))
        request.set_authorization(f"Bearer {token.token}")
        response = cast(FlowResponse, (yield request))
        second = self._claims_challenge(response)
        if second is not None:
            raise ClaimsChallengeFailed(
                f"{request.method} {loggable_url(request.url)} was challenged again "
                "after the client answered the first claims challenge.",
                first=first,
                second=second,
                response=response.native,
            )

    def _claims_challenge(self, response: FlowResponse) -> ClaimsChallenge | None:
        if response.status_code != 401:
            return None
        return find_claims_challenge(
            response.headers, accept_invalid_token=self.accept_invalid_token
        )

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

    # -- token steps ---------------------------------------------------------------------------

    def token(self, need: TokenNeeded) -> AccessToken:
        """Resolve a :class:`TokenNeeded` step (blocking)."""
        ready = self._ready_token(need)
        if ready is not None:
            return ready
        return self._flights.call(need.claims, partial(self._acquire, need))

    async def atoken(self, need: TokenNeeded) -> AccessToken:
        """Resolve a :class:`TokenNeeded` step without blocking the event loop."""
        ready = self._ready_token(need)
        if ready is not None:  # the common case: no thread hop, no lock
            return ready
        return await self._flights.acall(need.claims, partial(self._acquire, need))

    def _ready_token(self, need: TokenNeeded) -> AccessToken | None:
        """The token to use without any I/O, or ``None`` when the credential must be asked."""
        held = self._held
        if held is None:
            return None
        token, answered_claims = held
        if need.claims is not None:
            # Another request already answered this very challenge: use its token.
            answered = answered_claims == need.claims and token.token != need.challenged_token
            return token if answered else None
        now = self._clock()
        if not token.needs_refresh(now):
            return token
        if now < self._refresh_retry_at and now < token.expires_on:
            return token
        return None

    def _acquire(self, need: TokenNeeded) -> AccessToken:
        """Ask the credential (blocking; runs once per flight)."""
        ready = self._ready_token(need)
        if ready is not None:
            return ready
        now = self._clock()
        if need.claims is not None:
            self._breaker.admit((self.scopes, need.claims), now)
        current = self._held[0] if self._held is not None else None
        try:
            token = self.credential.get_token(
                self.scopes, claims=need.claims, challenged_token=need.challenged_token
            )
        except TokenAcquisitionError:
            if need.claims is None and current is not None and now < current.expires_on:
                # A proactive refresh failed; the current token is still valid.
                logger.warning("proactive token refresh failed; keeping the current token")
                self._refresh_retry_at = now + _REFRESH_RETRY_SECONDS
                return current
            raise
        self._held = (token, need.claims)
        if token.needs_refresh(now):
            self._refresh_retry_at = now + _REFRESH_RETRY_SECONDS
        return token


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
