"""Read-only views of access-token claims, and an unverified decoder for display.

Nothing here verifies a signature: :class:`TokenClaims` wraps claims that a validator already
verified, and :func:`decode_unverified` is for tools that explain a token (``cae decode``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from ._jwt import numeric_date_or_none, whole_seconds
from .claims import has_cp1
from .errors import TokenFormatError
from .subjects import SubjectKey

__all__ = ["TokenClaims", "decode_unverified"]

MAX_TOKEN_LENGTH = 16 * 1024


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _identifier(raw: Mapping[str, Any], name: str) -> str | None:
    """An identifier claim that names a revocation subject: absent, or a string that is not
    blank (white space only would name nobody a revocation can be written for)."""
    if name not in raw:
        return None
    value = raw[name]
    if isinstance(value, str) and value.strip():
        return value
    raise TokenFormatError(f"claim {name!r} is not a non-empty string")


def _seconds(value: Any) -> int | None:
    # The one NumericDate reader (cae_sdk.core._jwt), floored to whole seconds: fractions are
    # allowed (RFC 7519 section 2) and compare exactly against whole-second watermarks.
    return whole_seconds(numeric_date_or_none(value))


def _str_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, (list, tuple)):
        return tuple(v for v in value if isinstance(v, str))
    return ()


class TokenClaims:
    """Entra (and generic OIDC) access-token claims with the accessors CAE decisions need.

    v1 tokens name the client ``appid``, v2 tokens ``azp``; both are read. ``is_app_only`` follows
    ``idtyp`` when present, else the absence of ``scp``.
    """

    __slots__ = ("_allowed_at", "_subject_keys", "raw")

    def __init__(self, claims: Mapping[str, Any]) -> None:
        self.raw: Mapping[str, Any] = claims
        self._subject_keys: tuple[SubjectKey, ...] | None = None
        self._allowed_at: tuple[int, int] | None = None
        """The resource's memo (``cae_sdk.resource``): the (store generation, settings
        revision) at which revocation and risk last allowed this token."""

    def get(self, name: str, default: Any = None) -> Any:
        return self.raw.get(name, default)

    @property
    def issuer(self) -> str | None:
        return _str_or_none(self.raw.get("iss"))

    @property
    def tenant_id(self) -> str | None:
        return _str_or_none(self.raw.get("tid"))

    @property
    def object_id(self) -> str | None:
        return _str_or_none(self.raw.get("oid"))

    @property
    def subject(self) -> str | None:
        return _str_or_none(self.raw.get("sub"))

    @property
    def app_id(self) -> str | None:
        return _str_or_none(self.raw.get("azp")) or _str_or_none(self.raw.get("appid"))

    @property
    def session_id(self) -> str | None:
        return _str_or_none(self.raw.get("sid"))

    # NumericDates in whole seconds (floored), None when absent or not a NumericDate. A validated
    # token never holds a malformed one: the validator refuses it first.
    @property
    def issued_at(self) -> int | None:
        return _seconds(self.raw.get("iat"))

    @property
    def not_before(self) -> int | None:
        return _seconds(self.raw.get("nbf"))

    @property
    def expires_at(self) -> int | None:
        return _seconds(self.raw.get("exp"))

    @property
    def scopes(self) -> tuple[str, ...]:
        return _str_tuple(self.raw.get("scp"))

    @property
    def roles(self) -> tuple[str, ...]:
        return _str_tuple(self.raw.get("roles"))

    @property
    def amr(self) -> tuple[str, ...]:
        return _str_tuple(self.raw.get("amr"))

    @property
    def acrs(self) -> tuple[str, ...]:
        return _str_tuple(self.raw.get("acrs"))

    @property
    def groups(self) -> tuple[str, ...]:
        return _str_tuple(self.raw.get("groups"))

    @property
    def ip_address(self) -> str | None:
        return _str_or_none(self.raw.get("ipaddr"))

    @property
    def capabilities(self) -> tuple[str, ...]:
        return _str_tuple(self.raw.get("xms_cc"))

    @property
    def cae_capable(self) -> bool:
        """Whether the client announced ``cp1`` (Microsoft identity platform, "Claims
        challenges, claims requests and client capabilities")."""
        return has_cp1(self.raw.get("xms_cc"))

    @property
    def is_app_only(self) -> bool:
        idtyp = self.raw.get("idtyp")
        if isinstance(idtyp, str):
            return idtyp.lower() == "app"
        return "scp" not in self.raw

    def subject_keys(self) -> tuple[SubjectKey, ...]:
        """Every revocation subject this token belongs to (see :mod:`cae_sdk.core.subjects`).

        The tenant key is ``tid`` when the token has one (Entra v1 and v2), else the issuer
        (any other OpenID Connect issuer). Under it:

        * the tenant itself;
        * ``user(tenant, oid)`` and ``sp(tenant, oid)``, whatever the token's kind (an object
          id names one user or service principal, so the keys cannot depend on telling
          app-only and delegated tokens apart);
        * an app-only token: ``sp(tenant, azp / appid / client_id)``;
        * without ``tid`` also ``user(tenant, sub)``, app-only or not (OpenID Connect Core 1.0
          section 2: ``sub`` names the user at its issuer; RFC 9068 tokens carry ``scope``, not
          ``scp``, so user and app-only tokens cannot always be told apart there);
        * ``session(tenant, sid)``;
        * the names another identity provider's Shared Signals may use for the same user
          (``iss_sub`` and ``email`` subjects, see ``_named_by_other_issuers``).

        A token without ``tid`` and without ``iss`` belongs to no subject (no validator accepts
        it). Raises :class:`TokenFormatError` when ``tid`` or another identifier read here is
        present but not a non-empty string: a subject that cannot be named must refuse the
        token, never leave it unrevocable.
        """
        if self._subject_keys is None:
            self._subject_keys = self._derive_subject_keys()
        return self._subject_keys

    def _derive_subject_keys(self) -> tuple[SubjectKey, ...]:
        raw = self.raw
        tid = _identifier(raw, "tid")
        tenant = tid if tid is not None else _str_or_none(raw.get("iss"))
        if tenant is None:
            return ()
        keys = [SubjectKey.tenant(tenant)]
        oid = _identifier(raw, "oid")
        sub = _identifier(raw, "sub") if tid is None else None
        if oid is not None:
            # An object id names one directory object of the tenant, a user or a service
            # principal (Microsoft Graph, directoryObject: ids are unique across types), so it is
            # keyed as both: the keys never depend on whether the token reads as app-only
            # (``idtyp`` is optional, ``scp`` absent from RFC 9068 tokens, ID tokens), and a
            # principal revoked under either kind is refused either way.
            keys.append(SubjectKey.user(tenant, oid))
            keys.append(SubjectKey.service_principal(tenant, oid))
        if self.is_app_only:
            # The client application is the principal of an app-only token only: revoking an
            # app does not end the delegated tokens its users hold.
            for name in ("azp", "appid", "client_id"):
                app_id = _identifier(raw, name)
                if app_id is not None:
                    keys.append(SubjectKey.service_principal(tenant, app_id))
        if sub is not None:
            keys.append(SubjectKey.user(tenant, sub))
        sid = _identifier(raw, "sid")
        if sid is not None:
            keys.append(SubjectKey.session(tenant, sid))
        return tuple(dict.fromkeys(keys)) + _named_by_other_issuers(self, tenant)

    def __repr__(self) -> str:
        return f"TokenClaims(oid={self.object_id!r}, tid={self.tenant_id!r}, azp={self.app_id!r})"


def _b64url_json(segment: str, what: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise TokenFormatError(f"token {what} is not base64url-encoded JSON") from None
    if not isinstance(data, dict):
        raise TokenFormatError(f"token {what} is not a JSON object")
    return data


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a compact JWS and decode header and payload WITHOUT verifying anything.

    For display and diagnostics only. Raises :class:`TokenFormatError`.
    """
    if not isinstance(token, str) or not token:
        raise TokenFormatError("token is empty")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenFormatError("token is too long")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise TokenFormatError(f"token has {len(parts)} parts; a JWS has 3")
    return _b64url_json(parts[0], "header"), _b64url_json(parts[1], "payload")


def _named_by_other_issuers(claims: TokenClaims, tenant: str) -> tuple[SubjectKey, ...]:
    """The subjects another identity provider's Shared Signals can name this token's user by
    (RFC 9493 section 3.2): its (``iss``, ``sub``) pair and the addresses in ``email``,
    ``preferred_username`` and ``upn``, under the token's tenant key (``tid``, else the issuer).
    They only match watermarks a receiver recorded for them. The addresses are read whatever the
    token's kind: RFC 9068 user tokens carry ``scope``, not ``scp``, and read as app-only."""
    keys: list[SubjectKey] = []
    if claims.issuer and claims.subject:
        keys.append(SubjectKey.iss_sub(tenant, claims.issuer, claims.subject))
    for name in ("email", "preferred_username", "upn"):
        value = claims.raw.get(name)
        if isinstance(value, str) and "@" in value:
            keys.append(SubjectKey.email(tenant, value))
    return tuple(dict.fromkeys(keys))
