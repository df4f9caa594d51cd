"""Any cae-sdk credential as an Azure SDK credential (azure-core's credential protocols).

:class:`AzureSDKCredential` implements ``TokenCredential`` and ``SupportsTokenInfo``
(``azure/core/credentials.py``); :class:`AsyncAzureSDKCredential` implements their async twins
``AsyncTokenCredential`` and ``AsyncSupportsTokenInfo`` (``azure/core/credentials_async.py``).
Both return azure-core's own ``AccessToken`` / ``AccessTokenInfo``: kiota's
``AzureIdentityAccessTokenProvider`` sends no ``Authorization`` header for any other type. Get
them with :meth:`CredentialBase.as_azure_credential` /
:meth:`CredentialBase.as_async_azure_credential`; azure-core is imported only here (install
``cae-sdk[azure]``).

What the cae-sdk credential adds survives the translation:

* **cp1 always.** ``enable_cae`` is accepted and changes nothing: every cae-sdk credential
  announces ``cp1`` on every token request.
* **Server claims kept.** ``claims`` from a challenge (azure-core's
  ``BearerTokenCredentialPolicy.on_challenge`` and kiota's ``retry_cae_response_if_required``
  decode them from the ``WWW-Authenticate`` header) reach the credential, which merges them
  with cp1 keeping every member the server asked for (``merge_claims``).
* **One token state per scope set.** Each scope set is served by a
  :class:`~cae_sdk.client._flow.ChallengeFlow`, the token state every cae-sdk adapter shares:
  a held token answered without I/O until its refresh time (kiota asks for a token on every
  request), single flight (one token request for a burst, across the sync and the async
  adapter too, through the credential's own flight), a loop breaker for claims that keep
  coming back, and a proactive refresh that fails soft while the held token is valid.
* **Same-token detection.** azure-core never says which token was challenged; the token last
  handed out for the scope set is the one a claims request replaces (when that token is itself
  the answer to the same claims, handed out less than 10 s ago, the challenge is taken to be
  about a request sent before it, and that answer serves it). A managed identity
  endpoint that hands it back again (Azure's IMDS caches tokens and MSAL sends it no claims)
  raises :class:`~cae_sdk.core.errors.ClaimsChallengeUnresolvable` instead of letting the
  policy replay a revoked token.

Errors are azure-core's too. A credential failure is raised as an exception that is both the
cae-sdk error (``TokenAcquisitionError``, ``InteractionRequired``,
``ClaimsChallengeUnresolvable``, ``ClaimsChallengeLoop``, with their attributes) and
``azure.core.exceptions.ClientAuthenticationError``, the exception azure-core documents for a
credential that cannot authenticate; ``except`` clauses written for either world work.

``tenant_id`` is honoured only when it names the tenant the credential is bound to (a
credential never asks another tenant than the one it was built for); any other tenant is a
``ClientAuthenticationError``, as azure-identity answers a tenant it is not allowed to use.
Managed identity ignores ``tenant_id``, like azure-identity's ``ManagedIdentityCredential``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

try:
    from azure.core.credentials import AccessToken as AzureAccessToken
    from azure.core.credentials import AccessTokenInfo
    from azure.core.exceptions import ClientAuthenticationError
except ImportError as exc:  # pragma: no cover - exercised in a plain install only
    raise ImportError(
        "cae_sdk.client.azure needs azure-core: install the 'azure' extra "
        "(pip install 'cae-sdk[azure]')"
    ) from exc

from ..core.errors import (
    CAEError,
    ClaimsChallengeUnresolvable,
    ConfigurationError,
    InvalidClaimsError,
    TokenAcquisitionError,
)
from ._credentials.managed import ManagedIdentityCredential
from ._flow import PLAIN_TOKEN, ChallengeFlow, TokenNeeded
from ._loop_breaker import LoopBreaker
from ._token import AccessToken, TokenCredential

if TYPE_CHECKING:
    from types import TracebackType

    from azure.core.credentials import TokenRequestOptions
    from typing_extensions import Self

__all__ = ["AsyncAzureSDKCredential", "AzureSDKCredential"]

# Distinct scope sets one adapter keeps a token state for; past it the oldest is forgotten.
# Azure SDK clients ask for one or two; the bound only stops a caller inventing scopes from
# growing the map without limit.
_MAX_SCOPE_SETS = 64

_Scopes = tuple[str, ...]

# How long after a token was handed out as the answer to a claims challenge a challenge with
# the same claims is taken to be about a request sent before it (azure-core never says which
# token a challenge refused). Requests in flight come back within their round trip.
_ANSWER_GRACE = 10.0

# Raised to azure-core callers as ClientAuthenticationError too: the credential could not get a
# token (refused, unresolvable challenge, or claims from the server that are not a claims
# request). Bad arguments stay plain ValueErrors, as in azure-identity.
_REFUSALS = (TokenAcquisitionError, ClaimsChallengeUnresolvable, InvalidClaimsError)


class _Broker:
    """What both adapters share: one :class:`ChallengeFlow` per scope set, the token last
    handed out for each (the one a claims request replaces), the tenant rule."""

    def __init__(
        self,
        credential: TokenCredential,
        *,
        loop_breaker: LoopBreaker | None,
        clock: Callable[[], float],
    ) -> None:
        if not callable(getattr(credential, "get_token", None)):
            raise ConfigurationError("credential must provide get_token(scopes, claims=...)")
        self.credential = credential
        # None: the credential's own breaker (every cae-sdk credential has one, shared by all
        # its adapters), else one per scope set (ChallengeFlow's default).
        self._breaker = loop_breaker
        self._clock = clock
        self._lock = threading.Lock()
        self._flows: dict[_Scopes, ChallengeFlow] = {}
        # scopes -> (token, claims it answered), replaced whole: readers never see a mix. The
        # AccessToken, not its text: nothing here shows a token in a repr.
        self._handed: dict[_Scopes, tuple[AccessToken, str | None, float]] = {}

    def step(
        self, scopes: tuple[Any, ...], claims: str | None, tenant_id: str | None
    ) -> tuple[_Scopes, ChallengeFlow, TokenNeeded]:
        """Check the request; the flow that serves ``scopes`` and the step to resolve."""
        key = _check_scopes(scopes)
        if tenant_id:
            _check_tenant(self.credential, tenant_id)
        flow = self._flows.get(key) or self._new_flow(key)
        if not claims:
            return key, flow, PLAIN_TOKEN
        handed = self._handed.get(key)
        challenged = None
        if handed is not None:
            token, answered, at = handed
            # The token handed out last is the one the resource refused, unless it is the
            # answer to these very claims, handed out moments ago: then the challenge is about
            # a request sent before it (a burst that one token answers; the flow hands it back
            # without asking the credential). Later, that answer itself has been refused, and
            # the credential is asked again (within the loop breaker's budget) instead of the
            # refused token being handed out until it expires.
            if answered != claims or self._clock() - at > _ANSWER_GRACE:
                challenged = token.token
        return key, flow, TokenNeeded(claims, challenged)

    def _new_flow(self, key: _Scopes) -> ChallengeFlow:
        with self._lock:
            flow = self._flows.get(key)
            if flow is None:
                if len(self._flows) >= _MAX_SCOPE_SETS:
                    oldest = next(iter(self._flows))
                    del self._flows[oldest]
                    self._handed.pop(oldest, None)
                flow = ChallengeFlow(
                    self.credential, key, loop_breaker=self._breaker, clock=self._clock
                )
                self._flows[key] = flow
        return flow

    def handed(self, key: _Scopes, need: TokenNeeded, token: AccessToken) -> AccessToken:
        self._handed[key] = (token, need.claims, self._clock())
        return token

    def close(self) -> None:
        close = getattr(self.credential, "close", None)
        if callable(close):
            close()


class _Adapter:
    """Construction and accessors both adapters share."""

    def __init__(
        self,
        credential: TokenCredential,
        *,
        loop_breaker: LoopBreaker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._broker = _Broker(credential, loop_breaker=loop_breaker, clock=clock)

    @property
    def credential(self) -> TokenCredential:
        """The cae-sdk credential this adapter asks."""
        return self._broker.credential

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.credential).__name__})"


class AzureSDKCredential(_Adapter):
    """A cae-sdk credential as azure-core's ``TokenCredential`` and ``SupportsTokenInfo``.

    ``AzureSDKCredential(credential)`` wraps any cae-sdk
    :class:`~cae_sdk.client.TokenCredential` (usually through
    ``credential.as_azure_credential()``). Blocking: give async Azure SDK clients and kiota /
    msgraph-core :class:`AsyncAzureSDKCredential` instead. :meth:`close` closes the wrapped
    credential.
    """

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AzureAccessToken:
        """azure-core ``TokenCredential.get_token``; always a cp1 token (``enable_cae`` or not).

        Unknown keyword arguments are ignored, as azure-identity's credentials do."""
        token = self._token(scopes, claims, tenant_id)
        return AzureAccessToken(token.token, int(token.expires_on))

    def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        """azure-core ``SupportsTokenInfo.get_token_info`` (``options``: ``claims``,
        ``tenant_id``, ``enable_cae``; unknown options are ignored)."""
        claims, tenant_id = _options(options)
        return _token_info(self._token(scopes, claims, tenant_id))

    def _token(
        self, scopes: tuple[Any, ...], claims: str | None, tenant_id: str | None
    ) -> AccessToken:
        try:
            key, flow, need = self._broker.step(scopes, claims, tenant_id)
            return self._broker.handed(key, need, flow.token(need))
        except _REFUSALS as error:
            raise _azure(error) from error.__cause__

    def close(self) -> None:
        """Close the wrapped cae-sdk credential (its HTTP client for MSAL)."""
        self._broker.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.close()


