"""What every cae-sdk credential shares: cp1 and claims merging, result checks, error mapping.

Each concrete credential only says how to ask MSAL (or another library) for a token with an
optional, already merged claims request; this base turns the answer into an
:class:`~cae_sdk.client.token.AccessToken` or a typed error.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

import httpx
import requests

from ...core.claims import CP1, merge_claims
from ...core.errors import (
    ClaimsChallengeUnresolvable,
    ConfigurationError,
    TokenAcquisitionError,
)
from ...core.remediation import Remediation, RemediationKind
from ..http import HttpSettings, MsalHttpClient
from ..token import AccessToken, token_sha256

__all__ = ["DEFAULT_AUTHORITY_HOST", "CredentialBase", "MsalAppPair", "TransportOptions"]

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"

# Hosts for which MSAL's instance discovery (a call to login.microsoftonline.com) is meaningful;
# any other authority (a private cloud, the dev identity provider) skips it by default.
_MICROSOFT_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "sts.windows.net",
        "login.chinacloudapi.cn",
        "login.microsoftonline.us",
        "login.partner.microsoftonline.cn",
    }
)

_NETWORK_REMEDIATION = Remediation(
    RemediationKind.RETRY,
    "The identity provider could not be reached. Check connectivity, proxy and TLS trust "
    "(ca_bundle/verify), then retry.",
)

Clock = Callable[[], float]


class TransportOptions:
    """Authority and transport options common to the MSAL-backed credentials.

    ``http_client`` lets the application hand MSAL its own ``httpx.Client``; otherwise one is
    built from ``verify``/``ca_bundle``, ``proxy`` and ``timeout``.
    """

    def __init__(
        self,
        *,
        authority_host: str | None = None,
        verify: Any = True,
        ca_bundle: str | None = None,
        proxy: str | None = None,
        timeout: float = 30.0,
        instance_discovery: bool | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._http_client = http_client
        host = (authority_host or DEFAULT_AUTHORITY_HOST).rstrip("/")
        if "://" not in host:
            host = f"https://{host}"
        parsed = urlparse(host)
        if parsed.scheme != "https" or not parsed.hostname:
            raise ConfigurationError(f"authority host must be an https URL, got {host!r}")
        self.authority_host = host
        self.settings = HttpSettings(
            verify=ca_bundle if ca_bundle is not None else verify, proxy=proxy, timeout=timeout
        )
        self.instance_discovery = (
            instance_discovery
            if instance_discovery is not None
            else parsed.hostname in _MICROSOFT_HOSTS
        )

    def authority_for(self, tenant_id: str, authority: str | None) -> str:
        if authority:
            return authority.rstrip("/")
        if not tenant_id:
            raise ConfigurationError("tenant_id is required (or pass authority=...)")
        return f"{self.authority_host}/{tenant_id}"

    def msal_http_client(self) -> MsalHttpClient:
        """MSAL's HTTP client: the application's own ``httpx.Client`` when one was given
        (its TLS, proxy and timeout settings then apply), else one built from the options."""
        return MsalHttpClient(self.settings, client=self._http_client)


class MsalAppPair:
    """Two MSAL applications over one token cache: one announcing cp1, one for claims requests.

    MSAL merges ``client_capabilities`` into a ``claims_challenge`` by *overwriting*
    ``access_token.xms_cc`` (``msal/application.py``,
    ``_merge_claims_challenge_and_capabilities``), which drops any ``xms_cc`` member the server
    asked for. Claims requests therefore go through an application without capabilities and
    carry ``merge_claims(CP1, challenge)`` themselves; both share the token cache (so the
    refreshed token serves later requests) and the HTTP cache (so discovery runs once).
    """

    def __init__(self, factory: Callable[[list[str] | None], Any]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._apps: dict[bool, Any] = {}

    def get(self, *, for_claims: bool) -> Any:
        app = self._apps.get(for_claims)
        if app is None:
            with self._lock:
                app = self._apps.get(for_claims)
                if app is None:
                    app = self._factory(None if for_claims else ["cp1"])
                    self._apps[for_claims] = app
        return app


class CredentialBase(ABC):
    """Base of every credential: implements ``get_token`` on top of :meth:`_acquire`."""

    def __init__(self, *, clock: Clock = time.time) -> None:
        self._clock = clock

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
        now = self._clock()
        try:
            result = self._acquire(scope_list, request_claims)
        except requests.exceptions.RequestException as exc:
            raise TokenAcquisitionError(
                f"Token request failed: {exc}",
                error="network_error",
                claims=request_claims,
                remediation=_NETWORK_REMEDIATION,
            ) from exc
        token = self._accept(result, now=now, claims=request_claims)
        if (
            challenged_token is not None
            and claims
            and token.sha256 == token_sha256(challenged_token)
        ):
            raise ClaimsChallengeUnresolvable(
                f"{type(self).__name__} returned the same token that was just challenged; "
                "replaying it would be refused again. The token source has not yet seen the "
                "revocation (managed identity endpoints cache tokens): retry later."
            )
        return token

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


def _check_scopes(scopes: Sequence[str]) -> list[str]:
    if isinstance(scopes, str):
        scopes = [scopes]
    scope_list = [str(s) for s in scopes]
    if not scope_list or any(not s.strip() for s in scope_list):
        raise ConfigurationError("at least one non-empty scope is required")
    return scope_list
