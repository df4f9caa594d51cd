"""Token issuance rules, as pure functions of the request and ``now``.

Covers: the claims request (``xms_cc`` capability, ``nbf`` watermark, ``acrs`` step-up), scope
resolution to a resource app, and the Entra v1 / v2 access-token claim sets (Microsoft identity
platform docs, "Claims challenges, claims requests and client capabilities" and "Access token
claims reference"; Microsoft Entra docs, "Continuous access evaluation").
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.claims import has_cp1, parse_claims_request, requested_acrs, requested_nbf
from ..core.errors import InvalidClaimsError
from ._directory import Application, Directory
from ._errors import Refusal

__all__ = [
    "AccessTokenSpec",
    "ClaimsEvaluation",
    "ResolvedScope",
    "access_token_claims",
    "client_info",
    "evaluate_claims",
    "id_token_claims",
    "resolve_scope",
]

OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
MAX_FUTURE_NBF_SECONDS = 5  # an nbf request may run ahead of our clock by this much (skew)


@dataclass(frozen=True)
class ClaimsEvaluation:
    """What a token request's ``claims`` parameter asks of the issuer."""

    cp1: bool = False
    not_before: int | None = None
    acrs: tuple[str, ...] = ()

    def union(self, other: ClaimsEvaluation) -> ClaimsEvaluation:
        """Both requests at once (a device code's authorization and token requests may each
        carry claims): cp1 if either asks, the later ``nbf``, every ``acrs`` value."""
        not_befores = [n for n in (self.not_before, other.not_before) if n is not None]
        return ClaimsEvaluation(
            cp1=self.cp1 or other.cp1,
            not_before=max(not_befores) if not_befores else None,
            acrs=tuple(dict.fromkeys((*self.acrs, *other.acrs))),
        )


def evaluate_claims(text: str | None, *, extra_capabilities: str | None = None) -> ClaimsEvaluation:
    """Parse the ``claims`` form parameter strictly (OIDC Core 5.5).

    ``extra_capabilities`` is the comma-separated ``xms_cc`` query parameter some managed identity
    endpoints take. Raises :class:`EntraError` ``invalid_request`` for a malformed request.
    """
    cp1 = bool(extra_capabilities) and any(
        has_cp1(v.strip()) for v in (extra_capabilities or "").split(",")
    )
    if not text:
        return ClaimsEvaluation(cp1=cp1)
    try:
        parsed = parse_claims_request(text)
    except InvalidClaimsError as exc:
        raise Refusal.INVALID_CLAIMS.error(detail=exc) from None
    access = parsed.get("access_token") or {}
    xms_cc = (access.get("xms_cc") or {}) if isinstance(access, dict) else {}
    values = xms_cc.get("values") if isinstance(xms_cc, dict) else None
    nbf_request = access.get("nbf") if isinstance(access, dict) else None
    not_before = requested_nbf(parsed)
    if nbf_request is not None and not_before is None:
        raise Refusal.INVALID_CLAIMS.error(detail="the nbf request needs an epoch value")
    return ClaimsEvaluation(
        cp1=cp1 or has_cp1(values),
        not_before=not_before,
        acrs=requested_acrs(parsed),
    )


@dataclass(frozen=True)
class ResolvedScope:
    """The resource a scope string names, and the delegated scopes or ``.default``."""

    resource: Application
    audience: str
    scopes: tuple[str, ...]
    is_default: bool


def resolve_scope(scope: str, directory: Directory) -> ResolvedScope:
    """Resolve ``api://app/.default`` or ``api://app/access_as_user openid ...``.

    All non-OIDC scopes must name the same resource (Entra: one resource per token).
    """
    wanted = [s for s in scope.split() if s and s not in OIDC_SCOPES]
    if not wanted:
        raise Refusal.INVALID_SCOPE.error(scope=scope)
    resource_ids = set()
    names: list[str] = []
    for item in wanted:
        resource_id, _, name = item.rpartition("/")
        if not resource_id or not name:
            raise Refusal.INVALID_SCOPE.error(scope=item)
        resource_ids.add(resource_id)
        names.append(name)
    if len(resource_ids) != 1:
        raise Refusal.INVALID_SCOPE.error(scope=scope)
    audience = resource_ids.pop()
    resource = directory.resource_for(audience)
    if resource is None or resource.deleted:
        raise Refusal.INVALID_RESOURCE.error(resource=audience)
    if not resource.enabled:
        raise Refusal.RESOURCE_DISABLED.error(resource=audience)
    is_default = names == [".default"]
    if not is_default:
        unknown = [n for n in names if n not in resource.scopes]
        if unknown or ".default" in names:
            raise Refusal.INVALID_SCOPE.error(scope=scope)
    return ResolvedScope(resource, audience, tuple(names), is_default)


