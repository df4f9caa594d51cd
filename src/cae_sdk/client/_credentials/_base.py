"""What every cae-sdk credential shares: cp1 and claims merging, result checks, error mapping.

Each concrete credential only says how to ask MSAL (or another library) for a token with an
optional, already merged claims request; this base runs that inside one bounded
:class:`~cae_sdk.client._exchange.Exchange` (the credential's ``timeout`` is the deadline of the
whole acquisition) and turns the answer, or any exception, into an
:class:`~cae_sdk.client.AccessToken` or a :class:`TokenAcquisitionError`: this is the one
place failures are typed.

It is also the one place claims token requests are counted: every adapter over a credential
(``CAEAuth``, ``CAEClient`` built per call, ``requests`` and aiohttp adapters, every
``as_azure_credential()``) goes through :meth:`CredentialBase.get_token`, so the credential's
:class:`~cae_sdk.client.LoopBreaker` bounds what a hostile API can make the client
ask for, per scopes, however many adapters there are; a burst coalesced by the single flight
counts once, and an attempt that sent nothing (MSAL answered from its throttle cache) not at all.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...core.claims import CP1, merge_claims
from ...core.errors import (
    CAEError,
    ClaimsChallengeUnresolvable,
    ConfigurationError,
    TokenAcquisitionError,
)
from .. import _exchange
from .._http import MsalHttpClient
from .._loop_breaker import LoopBreaker
from .._redact import install_log_redaction
from .._singleflight import SingleFlight
from .._token import AccessToken
from ._errors import acquisition_error, refusal_error
from ._options import Clock

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..azure import AsyncAzureSDKCredential, AzureSDKCredential

__all__ = ["CredentialBase"]

_MAX_ANSWERS = 64  # claims requests whose last answer is kept (a hostile API invents many)


class CredentialBase(ABC):
    """Base of every credential: implements ``get_token`` on top of :meth:`_acquire`."""

    def __init__(self, *, clock: Clock = time.time) -> None:
        self._clock = clock
        self._http: MsalHttpClient | None = None
        self._timeout: float | None = None  # the deadline of a credential without MsalHttpClient
        # Single flight per (credential, scopes, claims): several clients (sync and async,
        # several CAEAuth instances) that share this credential cause one token request.
        self._flights: SingleFlight[AccessToken] = SingleFlight()
        # The last answer to each claims request (newest last), for the adapters that see the
        # same challenge after it was answered.
        self._answers: dict[tuple[tuple[str, ...], str | None], AccessToken] = {}
        self._answers_lock = threading.Lock()
        # When (time.monotonic()) the identity provider's last Retry-After ends: MSAL answers
        # from its throttle cache until then, and the error says how long is left.
        self._retry_at = 0.0
        self.loop_breaker = LoopBreaker()
        """Bounds the claims token requests of this credential, per scopes, across all its
        adapters (3 in 5 minutes by default; replace it to change the budget)."""
        install_log_redaction()

    def close(self) -> None:
        """Close the HTTP client this credential created for MSAL (not one the app passed)."""
        if self._http is not None:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get_token(
        self,
        scopes: Sequence[str],
        *,
        claims: str | None = None,
        challenged_token: str | None = None,
    ) -> AccessToken:
        """Get a cp1 token for ``scopes``; with ``claims``, a fresh one satisfying them.

        Raises :class:`TokenAcquisitionError` (or :class:`InteractionRequired`) when the
        identity provider refuses, and :class:`ClaimsChallengeUnresolvable` when it hands back
        the token that was just challenged.
        """
        scope_list = _check_scopes(scopes)
        request_claims = merge_claims(CP1, claims) if claims else None
        key = (tuple(scope_list), request_claims)
        if request_claims is not None and challenged_token is not None:
            answer = self._answers.get(key)
            if (
                answer is not None
                and answer.token != challenged_token
                and not answer.needs_refresh(self._clock())
            ):
                # These very claims were answered already, with another token than the one
                # now refused: a request sent before that answer (another adapter, a client
                # built per call). It gets the answer, not a token request of its own.
                return answer
        token = self._flights.call(key, lambda: self._fetch(scope_list, request_claims))
        if request_claims is not None:
            with self._answers_lock:
                self._answers.pop(key, None)
                self._answers[key] = token
                if len(self._answers) > _MAX_ANSWERS:
                    del self._answers[next(iter(self._answers))]
        if claims and token.token == challenged_token:
            raise ClaimsChallengeUnresolvable(
                f"{type(self).__name__} returned the same token that was just challenged; "
                "replaying it would be refused again. The token source has not yet seen the "
                "revocation (managed identity endpoints cache tokens): retry later."
            )
        return token

    def _fetch(self, scopes: list[str], request_claims: str | None) -> AccessToken:
        now = self._clock()
        # Claims requests are what a resource can ask for: counted here, once per flight.
        key = tuple(scopes)
        stamp = None if request_claims is None else self.loop_breaker.admit(key, now)
        timeout = self._http.timeout if self._http is not None else self._timeout
        with _exchange.acquisition(timeout) as exchange:
            try:
                return self._fetch_in(exchange, scopes, request_claims, now)
            except BaseException:
                if stamp is not None and exchange.sent == 0:
                    # Nothing went out (MSAL's throttle cache, a refusal before any request):
                    # not an attempt. One that went out counts, answered or not (a timeout
                    # or a reset still cost the identity provider a request).
                    self.loop_breaker.refund(key, stamp)
                raise

    def _fetch_in(
        self, exchange: _exchange.Exchange, scopes: list[str], claims: str | None, now: float
    ) -> AccessToken:
        try:
            result = self._acquire(scopes, claims)
        except CAEError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever MSAL raised is typed here, once
            raise acquisition_error(
                exc, exchange=exchange, claims=claims, retry_after=self._waiting()
            ) from None
        finally:
            if exchange.retry_after is not None:
                self._retry_at = time.monotonic() + exchange.retry_after
        self._check(result, exchange=exchange, claims=claims)
        try:
            return self._accept(result, now=now, claims=claims)
        except (ValueError, TypeError, OverflowError) as exc:  # expires_in="soon", inf...
            raise acquisition_error(exc, exchange=exchange, claims=claims) from None

    def _waiting(self) -> float | None:
        """Seconds left of the identity provider's last ``Retry-After``, if any."""
        left = self._retry_at - time.monotonic()
        return left if left > 0 else None

    def _check(self, result: object, *, exchange: _exchange.Exchange, claims: str | None) -> None:
        """Raise the typed error for anything but a usable success result."""
        if not result:
            raise TokenAcquisitionError(
                "Token request returned nothing.", error="no_result", claims=claims
            )
        problem = None
        if not isinstance(result, Mapping):
            problem = f"the token response is a JSON {type(result).__name__}"
        elif "access_token" not in result and not isinstance(result.get("error"), str):
            problem = "the token response has neither access_token nor error"
        elif "access_token" not in result:
            waiting = self._waiting()
            raise refusal_error(result, exchange=exchange, claims=claims, retry_after=waiting)
        elif not isinstance(result["access_token"], str) or not result["access_token"]:
            problem = "access_token is not a non-empty string"
        if problem is not None:
            raise acquisition_error(ValueError(problem), exchange=exchange, claims=claims)

    @abstractmethod
    def _acquire(self, scopes: list[str], claims: str | None) -> Mapping[str, Any] | None:
        """Return an MSAL-style result dict; ``claims`` already includes cp1 when given."""

    def _accept(
        self, result: Mapping[str, Any] | None, *, now: float, claims: str | None
    ) -> AccessToken:
        if not result:
            raise TokenAcquisitionError(
                "Token request returned nothing.", error="no_result", claims=claims
            )
        if "access_token" not in result:
            raise refusal_error(result, exchange=None, claims=claims)
        return AccessToken.from_result(result, now=now, claims=claims)

    def as_azure_credential(self) -> AzureSDKCredential:
        """This credential as azure-core's ``TokenCredential`` / ``SupportsTokenInfo``, for
        Azure SDK clients (needs the ``azure`` extra; see :mod:`cae_sdk.client.azure`)."""
        from ..azure import AzureSDKCredential

        return AzureSDKCredential(self)

    def as_async_azure_credential(self) -> AsyncAzureSDKCredential:
        """This credential as azure-core's ``AsyncTokenCredential`` /
        ``AsyncSupportsTokenInfo``, for async Azure SDK clients, kiota and msgraph-core (never
        blocks the event loop; needs the ``azure`` extra)."""
        from ..azure import AsyncAzureSDKCredential

        return AsyncAzureSDKCredential(self)


def _check_scopes(scopes: Sequence[str]) -> list[str]:
    if isinstance(scopes, str):
        scopes = [scopes]
    scope_list = [str(s) for s in scopes]
    if not scope_list or any(not s.strip() for s in scope_list):
        raise ConfigurationError("at least one non-empty scope is required")
    return scope_list