class AsyncAzureSDKCredential(_Adapter):
    """A cae-sdk credential as azure-core's ``AsyncTokenCredential`` and
    ``AsyncSupportsTokenInfo``.

    The event loop is never blocked: a held, valid token is answered inline; MSAL runs in a
    worker thread, one per burst of identical requests (single flight shared with every
    other adapter of the same credential, sync ones included). :meth:`close` closes the wrapped
    credential (in a worker thread).
    """

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AzureAccessToken:
        """azure-core ``AsyncTokenCredential.get_token``; always a cp1 token."""
        token = await self._token(scopes, claims, tenant_id)
        return AzureAccessToken(token.token, int(token.expires_on))

    async def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        """azure-core ``AsyncSupportsTokenInfo.get_token_info``."""
        claims, tenant_id = _options(options)
        return _token_info(await self._token(scopes, claims, tenant_id))

    async def _token(
        self, scopes: tuple[Any, ...], claims: str | None, tenant_id: str | None
    ) -> AccessToken:
        try:
            key, flow, need = self._broker.step(scopes, claims, tenant_id)
            return self._broker.handed(key, need, await flow.atoken(need))
        except _REFUSALS as error:
            raise _azure(error) from error.__cause__

    async def close(self) -> None:
        """Close the wrapped cae-sdk credential."""
        await asyncio.to_thread(self._broker.close)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.close()


