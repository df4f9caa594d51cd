"""The token state behind every client adapter: which token to send, when to ask for another.

:class:`TokenState` resolves the :class:`TokenNeeded` steps of the challenge flow
(:mod:`cae_sdk.client._flow`): the held token while it is valid, a proactive refresh at MSAL's
``refresh_in`` (one request refreshes, the others keep the valid token; any failure keeps it and
backs off with jitter, never sooner than ``Retry-After``), and a token for a challenge's claims
(single flight per claims shape; ``nbf`` challenges of one shape share a token issued after the
newest ``nbf``, :mod:`cae_sdk.client._demand`). Claims token requests are bounded by a loop
breaker per scopes across claims: the credential's own when it has one (every cae-sdk
credential does, so any number of adapters over it share one budget), else one per token state
(which refunds attempts that never reached the identity provider).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from ..core.errors import ConfigurationError
from ._demand import Demand, demand_of, token_coverage
from ._loop_breaker import LoopBreaker
from ._redact import install_log_redaction
from ._singleflight import SingleFlight
from ._token import AccessToken, TokenCredential

__all__ = ["PLAIN_TOKEN", "TokenNeeded", "TokenState"]

logger = logging.getLogger("cae_sdk.client")

# After a proactive refresh that could not get a new token (the identity provider failed, or
# MSAL handed back its still-valid cached one), the next try waits 5-10 s, then twice as long
# each time, up to 150-300 s (and at least the identity provider's Retry-After).
_BACKOFF_BASE = 10.0
_BACKOFF_MAX = 300.0
# Claims shapes whose newest pending nbf is remembered (a hostile API can invent shapes).
_MAX_PENDING_SHAPES = 64


@dataclass(frozen=True, slots=True)
class TokenNeeded:
    """A step of the flow: get a token (for ``claims``, replacing ``challenged_token``)."""

    claims: str | None = None
    challenged_token: str | None = field(default=None, repr=False)  # a token: never in a repr


PLAIN_TOKEN = TokenNeeded()
"""The step for the plain cp1 token (a request starts with it when no valid token is at hand):
one shared value, nothing built on the hot path."""


@dataclass(frozen=True, slots=True)
class _Held:
    """The token in use, the claims shape it answered (``None``: a plain token), the newest
    ``nbf`` it answers and the ``nbf`` it was asked for. Replaced whole: lock-free readers never
    see a mixed state."""

    token: AccessToken
    shape: str | None = None
    coverage: int | None = None
    asked: int | None = None


class TokenState:
    """The token of one adapter instance for ``credential`` and ``scopes`` (see the module
    docstring); ``clock`` and ``jitter`` (a number in [0, 1)) are injectable for tests."""

    def __init__(
        self,
        credential: TokenCredential,
        scopes: Sequence[str] | str,
        *,
        loop_breaker: LoopBreaker | None = None,
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
        # The credential's own breaker counts its claims requests across every adapter (and
        # only those that reach the identity provider); a credential without one gets one
        # here. A breaker passed in applies on top.
        owns = isinstance(getattr(credential, "loop_breaker", None), LoopBreaker)
        self._breaker = loop_breaker if loop_breaker is not None or owns else LoopBreaker()
        self._clock = clock
        self._jitter = jitter
        # cae-sdk credentials also coalesce identical token requests (across clients); this
        # flight is still needed: a burst of challenged requests is admitted to the loop breaker
        # once (not once per request), takes one worker thread per event loop (not one each),
        # challenges that differ only in nbf share it, and any TokenCredential is coalesced.
        self._flights: SingleFlight[_Held] = SingleFlight()
        self._held: _Held | None = None
        self._refresh_retry_at = 0.0
        self._refresh_failures = 0
        # The newest nbf challenged per claims shape, not yet asked of the credential.
        self._pending_nbf: dict[str, int] = {}
        self._lock = threading.Lock()
        install_log_redaction()

    def token(self, need: TokenNeeded) -> AccessToken:
        """Resolve a :class:`TokenNeeded` step (blocking)."""
        demand = None if need.claims is None else demand_of(need.claims)
        ready = self._ready_token(need, demand)
        if ready is not None:
            return ready
        if demand is None:
            return self._flights.call(None, partial(self._acquire, need, None)).token
        self._note_pending(demand)
        # A flight that started before this challenge arrived did not ask for its nbf: then one
        # more flight. A flight that asked for it is the answer, whatever the identity
        # provider's clock made of it (the replay tells).
        got = self._flights.call(demand.shape, partial(self._acquire, need, demand))
        if _asked_too_early(got, demand):
            got = self._flights.call(demand.shape, partial(self._acquire, need, demand))
        return got.token

    async def atoken(self, need: TokenNeeded) -> AccessToken:
        """Resolve a :class:`TokenNeeded` step without blocking the event loop."""
        demand = None if need.claims is None else demand_of(need.claims)
        ready = self._ready_token(need, demand)
        if ready is not None:  # the common case: no thread hop, no lock
            return ready
        if demand is None:
            return (await self._flights.acall(None, partial(self._acquire, need, None))).token
        self._note_pending(demand)
        acquire = partial(self._acquire, need, demand)
        got = await self._flights.acall(demand.shape, acquire)
        if _asked_too_early(got, demand):
            got = await self._flights.acall(demand.shape, acquire)
        return got.token

    def _ready_token(self, need: TokenNeeded, demand: Demand | None) -> AccessToken | None:
        """The token to use without any I/O, or ``None`` when the credential must be asked."""
        held = self._ready(need, demand)
        return None if held is None else held.token

    def _ready(
        self, need: TokenNeeded, demand: Demand | None, *, leader: bool = False
    ) -> _Held | None:
        held = self._held
        if held is None:
            return None
        if demand is not None:
            # Another request already answered this challenge (or one like it): use its token.
            return held if _answers(held, need, demand) else None
        token = held.token
        now = self._clock()
        if not token.needs_refresh(now):
            return held
        if now < token.expires_on and (
            now < self._refresh_retry_at or (not leader and self._flights.busy(None))
        ):
            # Backing off after a failed refresh, or another request is refreshing: the token
            # in hand is still valid, so nobody waits for the identity provider.
            return held
        return None

    def _note_pending(self, demand: Demand) -> None:
        if demand.nbf is None:
            return
        with self._lock:
            pending = self._pending_nbf
            if demand.shape not in pending and len(pending) >= _MAX_PENDING_SHAPES:
                pending.pop(next(iter(pending)))
            pending[demand.shape] = max(demand.nbf, pending.get(demand.shape, demand.nbf))

    def _acquire(self, need: TokenNeeded, demand: Demand | None) -> _Held:
        """Ask the credential (blocking; runs once per flight)."""
        ready = self._ready(need, demand, leader=True)
        if ready is not None:
            return ready
        now = self._clock()
        if demand is None:
            return self._refresh(now)
        nbf = demand.nbf
        if nbf is not None:
            with self._lock:
                nbf = max(nbf, self._pending_nbf.pop(demand.shape, nbf))
        breaker = self._breaker
        stamp = None if breaker is None else breaker.admit(self.scopes, now)
        try:
            token = self.credential.get_token(
                self.scopes, claims=demand.claims(nbf), challenged_token=need.challenged_token
            )
        except Exception as exc:
            if breaker is not None and getattr(exc, "reached_identity_provider", True) is False:
                breaker.refund(self.scopes, stamp or now)  # MSAL answered from its cache
            raise
        held = _Held(token, demand.shape, token_coverage(token.token, nbf), nbf)
        self._held = held
        return held

    def _refresh(self, now: float) -> _Held:
        """Get the plain token; while the held one is valid, no failure reaches the caller."""
        started_with = self._held
        current = started_with.token if started_with is not None else None
        try:
            token = self.credential.get_token(self.scopes, claims=None, challenged_token=None)
        except Exception as exc:  # any failure: the valid token keeps serving
            if started_with is None or current is None or now >= current.expires_on:
                raise
            delay = self._back_off(now, getattr(exc, "retry_after", None))
            logger.warning(
                "proactive token refresh failed (%s); keeping the current token, next try in "
                "%.0f s",
                type(exc).__name__,
                delay,
            )
            return started_with
        held = self._held
        if held is not started_with and held is not None:
            # A challenge was answered while this refresh ran: that token is at least as fresh
            # (MSAL may have served this one from its cache), so it stays in use.
            return held
        due = token.needs_refresh(now)
        if (
            due
            and started_with is not None
            and now < started_with.token.expires_on
            and token.expires_on < started_with.token.expires_on
        ):
            # Due at once and shorter-lived than the valid token in hand (an answer with
            # expires_in 0, say): a failed refresh like any other, not a replacement.
            self._back_off(now, None)
            return started_with
        if current is None or token.token != current.token:
            self._refresh_failures = 0
        if due:  # MSAL handed back its still-valid cached token (or a fresh one due at once):
            self._back_off(now, None)  # either way, not again right now
        held = _Held(token)
        self._held = held
        return held

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


def _asked_too_early(got: _Held, demand: Demand) -> bool:
    """Whether the flight that produced ``got`` started before ``demand``'s ``nbf`` was noted
    (it asked the credential for an older one, or for another shape): only then is another
    flight worth a token request."""
    if demand.nbf is None or got.shape != demand.shape:
        return False  # a shape without nbf, or a token answering another challenge: use it
    return got.asked is None or got.asked < demand.nbf


def _answers(held: _Held, need: TokenNeeded, demand: Demand) -> bool:
    """Whether the held token answers a challenge: not the challenged token, the same claims
    shape, and issued late enough for the challenge's ``nbf``."""
    if held.shape != demand.shape or held.token.token == need.challenged_token:
        return False
    return demand.nbf is None or (held.coverage is not None and held.coverage >= demand.nbf)
