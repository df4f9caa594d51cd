"""Access-token validation for any OpenID Connect issuer, with Entra presets.

``await validator.validate(token)`` is the one call per request: it looks the validated-token
cache up once and, on a miss, verifies the token, returning :class:`TokenClaims` or raising
:class:`TokenValidationError` with a stable ``reason``. Order on a miss: strict parse (``alg``
allowlist first) -> key by ``kid``/``x5t`` -> signature -> the shared claims checker
(:mod:`cae_sdk.core._jwt`: required claims, times, lifetime, issuer, audience; RFC 7519 section
7.2, RFC 8725 section 3) -> tenant allowlist.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import httpx

from ..core import _jwt
from ..core.errors import ConfigurationError, JOSEError, TokenValidationError
from ..core.tokens import TokenClaims
from ._jws import ACCESS_TOKEN_TYPES, SUPPORTED_ALGORITHMS, TokenParser, verify_signature
from ._keysets import KeySetSource, key_error
from ._token_cache import TokenCache

__all__ = ["DEFAULT_MAX_LIFETIME", "ENTRA_AUTHORITY_HOST", "TokenValidator"]

ENTRA_AUTHORITY_HOST = "https://login.microsoftonline.com"
"""Entra's authority host (public cloud), the default of :meth:`TokenValidator.entra`."""
TENANT_PLACEHOLDER = _jwt.TENANT_PLACEHOLDER

DEFAULT_MAX_LIFETIME = 28 * 3600.0
"""Entra's longest CAE access-token lifetime, 28 hours (Microsoft identity platform docs, "How
to use Continuous Access Evaluation enabled APIs in your applications")."""

# _jwt reason -> TokenValidationError reason (the latter are documented and tested).
_CLAIM_REASONS = {
    _jwt.MALFORMED_CLAIM: "malformed_token",
    _jwt.MISSING_CLAIM: "missing_claim",
    _jwt.EXPIRED: "token_expired",
    _jwt.NOT_YET_VALID: "token_not_yet_valid",
    _jwt.LIFETIME_TOO_LONG: "token_lifetime_too_long",
    _jwt.BAD_ISSUER: "bad_issuer",
    _jwt.BAD_AUDIENCE: "bad_audience",
}


