"""``CAEAuth``: cp1 bearer tokens for httpx, with CAE claims challenges handled in the flow.

One protocol generator (:meth:`CAEAuth._flow`) describes the whole exchange for both
``httpx.Client`` and ``httpx.AsyncClient``: it yields either a request to send or a
:class:`_TokenNeeded` step. The sync driver (:meth:`CAEAuth.auth_flow`) resolves token steps
inline; the async driver (:meth:`CAEAuth.async_auth_flow`) resolves them in a worker thread so
blocking MSAL calls never run on the event loop.

Challenge handling follows shared PROTOCOL.md section 2 (Entra's CAE claims challenge,
RFC 6750 section 3 ``WWW-Authenticate``): on a ``401`` whose ``Bearer`` challenge carries
``error="insufficient_claims"`` and ``claims``, get a token for those claims and replay the
request once; a second challenge fails with :class:`ClaimsChallengeFailed`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import cast

import httpx

from ..core.challenges import ClaimsChallenge, find_claims_challenge
from ..core.errors import ClaimsChallengeFailed, ConfigurationError, TokenAcquisitionError
from ..core.urls import loggable_url
from .loop_breaker import LoopBreaker
from .replay import ensure_replayable
from .singleflight import SingleFlight
from .token import AccessToken, TokenCredential

__all__ = ["CAEAuth"]

logger = logging.getLogger("cae_sdk.client")

# After a proactive refresh that could not get a new token (the identity provider is down and
# MSAL handed back the still-valid cached one), wait this long before trying again.
_REFRESH_RETRY_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class _TokenNeeded:
    """A step of the flow: get a token (for ``claims``, replacing ``challenged_token``)."""

    claims: str | None = None
    challenged_token: str | None = None


# Every request starts with this step: one shared value, nothing built on the hot path.
_PLAIN_TOKEN = _TokenNeeded()

_Step = httpx.Request | _TokenNeeded
_Reply = httpx.Response | AccessToken


class CAEAuth(httpx.Auth):
    """``httpx.Auth`` that sends cp1 bearer tokens and answers CAE claims challenges.

    ``credential`` is any :class:`~cae_sdk.client.token.TokenCredential` (every cae-sdk
    credential is one). Concurrent acquisitions for the same claims are coalesced
    (:class:`SingleFlight`), repeated identical challenges are cut off by ``loop_breaker``, and
    the token is refreshed proactively at MSAL's ``refresh_in``. ``accept_invalid_token`` also
    treats ARM-style ``error="invalid_token"`` challenges with claims as claims challenges.
    """

    requires_request_body = False
    requires_response_body = False

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
            raise ConfigurationError("CAEAuth needs at least one scope")
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

    # -- the protocol, one generator for sync and async ---------------------------------------

    def _flow(self, request: httpx.Request) -> Generator[_Step, _Reply, None]:
        token = cast(AccessToken, (yield _PLAIN_TOKEN))
        _authorize(request, token)
        response = cast(httpx.Response, (yield request))
        first = self._claims_challenge(response)
        if first is None:
            return
        logger.info(
            "claims challenge from %s %s; acquiring a new token",
            request.method,
            loggable_url(request.url),
        )
        ensure_replayable(request, response=response, challenge=first)
        token = cast(AccessToken, (yield _TokenNeeded(first.claims, token.token)))
        _authorize(request, token)
        response = cast(httpx.Response, (yield request))
        second = self._claims_challenge(response)
        if second is not None:
            raise ClaimsChallengeFailed(
                f"{request.method} {loggable_url(request.url)} was challenged again "
                "after the client answered the first claims challenge.",
                first=first,
                second=second,
                response=response,
            )

    def _claims_challenge(self, response: httpx.Response) -> ClaimsChallenge | None:
        if response.status_code != 401:
            return None
        return find_claims_challenge(
            response.headers, accept_invalid_token=self.accept_invalid_token
        )

    # -- drivers ------------------------------------------------------------------------------

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        flow = self._flow(request)
        step = next(flow)
        while True:
            reply = self._token_sync(step) if isinstance(step, _TokenNeeded) else (yield step)
            try:
                step = flow.send(reply)
            except StopIteration:
                return

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self._flow(request)
        step = next(flow)
        while True:
            if isinstance(step, _TokenNeeded):
                reply: _Reply = await self._token_async(step)
            else:
                reply = yield step
            try:
                step = flow.send(reply)
            except StopIteration:
                return

    def _token_sync(self, need: _TokenNeeded) -> AccessToken:
        ready = self._ready_token(need)
        if ready is not None:
            return ready
        return self._flights.call(need.claims, partial(self._acquire, need))

    async def _token_async(self, need: _TokenNeeded) -> AccessToken:
        ready = self._ready_token(need)
        if ready is not None:  # the common case: no thread hop, no lock
            return ready
        return await self._flights.acall(need.claims, partial(self._acquire, need))

    # -- token state --------------------------------------------------------------------------

    def _ready_token(self, need: _TokenNeeded) -> AccessToken | None:
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

    def _acquire(self, need: _TokenNeeded) -> AccessToken:
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


def _authorize(request: httpx.Request, token: AccessToken) -> None:
    request.headers["Authorization"] = f"Bearer {token.token}"
