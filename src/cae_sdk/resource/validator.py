"""Access-token validation for any OpenID Connect issuer, with Entra presets.

``await validator.validate(token)`` returns verified :class:`TokenClaims` or raises
:class:`TokenValidationError` with a stable ``reason``. Order: cache lookup (by token hash) ->
strict parse (``alg`` allowlist first) -> key by ``kid``/``x5t`` -> signature -> issuer, audience,
tenant, times, required claims (RFC 7519 section 7.2, RFC 8725 section 3).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

import httpx

from ..core.errors import ConfigurationError, TokenValidationError
from ..core.tokens import TokenClaims
from .jws import SUPPORTED_ALGORITHMS, ParsedToken, TokenParser, verify_signature
from .keysets import KeySetSource
from .token_cache import TokenCache

__all__ = ["ENTRA_AUTHORITY_HOST", "TokenValidator"]

ENTRA_AUTHORITY_HOST = "https://login.microsoftonline.com"
TENANT_PLACEHOLDER = "{tenantid}"


def _int_claim(payload: Mapping[str, Any], name: str) -> int | None:
    value = payload.get(name)
    if value is None or type(value) is int:
        return value
    # JSON numbers may be fractional (RFC 7519 section 2, NumericDate); Python's json also
    # reads Infinity and NaN, which are no time at all.
    if not isinstance(value, float) or not math.isfinite(value):
        raise TokenValidationError("malformed_token", f"claim {name!r} is not a number")
    return int(value)


class TokenValidator:
    """Validate bearer access tokens of one issuer (or an issuer template).

    ``issuer`` may contain ``{tenantid}`` (multi-tenant Entra apps): it is then checked with the
    token's ``tid`` put in, and ``tenants`` (when given) lists the tenants allowed in.
    Keys come from ``openid_configuration_url`` (default: the issuer's discovery document),
    ``jwks_uri``, or pinned ``jwks`` (a JWKS document, never refreshed).
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
        http_client: httpx.AsyncClient | None = None,
        jwks_max_age: float = 3600.0,
        unknown_kid_cooldown: float = 30.0,
        fetch_timeout: float = 5.0,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuers = (issuer,) if isinstance(issuer, str) else tuple(issuer)
        if not self.issuers or not audiences:
            raise ConfigurationError("a TokenValidator needs an issuer and at least one audience")
        self.audiences = frozenset(audiences)
        self.tenants = frozenset(t.lower() for t in tenants) if tenants is not None else None
        unsupported = set(algorithms) - SUPPORTED_ALGORITHMS
        if unsupported or not algorithms:
            raise ConfigurationError(
                f"algorithms must be among {sorted(SUPPORTED_ALGORITHMS)}: {sorted(unsupported)}"
            )
        self.algorithms = frozenset(algorithms)
        self._parser = TokenParser(self.algorithms)
        self.leeway = leeway
        self.required_claims = tuple(required_claims)
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
        )
        self.cache = TokenCache(cache_size)
        self._clock = clock

    @classmethod
    def entra(
        cls,
        *,
        app_id: str,
        tenant_id: str | None = None,
        tenants: Collection[str] | None = None,
        authority_host: str = ENTRA_AUTHORITY_HOST,
        **options: Any,
    ) -> TokenValidator:
        """An Entra API: v1 (``https://sts.windows.net/{tid}/``, or ``{authority_host}/{tid}/``
        for another host) and v2 (``{authority_host}/{tid}/v2.0``) issuers, audiences
        ``api://{app_id}`` and ``{app_id}``. Without ``tenant_id`` the API is multi-tenant
        (``tenants`` may restrict it)."""
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
        return cls(
            issuer=issuers,
            audiences=[f"api://{app_id}", app_id],
            tenants=tenants,
            **options,
        )

    def cached(self, token: str) -> TokenClaims | None:
        """Sync fast path: the claims of a token verified before and not yet expired."""
        return self.cache.get(TokenCache.key(token), self._clock())

    async def validate(self, token: str) -> TokenClaims:
        cache_key = TokenCache.key(token)
        now = self._clock()
        claims = self.cache.get(cache_key, now)
        if claims is not None:
            return claims
        parsed = self._parser.parse(token)
        if parsed.kid is None and parsed.x5t is None:
            raise TokenValidationError("unknown_key", "token header names no kid or x5t")
        key = self.keys.cached(parsed.kid, parsed.x5t) or await self.keys.get(
            parsed.kid, parsed.x5t
        )
        verify_signature(parsed, key)
        claims = self._check_claims(parsed, now)
        exp = claims.expires_at
        if exp is not None:
            self.cache.put(cache_key, claims, float(exp))
        return claims

    def _check_claims(self, parsed: ParsedToken, now: float) -> TokenClaims:
        payload = parsed.payload
        for name in self.required_claims:
            value = payload.get(name)
            if value is None or value == "":
                raise TokenValidationError("missing_claim", f"token lacks required claim {name!r}")
        leeway = self.leeway
        exp = _int_claim(payload, "exp")
        if exp is not None and now > exp + leeway:
            raise TokenValidationError("token_expired", "token has expired")
        nbf = _int_claim(payload, "nbf")
        if nbf is not None and now + leeway < nbf:
            raise TokenValidationError("token_not_yet_valid", "token is not valid yet")
        iat = _int_claim(payload, "iat")
        if iat is not None and now + leeway < iat:
            raise TokenValidationError("token_not_yet_valid", "token was issued in the future")
        self._check_issuer(payload)
        aud = payload.get("aud")
        if isinstance(aud, str):
            accepted = aud in self.audiences
        else:
            accepted = isinstance(aud, list) and any(
                isinstance(a, str) and a in self.audiences for a in aud
            )
        if not accepted:
            raise TokenValidationError("bad_audience", "token audience is not accepted")
        return TokenClaims(payload)

    def _check_issuer(self, payload: Mapping[str, Any]) -> None:
        iss = payload.get("iss")
        if not isinstance(iss, str):
            raise TokenValidationError("bad_issuer", "token has no issuer")
        tid = payload.get("tid")
        tid = tid.lower() if isinstance(tid, str) and tid else None
        if self.tenants is not None and tid not in self.tenants:
            raise TokenValidationError("bad_tenant", "token tenant is not allowed")
        for expected in self.issuers:
            if TENANT_PLACEHOLDER in expected:
                # The template is filled with the token's own tid: a token of tenant A can
                # never pass with issuer B (multi-tenant issuer validation).
                if (
                    tid is not None
                    and iss.lower() == expected.replace(TENANT_PLACEHOLDER, tid).lower()
                ):
                    return
            elif iss == expected:
                return
        raise TokenValidationError("bad_issuer", "token issuer is not accepted")

    async def aclose(self) -> None:
        await self.keys.aclose()
