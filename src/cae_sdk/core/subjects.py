"""Who a revocation applies to: user, service principal, session or whole tenant.

A revocation is a watermark per subject (Microsoft Entra "Continuous access evaluation":
critical events per user, workload identity, session and tenant). Every subject lives in a
*tenant key*: the token's ``tid`` for Entra, the issuer (``iss``) for an issuer without
``tid`` (generic OpenID Connect). :meth:`TokenClaims.subject_keys
<cae_sdk.core.tokens.TokenClaims.subject_keys>` lists them for a token; writers name them with
the same constructors (``store.revoke_user(issuer, sub)`` for a generic OIDC user).

The text form is ``kind:tenant:value``; ``%`` and ``:`` in the tenant key are percent-encoded
(RFC 3986 section 2.1) so an issuer URL round-trips, and the value is everything after the
second ``:``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

__all__ = ["SubjectKey", "SubjectKind"]

_ESCAPED = re.compile("%(25|3[Aa])")


class SubjectKind(str, Enum):
    """What a revocation subject names: a user, a service principal, a session, a whole tenant,
    or a user as another issuer names it (RFC 9493 ``iss_sub``, ``email``)."""

    USER = "user"
    SERVICE_PRINCIPAL = "sp"
    SESSION = "session"
    TENANT = "tenant"
    # A user as another identity provider's Shared Signals transmitter names it (RFC 9493
    # section 3.2): the token's own (iss, sub) pair (Entra v2 sub is pairwise, not the oid) and
    # its addresses. Added last: stores pack the kind by its position in this enum.
    ISS_SUB = "iss_sub"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class SubjectKey:
    """A revocation subject. ``value`` is the oid, app id, sid, or the tenant id again."""

    kind: SubjectKind
    tenant_id: str
    value: str
    # Keys are hashed several times per request (store look-ups); Enum.__hash__ runs in Python,
    # so the hash is computed once.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.kind.value, self.tenant_id, self.value)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[SubjectKey], tuple[SubjectKind, str, str]]:
        # String hashes differ between processes: rebuild (and rehash) rather than unpickle _hash.
        return (SubjectKey, (self.kind, self.tenant_id, self.value))

    @classmethod
    def user(cls, tenant_id: str, object_id: str) -> SubjectKey:
        return cls(SubjectKind.USER, tenant_id.lower(), object_id.lower())

    @classmethod
    def service_principal(cls, tenant_id: str, app_id: str) -> SubjectKey:
        return cls(SubjectKind.SERVICE_PRINCIPAL, tenant_id.lower(), app_id.lower())

    @classmethod
    def session(cls, tenant_id: str, session_id: str) -> SubjectKey:
        # Session ids are opaque: keep their case.
        return cls(SubjectKind.SESSION, tenant_id.lower(), session_id)

    @classmethod
    def iss_sub(cls, tenant_id: str, issuer: str, subject: str) -> SubjectKey:
        """RFC 9493 section 3.2.3: the (``iss``, ``sub``) pair, both compared exactly."""
        return cls(SubjectKind.ISS_SUB, tenant_id.lower(), f"{issuer} {subject}")

    @classmethod
    def email(cls, tenant_id: str, address: str) -> SubjectKey:
        """RFC 9493 section 3.2.2: an address, lower-cased (section 3.2.2.1 canonicalization);
        a token's ``email``, ``preferred_username`` or ``upn``."""
        return cls(SubjectKind.EMAIL, tenant_id.lower(), address.strip().lower())

    @classmethod
    def tenant(cls, tenant_id: str) -> SubjectKey:
        return cls(SubjectKind.TENANT, tenant_id.lower(), tenant_id.lower())

    def __str__(self) -> str:
        return f"{self.kind.value}:{_escape(self.tenant_id)}:{self.value}"

    @classmethod
    def parse(cls, text: str) -> SubjectKey:
        """Inverse of ``str(key)``; raises ``ValueError`` on anything else."""
        kind, sep, rest = text.partition(":")
        tenant_id, sep2, value = rest.partition(":")
        if not (sep and sep2 and tenant_id and value):
            raise ValueError(f"not a subject key: {text!r}")
        return cls(SubjectKind(kind), _unescape(tenant_id), value)


def _escape(tenant_id: str) -> str:
    # Entra tenant ids (GUIDs) contain neither character: their text form is unchanged.
    return tenant_id.replace("%", "%25").replace(":", "%3A")


def _unescape(text: str) -> str:
    return _ESCAPED.sub(lambda match: "%" if match.group(1) == "25" else ":", text)