class TokenValidator:
    """Validate bearer access tokens of one issuer (or an issuer template).

    ``issuer`` may contain ``{tenantid}`` (multi-tenant Entra apps): it is then checked with the
    token's ``tid`` put in, and ``tenants`` (when given) lists the tenants allowed in. Issuers
    compare exactly (OpenID Connect Core 1.0 section 3.1.3.7).
    Keys come from ``openid_configuration_url`` (default: the issuer's discovery document),
    ``jwks_uri``, or pinned ``jwks`` (a JWKS document, never refreshed).

    ``max_lifetime`` (seconds; default 28 h) refuses a token whose lifetime (``exp - iat``,
    else ``exp - nbf``) exceeds it with ``token_lifetime_too_long``: revocation watermarks are
    only kept that long. ``None`` disables the check.

    ``require_permissions`` (on in :meth:`entra`) refuses a token that carries neither ``scp``
    nor ``roles`` with ``missing_claim``, as Microsoft.Identity.Web does (IDW10201; Microsoft
    identity platform docs, "Protected web API: Verify scopes and app roles"): every Entra
    access token for an API carries one of them, and an ID token - signed with the same keys,
    issued by the same issuer, its ``aud`` the app id that is also the API's when one
    registration is both - carries neither, so it is never taken for an access token. An API
    that authorizes app-only callers by an access-control list instead of app roles turns it
    off (Microsoft's ``AllowWebApiToBeAuthorizedByACL``).

    ``token_types`` lists the ``typ`` header values accepted (default ``JWT`` and RFC 9068's
    ``at+jwt``; a token without ``typ`` passes): a token explicitly typed as another kind of
    JWT (``secevent+jwt``, ``logout+jwt``, ``dpop+jwt``...) is refused as ``malformed_token``
    (RFC 8725 section 3.11, explicit typing).

    Keys: ``fetch_timeout`` is the overall deadline of one key fetch; a request naming an
    unknown ``kid`` waits at most ``unknown_kid_wait`` for the refresh it starts, and refreshes
    start at most once per ``unknown_kid_cooldown`` (a key set fetched within it answers
    ``unknown_key`` at once). A request that cannot be answered in time is refused
    ``keys_unavailable`` (retryable, ``retry_after`` set), never held.
    """

    def __init__(
        self,
        *,
        issuer: str | Sequence[str],
        audiences: Sequence[str],
        openid_configuration_url: str | None = None,
        jwks_uri: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        tenants: Collection[str] | None = None,
        algorithms: Collection[str] = ("RS256", "PS256", "ES256"),
        leeway: int = 60,
        required_claims: Iterable[str] = ("iss", "aud", "exp", "iat"),
        max_lifetime: float | None = DEFAULT_MAX_LIFETIME,
        require_permissions: bool = False,
        token_types: Collection[str] = ACCESS_TOKEN_TYPES,
        http_client: httpx.AsyncClient | None = None,
        jwks_max_age: float = 3600.0,
        unknown_kid_cooldown: float = 5.0,
        unknown_kid_wait: float = 1.0,
        fetch_timeout: float = 5.0,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuers = (issuer,) if isinstance(issuer, str) else tuple(issuer)
        if not self.issuers or not all(self.issuers) or not audiences or not all(audiences):
            raise ConfigurationError("a TokenValidator needs an issuer and at least one audience")
        self.audiences = frozenset(audiences)
        self.tenants = frozenset(t.lower() for t in tenants) if tenants is not None else None
        unsupported = set(algorithms) - SUPPORTED_ALGORITHMS
        if unsupported or not algorithms:
            raise ConfigurationError(
                f"algorithms must be among {sorted(SUPPORTED_ALGORITHMS)}: {sorted(unsupported)}"
            )
        if max_lifetime is not None and max_lifetime <= 0:
            raise ConfigurationError("max_lifetime must be positive (or None to disable it)")
        self.algorithms = frozenset(algorithms)
        self._parser = TokenParser(self.algorithms, token_types)
        self.leeway = leeway
        self.required_claims = tuple(required_claims)
        self.max_lifetime = max_lifetime
        self.require_permissions = require_permissions
        self.rules = _jwt.ClaimsRules(
            issuers=_jwt.IssuerRule.of(self.issuers),
            audiences=self.audiences,
            leeway=float(leeway),
            required=self.required_claims,
            max_lifetime=max_lifetime,
        )
        if openid_configuration_url is None and jwks_uri is None and jwks is None:
            plain = [i for i in self.issuers if TENANT_PLACEHOLDER not in i]
            if not plain:
                raise ConfigurationError(
                    "an issuer template needs an openid_configuration_url or a jwks_uri"
                )
            openid_configuration_url = plain[0].rstrip("/") + "/.well-known/openid-configuration"
        self.keys = KeySetSource(
            jwks_uri=jwks_uri,
            openid_configuration_url=None if jwks_uri else openid_configuration_url,
            jwks=jwks,
            http_client=http_client,
            max_age=jwks_max_age,
            cooldown=unknown_kid_cooldown,
            timeout=fetch_timeout,
            unknown_key_wait=unknown_kid_wait,
        )
        self.cache = TokenCache(cache_size)
        self._clock = clock
        own = type(self)
        self._fast_path = own.validate is TokenValidator.validate and (
            own.cached is TokenValidator.cached
        )
        """Whether the request path may answer a cached token from :meth:`cached` in ``begin``
        and verify a new one with :meth:`_verify`: only while :meth:`validate` and
        :meth:`cached` are this class's own. A subclass that overrides either is asked through
        :meth:`validate` on every request, by every driver: a check it adds is never skipped
        for a token verified before."""

    @classmethod
    def entra(
        cls,
        *,
        app_id: str,
        tenant_id: str | None = None,
        tenants: Collection[str] | None = None,
        authority_host: str = ENTRA_AUTHORITY_HOST,
        audiences: Sequence[str] = (),
        **options: Any,
    ) -> TokenValidator:
        """An Entra API: v1 (``https://sts.windows.net/{tid}/``, or ``{authority_host}/{tid}/``
        for another host) and v2 (``{authority_host}/{tid}/v2.0``) issuers, audiences
        ``api://{app_id}`` and ``{app_id}``, plus ``audiences`` (for example a custom
        Application ID URI such as ``https://api.contoso.com``: v1 tokens carry it as ``aud``).
        Without ``tenant_id`` the API is multi-tenant (``tenants`` may restrict it).
        ``require_permissions`` is on: a token without ``scp`` and ``roles`` (an ID token) is
        refused."""
        host = authority_host.rstrip("/")
        tenant = tenant_id or TENANT_PLACEHOLDER
        # v1 tokens name the security token service: sts.windows.net for Entra, the authority
        # host itself for sovereign clouds' emulators such as the dev identity provider.
        sts_host = "https://sts.windows.net" if host == ENTRA_AUTHORITY_HOST else host
        issuers = [f"{host}/{tenant}/v2.0", f"{sts_host}/{tenant}/"]
        options.setdefault(
            "openid_configuration_url",
            f"{host}/{tenant_id or 'common'}/v2.0/.well-known/openid-configuration",
        )
        accepted = [f"api://{app_id}", app_id]
        accepted += [a for a in audiences if a not in accepted]
        options.setdefault("require_permissions", True)
        return cls(issuer=issuers, audiences=accepted, tenants=tenants, **options)

    def cached(self, token: str | bytes, now: float | None = None) -> TokenClaims | None:
        """Sync fast path: the claims of a token verified before, not yet expired, whose
        signing key is still published. ``validate`` does this lookup itself: call one or the
        other per request, not both. ``token`` is the token, or the ``Authorization`` header
        value the request path keys it by (:class:`~cae_sdk.resource.RequestPath`: nothing to
        decode per request). ``now`` is this validator's clock read by the caller (a request
        path reads it once per request), else it is read here."""
        clock = self._clock
        if now is None:
            now = clock()
        keys = self.keys
        claims = self.cache.get(token, now, keys.thumbprints)
        if claims is not None and not keys.pinned:
            # A cache hit still keeps the key set fresh: the refresh that drops a key ends
            # every cached token it signed. (Pinned keys are never refreshed.)
            keys.refresh_if_stale(now if keys._clock is clock else None)
        return claims

    async def validate(self, token: str) -> TokenClaims:
        """Verified claims of ``token`` (from the cache when it was verified before, with the
        cache looked up once); raises :class:`TokenValidationError`."""
        claims = self.cached(token)
        if claims is not None:
            return claims
        return await self._verify(token)

    async def _verify(self, token: str, cache_key: str | bytes | None = None) -> TokenClaims:
        """:meth:`validate` after a cache miss (the request path looked the token up in
        :meth:`cached` already): verify ``token`` and cache its claims under ``cache_key``
        (the key that missed), else under the token."""
        now = self._clock()
        parsed = self._parser.parse(token)
        if parsed.kid is None and parsed.x5t is None:
            raise TokenValidationError("unknown_key", "token header names no kid or x5t")
        key = self.keys.cached(parsed.kid, parsed.x5t)
        if key is None:
            try:
                key = await self.keys.lookup(parsed.kid, parsed.x5t)
            except JOSEError as error:
                raise key_error(error) from None
        verify_signature(parsed, key)
        try:
            times = _jwt.check_claims(parsed.payload, self.rules, now)
        except JOSEError as error:
            reason = _CLAIM_REASONS.get(error.reason, "malformed_token")
            raise TokenValidationError(reason, f"token {error.description}") from None
        if self.require_permissions and not _grants_permissions(parsed.payload):
            raise TokenValidationError(
                "missing_claim", "token carries neither scp nor roles (not an access token)"
            )
        self._check_tenant(parsed.payload)
        claims = TokenClaims(parsed.payload)
        if times.expires_at is not None:
            self.cache.put(
                token if cache_key is None else cache_key,
                claims,
                times.expires_at,
                key.thumbprint,
            )
        return claims

    def _check_tenant(self, payload: Mapping[str, Any]) -> None:
        if self.tenants is None:
            return
        tid = payload.get("tid")
        # Tenant ids are GUIDs: the allowlist compares them case-insensitively.
        if type(tid) is not str or tid.lower() not in self.tenants:
            raise TokenValidationError("bad_tenant", "token tenant is not allowed")

    async def aclose(self) -> None:
        await self.keys.aclose()


def _grants_permissions(payload: Mapping[str, Any]) -> bool:
    """Whether an Entra token carries delegated scopes (``scp``) or app roles (``roles``)."""
    scp, roles = payload.get("scp"), payload.get("roles")
    return (type(scp) is str and bool(scp.strip())) or (type(roles) is list and bool(roles))
