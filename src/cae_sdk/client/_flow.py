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
import random
import threading
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
)
from ..core.urls import loggable_url, origin
from ._demand import Demand, demand_of, token_coverage
from ._redact import install_log_redaction
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

# After a proactive refresh that could not get a new token (the identity provider failed, or
# MSAL handed back its still-valid cached one), the next try waits 5-10 s, then twice as long
# each time, up to 150-300 s (and at least the identity provider's Retry-After).
_BACKOFF_BASE = 10.0
_BACKOFF_MAX = 300.0
# Claims shapes whose newest pending nbf is remembered (a hostile API can invent shapes).
_MAX_PENDING_SHAPES = 64


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


@dataclass(frozen=True, slots=True)
class _Held:
    """The token in use, the claims shape it answered (``None``: a plain token) and the newest
    ``nbf`` it answers. Replaced whole: lock-free readers never see a mixed state."""

    token: AccessToken
    shape: str | None
    coverage: int | None


class ChallengeFlow:
    """Token state and the challenge/replay protocol shared by every client adapter.

    ``credential`` is any :class:`~cae_sdk.client.token.TokenCredential`. Challenges are answered
    only for the origin the request was sent to (RFC 6454): after a cross-origin redirect, a
    ``401`` from the other origin goes back to the caller. Concurrent acquisitions for one claims
    shape are coalesced (:class:`SingleFlight`), and ``nbf`` challenges of one shape share a
    token: one issued after the newest ``nbf`` answers them all (:mod:`cae_sdk.client._demand`).
    ``loop_breaker`` bounds claims acquisitions per scopes, across claims; an attempt that never
    reached the identity provider is not counted. The token is refreshed proactively at MSAL's
    ``refresh_in``; while the held token is valid a failed refresh never fails a request, and
    refreshes are retried with exponential backoff and jitter, no sooner than ``Retry-After``.
    ``accept_invalid_token`` also treats ARM-style ``error="invalid_token"`` challenges with
    claims as claims challenges.
    """

    def __init__(
        self,
        credential: TokenCredential,
        scopes: Sequence[str] | str,
        *,
        loop_breaker: LoopBreaker | None = None,
        accept_invalid_token: bool = False,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
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
        self._jitter = jitter
        # cae-sdk credentials also coalesce identical token requests (across clients); this
        # flight is still needed: a burst of challenged requests is admitted to the loop breaker
        # once (not once per request), takes one worker thread per event loop (not one each),
        # challenges that differ only in nbf share it, and any TokenCredential is coalesced.
        self._flights: SingleFlight[AccessToken] = SingleFlight()
        self._held: _Held | None = None
        self._refresh_retry_at = 0.0
        self._refresh_failures = 0
        # The newest nbf challenged per claims shape, not yet asked of the credential.
        self._pending_nbf: dict[str, int] = {}
        self._lock = threading.Lock()
        install_log_redaction()

    # -- the protocol ------------------------------------------------------------------------

    def flow(self, request: FlowRequest) -> Generator[Step, AccessToken | FlowResponse, None]:
        """The exchange for one request (see the module docstring for the step contract)."""
        token = cast(AccessToken, (yield PLAIN_TOKEN))
        request.set_authorization(f"Bearer {token.token}")
        response = cast(FlowResponse, (yield request))
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
        token = cast(AccessToken, (yield TokenNeeded(first.claims, token.token)))
        request.set_authorization(f"Bearer {token.token}")
        response = cast(FlowResponse, (yield request))
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

    # -- token steps ---------------------------------------------------------------------------

    def token(self, need: TokenNeeded) -> AccessToken:
        """Resolve a :class:`TokenNeeded` step (blocking)."""
        demand = None if need.claims is None else demand_of(need.claims)
        ready = self._ready_token(need, demand)
        if ready is not None:
            return ready
        if demand is None:
            return self._flights.call(None, partial(self._acquire, need, None))
        self._note_pending(demand)
        # A flight that started before this challenge arrived may not cover its nbf: then one
        # more flight, after which the token is used as it is (the replay tells).
        token = self._flights.call(demand.shape, partial(self._acquire, need, demand))
        if self._ready_token(need, demand) is None:
            token = self._flights.call(demand.shape, partial(self._acquire, need, demand))
        return token

    async def atoken(self, need: TokenNeeded) -> AccessToken:
        """Resolve a :class:`TokenNeeded` step without blocking the event loop."""
        demand = None if need.claims is None else demand_of(need.claims)
        ready = self._ready_token(need, demand)
        if ready is not None:  # the common case: no thread hop, no lock
            return ready
        if demand is None:
            return await self._flights.acall(None, partial(self._acquire, need, None))
        self._note_pending(demand)
        acquire = partial(self._acquire, need, demand)
        token = await self._flights.acall(demand.shape, acquire)
        if self._ready_token(need, demand) is None:
            token = await self._flights.acall(demand.shape, acquire)
        return token

    def _ready_token(
        self, need: TokenNeeded, demand: Demand | None, *, leader: bool = False
    ) -> AccessToken | None:
        """The token to use without any I/O, or ``None`` when the credential must be asked."""
        held = self._held
        if held is None:
            return None
        token = held.token
        if demand is not None:
            # Another request already answered this challenge (or one like it): use its token.
            return token if _answers(held, need, demand) else None
        now = self._clock()
        if not token.needs_refresh(now):
            return token
        if now < token.expires_on and (
            now < self._refresh_retry_at or (not leader and self._flights.busy(None))
        ):
            # Backing off after a failed refresh, or another request is refreshing: the token
            # in hand is still valid, so nobody waits for the identity provider.
            return token
        return None

    def _note_pending(self, demand: Demand) -> None:
        if demand.nbf is None:
            return
        with self._lock:
            pending = self._pending_nbf
            if demand.shape not in pending and len(pending) >= _MAX_PENDING_SHAPES:
                pending.pop(next(iter(pending)))
            pending[demand.shape] = max(demand.nbf, pending.get(demand.shape, demand.nbf))

    def _acquire(self, need: TokenNeeded, demand: Demand | None) -> AccessToken:
        """Ask the credential (blocking; runs once per flight)."""
        ready = self._ready_token(need, demand, leader=True)
        if ready is not None:
            return ready
        now = self._clock()
        if demand is None:
            return self._refresh(now)
        nbf = demand.nbf
        if nbf is not None:
            with self._lock:
                nbf = max(nbf, self._pending_nbf.pop(demand.shape, nbf))
        stamp = self._breaker.admit(self.scopes, now)
        try:
            token = self.credential.get_token(
                self.scopes, claims=demand.claims(nbf), challenged_token=need.challenged_token
            )
        except Exception as exc:
            if getattr(exc, "reached_identity_provider", True) is False:
                self._breaker.refund(self.scopes, stamp)  # MSAL answered from its cache
            raise
        self._held = _Held(token, demand.shape, token_coverage(token.token, nbf))
        return token

    def _refresh(self, now: float) -> AccessToken:
        """Get the plain token; while the held one is valid, no failure reaches the caller."""
        started_with = self._held
        current = started_with.token if started_with is not None else None
        try:
            token = self.credential.get_token(self.scopes, claims=None, challenged_token=None)
        except Exception as exc:  # any failure: the valid token keeps serving
            if current is None or now >= current.expires_on:
                raise
            delay = self._back_off(now, getattr(exc, "retry_after", None))
            logger.warning(
                "proactive token refresh failed (%s); keeping the current token, next try in "
                "%.0f s",
                type(exc).__name__,
                delay,
            )
            return current
        if self._held is not started_with and self._held is not None:
            # A challenge was answered while this refresh ran: that token is at least as fresh
            # (MSAL may have served this one from its cache), so it stays in use.
            return self._held.token
        if current is None or token.token != current.token:
            self._refresh_failures = 0
        if token.needs_refresh(now):  # MSAL handed back its still-valid cached token (or a
            self._back_off(now, None)  # fresh one due at once): either way, not again right now
        self._held = _Held(token, None, None)
        return token

    def _back_off(self, now: float, retry_after: object) -> float:
        """Space out refresh attempts: exponential backoff with jitter (half to full delay),
        never sooner than the identity provider's ``Retry-After``."""
        self._refresh_failures = min(self._refresh_failures + 1, 16)
        delay = min(_BACKOFF_MAX, _BACKOFF_BASE * 2.0 ** (self._refresh_failures - 1))
        delay *= 0.5 + 0.5 * self._jitter()
        if isinstance(retry_after, int | float) and retry_after > delay:
            delay = float(retry_after)
        self._refresh_retry_at = now + delay
        return delay


def _answers(held: _Held, need: TokenNeeded, demand: Demand) -> bool:
    """Whether the held token answers a challenge: not the challenged token, the same claims
    shape, and issued late enough for the challenge's ``nbf``."""
    if held.shape != demand.shape or held.token.token == need.challenged_token:
        return False
    return demand.nbf is None or (held.coverage is not None and held.coverage >= demand.nbf)


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
