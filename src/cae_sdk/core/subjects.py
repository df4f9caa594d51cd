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

**One subject, one key.** A revocation matches a token only when both name the subject with the
same key, so every key is canonical however it was built (a constructor, :meth:`SubjectKey.parse`
of an admin API body, a store reading its rows back): the normalisation runs in the value class
itself, not in the callers. Identifiers are NFKC-normalised (Unicode Standard Annex #15: a
full-width or compatibility form names the same characters), stripped of surrounding white
space, and compared without case; a GUID written in any of its usual forms (upper case, in
braces, without hyphens, as a ``urn:uuid:`` URN, RFC 9562 section 4) becomes its lower-case
hyphenated form, the form Entra writes in tokens; an issuer URL used as a tenant key loses a
trailing ``/``. Session ids are opaque and keep their case (a GUID among them is still
canonicalised); ``iss_sub`` pairs compare exactly (RFC 9493 section 3.2.3). Two spellings of one
subject can therefore never be two keys: a revocation written either way matches the token.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from enum import Enum

__all__ = ["SubjectKey", "SubjectKind"]

_ESCAPED = re.compile("%(25|3[Aa])")
# Entra's own form: the fast path (a token's identifiers are nearly always written so).
_CANONICAL_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# RFC 9562 section 4 and the usual spellings: any case, optional braces (both or none), hyphens
# in all four places or in none, optionally as a urn:uuid: URN (RFC 9562 section 4, RFC 4122).
_GUID_FORMS = re.compile(
    r"(?:urn:uuid:)?(\{)?([0-9a-f]{8})(-?)([0-9a-f]{4})\3([0-9a-f]{4})\3([0-9a-f]{4})\3"
    r"([0-9a-f]{12})(?(1)\})",
    re.IGNORECASE,
)


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
        # Canonical whichever way the key was built (see the module docstring): the one place
        # that decides when two spellings name one subject.
        kind = self.kind
        tenant = _tenant_key(self.tenant_id)
        if kind is SubjectKind.TENANT:
            value = tenant
        elif kind is SubjectKind.ISS_SUB:
            value = self.value  # RFC 9493 section 3.2.3: iss and sub compare exactly
        else:
            value = _identifier(self.value, kind is SubjectKind.SESSION)
        object.__setattr__(self, "tenant_id", tenant)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "_hash", hash((kind.value, tenant, value)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[SubjectKey], tuple[SubjectKind, str, str]]:
        # String hashes differ between processes: rebuild (and rehash) rather than unpickle _hash.
        return (SubjectKey, (self.kind, self.tenant_id, self.value))

    @classmethod
    def user(cls, tenant_id: str, object_id: str) -> SubjectKey:
        return cls(SubjectKind.USER, tenant_id, object_id)

    @classmethod
    def service_principal(cls, tenant_id: str, app_id: str) -> SubjectKey:
        return cls(SubjectKind.SERVICE_PRINCIPAL, tenant_id, app_id)

    @classmethod
    def session(cls, tenant_id: str, session_id: str) -> SubjectKey:
        # Session ids are opaque: they keep their case (a GUID is still canonicalised).
        return cls(SubjectKind.SESSION, tenant_id, session_id)

    @classmethod
    def iss_sub(cls, tenant_id: str, issuer: str, subject: str) -> SubjectKey:
        """RFC 9493 section 3.2.3: the (``iss``, ``sub``) pair, both compared exactly."""
        return cls(SubjectKind.ISS_SUB, tenant_id, f"{issuer} {subject}")

    @classmethod
    def email(cls, tenant_id: str, address: str) -> SubjectKey:
        """RFC 9493 section 3.2.2: an address, lower-cased (section 3.2.2.1 canonicalization);
        a token's ``email``, ``preferred_username`` or ``upn``."""
        return cls(SubjectKind.EMAIL, tenant_id, address)

    @classmethod
    def tenant(cls, tenant_id: str) -> SubjectKey:
        return cls(SubjectKind.TENANT, tenant_id, tenant_id)

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


# Identifiers repeat (one tenant, the same users and apps token after token): the canonical
# forms are memoised, bounded, so a new token's keys cost a dictionary look-up each.
@functools.lru_cache(maxsize=4096)
def _identifier(text: str, keep_case: bool = False) -> str:
    """The canonical form of one identifier (see the module docstring)."""
    if len(text) == 36 and _CANONICAL_GUID.fullmatch(text):
        return text  # already canonical: Entra's form
    canonical = unicodedata.normalize("NFKC", text).strip()
    guid = _GUID_FORMS.fullmatch(canonical)
    if guid is not None:
        return "-".join(guid.group(2, 4, 5, 6, 7)).lower()
    if not keep_case:
        # casefold, then NFKC again: folding can leave a sequence NFKC composes (idempotent).
        canonical = unicodedata.normalize("NFKC", canonical.casefold())
    # A blank identifier names nobody a token can carry (a validated token's blank identifier
    # is refused as malformed): it is kept as written, never turned into "" or an error.
    return canonical or text


@functools.lru_cache(maxsize=1024)
def _tenant_key(text: str) -> str:
    key = _identifier(text)
    # An issuer used as the tenant key (no tid): "https://idp.example/" and "https://idp.example"
    # name one issuer to every operator, so they are one tenant key.
    if "://" in key and key.endswith("/"):
        key = key.rstrip("/")
    return key


def _escape(tenant_id: str) -> str:
    # Entra tenant ids (GUIDs) contain neither character: their text form is unchanged.
    return tenant_id.replace("%", "%25").replace(":", "%3A")


def _unescape(text: str) -> str:
    return _ESCAPED.sub(lambda match: "%" if match.group(1) == "25" else ":", text)