@dataclass(frozen=True)
class AccessTokenSpec:
    """Everything an access token says, decided before signing."""

    tenant_id: str
    client_id: str
    audience: str
    subject_object_id: str
    is_app_only: bool
    roles: Sequence[str] = ()
    scopes: Sequence[str] = ()
    amr: Sequence[str] = ()
    acrs: Sequence[str] = ()
    cp1: bool = False
    session_id: str | None = None
    username: str | None = None
    version: int = 2
    lifetime: int = 3600
    not_before: int | None = None  # requested watermark (claims request nbf)
    extra: dict[str, Any] = field(default_factory=dict)


def wait_for_watermark(now: float, not_before: int | None) -> float:
    """Seconds the issuer must wait before ``int(now)`` reaches a requested ``nbf``.

    A watermark slightly ahead of our clock (skew between resource and issuer) is honoured by
    waiting rather than by issuing a token whose ``iat`` lies in the future, which validators
    reject. Further ahead than ``MAX_FUTURE_NBF_SECONDS`` is an ``invalid_request``.
    """
    if not_before is None or not_before <= now:
        return 0.0
    if not_before > now + MAX_FUTURE_NBF_SECONDS:
        raise Refusal.INVALID_CLAIMS.error(detail="the nbf value lies in the future")
    return not_before - now


def issued_at(now: float, not_before: int | None) -> int:
    """``iat`` honouring an ``nbf`` claims request: never earlier than the watermark (the
    token endpoint has already waited, see :func:`wait_for_watermark`)."""
    wait_for_watermark(now, not_before)  # refuses a watermark too far ahead
    return int(now) if not_before is None else max(int(now), not_before)


def access_token_claims(spec: AccessTokenSpec, *, base_url: str, now: float) -> dict[str, Any]:
    """Entra access-token claims (v2 by default; v1 uses ``sts.windows.net``-style issuer and
    ``appid`` instead of ``azp``)."""
    iat = issued_at(now, spec.not_before)
    claims: dict[str, Any] = {
        "aud": spec.audience,
        "iat": iat,
        "nbf": iat,
        "exp": iat + spec.lifetime,
        "tid": spec.tenant_id,
        "oid": spec.subject_object_id,
        "sub": spec.subject_object_id,
        "uti": uuid.uuid4().hex[:22],
        "idtyp": "app" if spec.is_app_only else "user",
        "rh": "0.dev.",
    }
    if spec.version == 1:
        claims.update(
            iss=f"{base_url}/{spec.tenant_id}/", ver="1.0", appid=spec.client_id, appidacr="1"
        )
    else:
        claims.update(
            iss=f"{base_url}/{spec.tenant_id}/v2.0", ver="2.0", azp=spec.client_id, azpacr="1"
        )
    if spec.roles:
        claims["roles"] = list(spec.roles)
    if spec.scopes:
        claims["scp"] = " ".join(spec.scopes)
    if spec.amr:
        claims["amr"] = list(spec.amr)
    if spec.acrs:
        claims["acrs"] = list(spec.acrs)
    if spec.session_id:
        claims["sid"] = spec.session_id
    if spec.username:
        claims["preferred_username"] = spec.username
        claims["upn"] = spec.username
    if spec.cp1:
        claims["xms_cc"] = ["cp1"]
        claims["xms_ssm"] = "1"
    claims.update(spec.extra)
    return claims


def id_token_claims(
    *,
    base_url: str,
    tenant_id: str,
    client_id: str,
    object_id: str,
    username: str,
    display_name: str,
    amr: Sequence[str],
    now: float,
    lifetime: int = 3600,
) -> dict[str, Any]:
    iat = int(now)
    return {
        "iss": f"{base_url}/{tenant_id}/v2.0",
        "aud": client_id,
        "iat": iat,
        "nbf": iat,
        "exp": iat + lifetime,
        "sub": object_id,
        "oid": object_id,
        "tid": tenant_id,
        "preferred_username": username,
        "name": display_name or username,
        "amr": list(amr),
        "ver": "2.0",
    }


def client_info(object_id: str, tenant_id: str) -> str:
    """The ``client_info`` MSAL asks for (``client_info=1``): base64url JSON ``uid``/``utid``."""
    raw = json.dumps({"uid": object_id, "utid": tenant_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
