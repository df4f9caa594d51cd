"""Options every MSAL-backed credential accepts, and the MSAL application pair they build."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, TypedDict
from urllib.parse import urlparse

import httpx
import msal

from ...core.errors import ConfigurationError
from .._http import DEFAULT_MAX_ANSWER_BYTES, HttpSettings, MsalHttpClient

__all__ = [
    "DEFAULT_AUTHORITY_HOST",
    "AuthorityOptions",
    "Clock",
    "HttpOptions",
    "MsalAppPair",
    "TransportOptions",
]

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

Clock = Callable[[], float]


class HttpOptions(TypedDict, total=False):
    """Keyword options of every MSAL-backed credential (see ``docs/client.md``)."""

    verify: bool | str | ssl.SSLContext
    ca_bundle: str | None
    proxy: str | None
    timeout: float
    max_answer_bytes: int
    http_client: httpx.Client | None
    token_cache: msal.TokenCache | None
    clock: Clock


class AuthorityOptions(HttpOptions, total=False):
    """:class:`HttpOptions` plus where the authority lives (not for managed identity)."""

    authority: str | None
    authority_host: str | None
    instance_discovery: bool | None


class TransportOptions:
    """Authority and transport settings resolved from :class:`AuthorityOptions`.

    ``http_client`` lets the application hand MSAL its own ``httpx.Client``; otherwise one is
    built from ``verify``/``ca_bundle``, ``proxy`` and ``timeout``.
    """

    def __init__(self, options: AuthorityOptions | HttpOptions) -> None:
        raw: dict[str, Any] = dict(options)
        self.clock: Clock = raw.get("clock") or time.time
        self.token_cache = raw.get("token_cache") or msal.TokenCache()
        self.authority: str | None = raw.get("authority")
        self._http_client: httpx.Client | None = raw.get("http_client")
        host = str(raw.get("authority_host") or DEFAULT_AUTHORITY_HOST).rstrip("/")
        if "://" not in host:
            host = f"https://{host}"
        parsed = urlparse(host)
        if parsed.scheme != "https" or not parsed.hostname:
            raise ConfigurationError(f"authority host must be an https URL, got {host!r}")
        self.authority_host = host
        verify = raw.get("ca_bundle") or raw.get("verify", True)
        self.settings = HttpSettings(
            verify=verify,
            proxy=raw.get("proxy"),
            timeout=float(raw.get("timeout", 30.0)),
            max_answer_bytes=int(raw.get("max_answer_bytes", DEFAULT_MAX_ANSWER_BYTES)),
        )
        # Instance discovery follows the host MSAL will actually talk to: the explicit
        # authority when one is given, else the authority host.
        authority_hostname = parsed.hostname
        if self.authority:
            parsed_authority = urlparse(self.authority)
            if parsed_authority.scheme != "https" or not parsed_authority.hostname:
                raise ConfigurationError(f"authority must be an https URL, got {self.authority!r}")
            authority_hostname = parsed_authority.hostname
        discovery = raw.get("instance_discovery")
        self.instance_discovery = (
            bool(discovery) if discovery is not None else authority_hostname in _MICROSOFT_HOSTS
        )

    def authority_for(self, tenant_id: str) -> str:
        if self.authority:
            return self.authority.rstrip("/")
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
    Applications are built on first use, off the event loop (MSAL fetches metadata then).

    Before a claims request, MSAL's remembered HTTP 400 refusals are dropped: MSAL answers a
    token request identical to a refused one from its HTTP cache for 60 s
    (``msal/throttled_http_client.py``), and a client assertion is reused, so after an
    administrator re-enables a disabled service principal the app would keep failing for a
    minute. A claims challenge means the resource saw the directory change; the refusal is stale.
    Repeated identical challenges are still bounded by ``CAEAuth``'s loop breaker.
    """

    def __init__(
        self,
        app_class: Callable[..., Any],
        client_id: str,
        *,
        authority: str,
        transport: TransportOptions,
        **app_kwargs: Any,
    ) -> None:
        self.http_client = http_client = transport.msal_http_client()
        http_cache: dict[str, Any] = {}

        def build(capabilities: list[str] | None) -> Any:
            return app_class(
                client_id,
                authority=authority,
                client_capabilities=capabilities,
                token_cache=transport.token_cache,
                http_client=http_client,
                http_cache=http_cache,
                instance_discovery=transport.instance_discovery,
                **app_kwargs,
            )

        self._build = build
        self._http_cache = http_cache
        self._lock = threading.Lock()
        self._apps: dict[bool, Any] = {}

    def forget_refusals(self) -> int:
        """Drop MSAL's cached HTTP 400 token responses; returns how many were dropped."""
        # Keys of MSAL's "UI required" cache end in " 400" (throttled_http_client.py). Popping
        # from the backing dict is safe: MSAL then sees a KeyError and calls through.
        stale = [k for k in list(self._http_cache) if isinstance(k, str) and k.endswith(" 400")]
        for key in stale:
            self._http_cache.pop(key, None)
        return len(stale)

    def get(self, *, for_claims: bool) -> Any:
        if for_claims:
            self.forget_refusals()
        app = self._apps.get(for_claims)
        if app is None:
            with self._lock:
                app = self._apps.get(for_claims)
                if app is None:
                    app = self._build(None if for_claims else ["cp1"])
                    self._apps[for_claims] = app
        return app
