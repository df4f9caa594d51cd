"""Stop a resource that keeps challenging from turning requests into token requests.

A misbehaving or hostile resource (or one whose revocation the identity provider has not yet
seen) can challenge every new token, with the same claims or with new ones each time. Each
answered challenge costs a token request; the breaker allows ``max_attempts`` of them per key
within ``window`` seconds and refuses further ones (:class:`ClaimsChallengeLoop`, with
``retry_after``) until the window slides. ``CAEAuth`` keys it by scopes, across claims, so
distinct challenges cannot multiply the budget; an attempt that never reached the identity
provider (MSAL answered from its throttle cache) is handed back with :meth:`LoopBreaker.refund`.
Pure: the caller passes ``now``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Hashable

from ..core.errors import ClaimsChallengeLoop

__all__ = ["LoopBreaker"]


class LoopBreaker:
    """Allows ``max_attempts`` answered challenges per key within ``window`` seconds and raises
    :class:`~cae_sdk.errors.ClaimsChallengeLoop` (with ``retry_after``) for more; at most
    ``max_keys`` keys are tracked."""

    def __init__(
        self, *, max_attempts: int = 3, window: float = 300.0, max_keys: int = 1024
    ) -> None:
        if max_attempts < 1 or window <= 0:
            raise ValueError("max_attempts must be >= 1 and window > 0")
        self.max_attempts = max_attempts
        self.window = window
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._attempts: dict[Hashable, deque[float]] = {}

    def admit(self, key: Hashable, now: float) -> float:
        """Record an acquisition for ``key`` (returns its stamp, for :meth:`refund`) or raise
        :class:`ClaimsChallengeLoop`."""
        with self._lock:
            attempts = self._attempts.get(key)
            if attempts is None:
                if len(self._attempts) >= self._max_keys:
                    self._forget_oldest()
                attempts = self._attempts[key] = deque()
            while attempts and attempts[0] <= now - self.window:
                attempts.popleft()
            if len(attempts) >= self.max_attempts:
                retry_after = attempts[0] + self.window - now
                raise ClaimsChallengeLoop(
                    f"The resource challenged {len(attempts)} tokens within "
                    f"{self.window:.0f} s; not asking the identity provider again for "
                    f"{retry_after:.0f} s.",
                    retry_after=retry_after,
                )
            attempts.append(now)
            return now

    def refund(self, key: Hashable, stamp: float) -> None:
        """Hand back an admitted attempt that did not reach the identity provider."""
        with self._lock:
            attempts = self._attempts.get(key)
            if attempts is not None and stamp in attempts:
                attempts.remove(stamp)

    def _forget_oldest(self) -> None:
        oldest = min(
            self._attempts, key=lambda k: self._attempts[k][-1] if self._attempts[k] else 0.0
        )
        del self._attempts[oldest]
