"""What every cae-sdk credential shares: cp1 and claims merging, result checks, error mapping.

Each concrete credential only says how to ask MSAL (or another library) for a token with an
optional, already merged claims request; this base turns the answer into an
:class:`~cae_sdk.client.token.AccessToken` or a typed error.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import requests

from ...core.claims import CP1, merge_claims
from ...core.errors import (
    ClaimsChallengeUnresolvable,
    ConfigurationError,
    TokenAcquisitionError,
)
from ...core.remediation import Remediation, RemediationKind
from ..http import MsalHttpClient
from ..singleflight import SingleFlight
from ..token import AccessToken
from ._options import Clock

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..azure import AsyncAzureSDKCredential, AzureSDKCredential

__all__ = ["CredentialBase"]

_NETWORK_REMEDIATION = Remediation(
    RemediationKind.RETRY,
    "The identity provider could not be reached. Check connectivity, proxy and TLS trust "
    "(ca_bundle/verify), then retry.",
)


class CredentialBase(ABC):
    """Base of every credential: implements ``get_token`` on top of :meth:`_acquire`."""

    def __init__(self, *, clock: Clock = time.time) -> None:
        self._clock = clock
        self._http: MsalHttpClient | None = None
        # Single flight per (credential, scopes, claims): several clients (sync and async,
        # several CAEAuth instances) that share this credential cause one token request.
        self._flights: SingleFlight[AccessToken] = SingleFlight()

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
        token = self._flights.call(
            (tuple(scope_list), request_claims), lambda: self._fetch(scope_list, request_claims)
        )
        if claims and token.token == challenged_token:
            raise ClaimsChallengeUnresolvable(
                f"{type(self).__name__} returned the same token that was just challenged; "
                "replaying it would be refused again. The token source has not yet seen the "
                "revocation (managed identity endpoints cache tokens): retry later."
            )
        return token

    def _fetch(self, scopes: list[str], request_claims: str | None) -> AccessToken:
        now = self._clock()
        try:
            result = self._acquire(scopes, request_claims)
        except requests.exceptions.RequestException as exc:
            raise TokenAcquisitionError(
                f"Token request failed: {exc}",
                error="network_error",
                claims=request_claims,
                remediation=_NETWORK_REMEDIATION,
            ) from exc
        return self._accept(result, now=now, claims=request_claims)

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
            raise TokenAcquisitionError.from_msal_result(dict(result), claims=claims)
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