# -- translation helpers -----------------------------------------------------------------------


def _check_scopes(scopes: tuple[Any, ...]) -> _Scopes:
    if not scopes or not all(isinstance(s, str) and s.strip() for s in scopes):
        # azure-identity raises ValueError for this too; ConfigurationError is one.
        raise ConfigurationError("get_token needs at least one non-empty scope string")
    return tuple(scopes)


def _check_tenant(credential: TokenCredential, tenant_id: str) -> None:
    if isinstance(credential, ManagedIdentityCredential):
        return  # a managed identity lives in one tenant; azure-identity ignores it too
    authority = getattr(credential, "authority", None)
    bound = authority.rstrip("/").rsplit("/", 1)[-1] if isinstance(authority, str) else None
    if bound is not None and bound.lower() == tenant_id.lower():
        return
    raise as_client_authentication_error(
        ConfigurationError(
            f"{type(credential).__name__} gets tokens from tenant {bound or 'unknown'}; it "
            f"does not ask tenant {tenant_id}. Build a credential for that tenant instead."
        )
    )


def _options(options: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """``claims`` and ``tenant_id`` of azure-core ``TokenRequestOptions`` (others ignored)."""
    if not options:
        return None, None
    claims, tenant_id = options.get("claims"), options.get("tenant_id")
    return (
        claims if isinstance(claims, str) and claims else None,
        tenant_id if isinstance(tenant_id, str) and tenant_id else None,
    )


def _azure(error: CAEError) -> BaseException:
    """The error to raise from an adapter: translated, with the original's frames."""
    return as_client_authentication_error(error).with_traceback(error.__traceback__)


def _token_info(token: AccessToken) -> AccessTokenInfo:
    return AccessTokenInfo(
        token.token, int(token.expires_on), token_type="Bearer", refresh_on=int(token.refresh_on)
    )


_AZURE_ERROR_TYPES: dict[type[CAEError], type[CAEError]] = {}
_AZURE_ERROR_LOCK = threading.Lock()


def as_client_authentication_error(error: CAEError) -> CAEError:
    """``error`` as an exception that is both its own cae-sdk type and azure-core's
    ``ClientAuthenticationError`` (same message and attributes)."""
    if isinstance(error, ClientAuthenticationError):
        return error
    cls = type(error)
    with _AZURE_ERROR_LOCK:
        dual = _AZURE_ERROR_TYPES.get(cls)
        if dual is None:
            dual = type(
                cls.__name__,
                (cls, ClientAuthenticationError),
                {"__module__": __name__, "__doc__": cls.__doc__, "__qualname__": cls.__name__},
            )
            _AZURE_ERROR_TYPES[cls] = dual
    converted = dual.__new__(dual)
    # AzureError keeps ``error`` as ``inner_exception``; HttpResponseError sets ``response``.
    ClientAuthenticationError.__init__(
        cast(ClientAuthenticationError, converted), message=str(error), error=error
    )
    vars(converted).update(vars(error))
    converted.args = error.args
    return converted
