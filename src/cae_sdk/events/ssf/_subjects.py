"""Subject resolution: which revocation subjects an RFC 9493 subject identifier names.

One step, one table (``docs/events.md``, "Subjects"), configured per transmitter:

==================  =========================================================================
format              resolves to
==================  =========================================================================
``opaque``          what the event type's subject is (CAEP 1.0 section 3.1: a session for
                    ``session-revoked``), else ``opaque_kind`` (a user object id by default);
                    inside a ``complex`` subject, what its member name says
``iss_sub``         the token's own (``iss``, ``sub``) pair (RFC 9493 section 3.2.3: Entra v2
                    ``sub`` is pairwise, never the ``oid``), or a directory lookup
                    (``object_id_for_subject``) to a user object id
``email``           with ``match_email_claims``: the token's ``email``, ``preferred_username``
                    or ``upn``; with ``object_id_for_email``: that user object id; else nothing
``phone_number``    ``object_id_for_email`` (a directory lookup), else nothing
``account``         ``acct:<oid>@<tenant id>``, else the address ``user@host`` as an email
``aliases``         every identifier that resolves (they all name the same subject);
                    if one names a session, only the session
``complex``         ONE principal (SSF 1.0 section 3.3.1): its ``session``, else its ``user``,
                    else its ``application``; ``tenant`` only scopes them. Members the
                    receiver cannot match (``device``, ``group``, ``org_unit``, ...) narrow
                    nothing and widen nothing: with no principal left the event is ignored
                    (never applied to the tenant); only a complex subject made of a ``tenant``
                    alone names the tenant
others              nothing (``did``, ``uri``, ``jwt_id``, ``saml_assertion_id``, ...)
==================  =========================================================================

Pure: no I/O; directory lookups are whatever mappings or callables the operator passes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...core.secevents import CAEP
from ...core.subjects import SubjectKey, SubjectKind

__all__ = ["DirectorySubjectResolver", "Resolution", "SubjectResolver"]

Lookup = Mapping[str, str] | Callable[[str], str | None]
PairLookup = Mapping[tuple[str, str], str] | Callable[[str, str], str | None]

# Microsoft identity platform access tokens: v1 issuer https://sts.windows.net/{tid}/, v2
# issuer https://login.microsoftonline.com/{tid}/v2.0 ("Access tokens", claims reference).
_ENTRA_ISSUER = re.compile(
    r"^https://(?:sts\.windows\.net|login\.microsoftonline\.com)/"
    r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})/(?:v2\.0)?$"
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_MAX_ALIASES = 16  # RFC 9493 section 3.2.8 sets no limit; a real subject has a handful
_MAX_VALUE = 1024

# CAEP 1.0 section 3.1: session-revoked's subject is the session ("the session identified by
# the subject"); an opaque id there is a session id, not a user.
DEFAULT_OPAQUE_KINDS: Mapping[str, SubjectKind] = {CAEP.SESSION_REVOKED: SubjectKind.SESSION}
_PRINCIPAL_KINDS = {
    "session": SubjectKind.SESSION,
    "user": SubjectKind.USER,
    "application": SubjectKind.SERVICE_PRINCIPAL,
}
_SCOPING = frozenset({"format", "tenant"})


@dataclass(frozen=True, slots=True)
class Resolution:
    """The subjects an identifier names, or why it names none."""

    keys: tuple[SubjectKey, ...] = ()
    reason: str | None = None
    unprocessed: frozenset[str] = frozenset()
    """Members of a complex subject the receiver could not process (SSF 1.0 section 3.6)."""


class SubjectResolver(Protocol):
    """Turns an event's subject identifier (RFC 9493) into the revocation subjects it names."""

    def resolve(
        self, subject: Mapping[str, Any], *, event_type: str = "", issuer: str = ""
    ) -> Resolution:
        """The revocation subjects ``subject`` names for an event of ``event_type`` from the
        transmitter ``issuer``; never a wider subject than the identifier names."""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= _MAX_VALUE else None


def _lookup(mapping: Lookup | None, key: str) -> str | None:
    if mapping is None:
        return None
    found = mapping(key) if callable(mapping) else (mapping.get(key) or mapping.get(key.lower()))
    return found if isinstance(found, str) and found else None


def entra_tenant(issuer: str) -> str | None:
    """The tenant id in a Microsoft identity platform issuer, or None."""
    match = _ENTRA_ISSUER.match(issuer)
    return match.group(1).lower() if match else None


@dataclass(frozen=True, slots=True)
class DirectorySubjectResolver:
    """Resolve RFC 9493 subject identifiers to the subject keys tokens are checked against.

    ``tenant_id``: the tenant of subjects that name none (else the tenant of the SET issuer,
    see ``tenant_for_issuer``). ``tenant_for_issuer``: issuer -> tenant id, for ``iss_sub``
    subjects and the SET issuer (an unknown issuer resolves to nothing); without it Entra
    issuers name their tenant and others get ``tenant_id``. ``match_email_claims``: email
    subjects match the token's ``email`` / ``preferred_username`` / ``upn`` (off unless the
    operator turns it on). ``object_id_for_email`` / ``object_id_for_subject``: directory
    lookups to a user object id. ``match_iss_sub_claims``: ``iss_sub`` subjects match the
    token's (``iss``, ``sub``). ``opaque_kind`` / ``opaque_kinds``: what a bare opaque id is,
    by event type.
    """

    tenant_id: str | None = None
    tenant_for_issuer: Lookup | None = None
    object_id_for_email: Lookup | None = None
    object_id_for_subject: PairLookup | None = None
    match_email_claims: bool = False
    match_iss_sub_claims: bool = True
    opaque_kind: SubjectKind = SubjectKind.USER
    opaque_kinds: Mapping[str, SubjectKind] = field(
        default_factory=lambda: dict(DEFAULT_OPAQUE_KINDS)
    )

    def resolve(
        self, subject: Mapping[str, Any], *, event_type: str = "", issuer: str = ""
    ) -> Resolution:
        tenant = self.tenant_id or (self._tenant_for(issuer) if issuer else None)
        if subject.get("format") == "complex":
            return self._complex(subject, tenant)
        # A bare opaque id is what the event type is about; addresses and (iss, sub) pairs name
        # people, whatever the event type.
        kind = self.opaque_kinds.get(event_type, self.opaque_kind)
        keys, reason = self._simple(subject, kind, tenant, aliases=True, person=True)
        return Resolution(keys, None if keys else reason)

    def _tenant_for(self, issuer: str) -> str | None:
        if self.tenant_for_issuer is None:
            return entra_tenant(issuer) or self.tenant_id
        return _lookup(self.tenant_for_issuer, issuer)

    def _simple(
        self,
        subject: Any,
        kind: SubjectKind,
        tenant: str | None,
        *,
        aliases: bool,
        person: bool = False,
    ) -> tuple[tuple[SubjectKey, ...], str]:
        """Keys for a simple identifier naming a ``kind``; with ``person`` the formats that
        name people (addresses, ``iss_sub``, ``account``) name a user."""
        if type(subject) is not dict and not isinstance(subject, Mapping):
            return (), "subject identifier is not an object"
        fmt = subject.get("format")
        if fmt == "aliases" and aliases:
            return self._aliases(subject, kind, tenant, person)
        if person and fmt != "opaque":
            kind = SubjectKind.USER
        if fmt == "opaque":
            value = _text(subject.get("id"))
            if value is None or tenant is None:
                return (), "opaque subject without an id or a tenant"
            return (_key(kind, tenant, value),), ""
        if fmt == "iss_sub":
            return self._iss_sub(subject, kind, tenant)
        if fmt in ("email", "phone_number"):
            return self._address(_text(subject.get(fmt)), fmt, kind, tenant)
        if fmt == "account":
            return self._account(_text(subject.get("uri")), kind, tenant)
        return (), f"subject format {fmt!r} names nothing a token can be matched to"

    def _aliases(
        self, subject: Mapping[str, Any], kind: SubjectKind, tenant: str | None, person: bool
    ) -> tuple[tuple[SubjectKey, ...], str]:
        # RFC 9493 section 3.2.8: every identifier names the same subject, so each one that
        # resolves is that subject under another name; aliases do not nest.
        identifiers = subject.get("identifiers")
        if not isinstance(identifiers, list) or not identifiers:
            return (), "aliases subject without identifiers"
        keys: list[SubjectKey] = []
        for alias in identifiers[:_MAX_ALIASES]:
            found, _ = self._simple(alias, kind, tenant, aliases=False, person=person)
            keys.extend(k for k in found if k not in keys)
        if any(k.kind is SubjectKind.SESSION for k in keys):
            # One entity: if an alias names it as a session, a user-wide key would be wider.
            keys = [k for k in keys if k.kind is SubjectKind.SESSION]
        return tuple(keys), "no alias resolves to a known subject"

    def _iss_sub(
        self, subject: Mapping[str, Any], kind: SubjectKind, tenant: str | None
    ) -> tuple[tuple[SubjectKey, ...], str]:
        issuer, sub = _text(subject.get("iss")), _text(subject.get("sub"))
        if issuer is None or sub is None:
            return (), "iss_sub subject without iss and sub"
        if kind is not SubjectKind.USER:
            return (), f"an iss_sub {kind.value} cannot be matched to tokens"
        # The issuer names the tenant: through the operator's mapping (an unknown issuer
        # resolves to nothing), else an Entra issuer's own tenant, else the context's.
        if self.tenant_for_issuer is not None:
            tenant = _lookup(self.tenant_for_issuer, issuer)
        else:
            tenant = entra_tenant(issuer) or tenant
        if tenant is None:
            return (), "iss_sub issuer is not a known tenant"
        keys: list[SubjectKey] = []
        object_id = _pair_lookup(self.object_id_for_subject, issuer, sub)
        if object_id is not None:
            keys.append(SubjectKey.user(tenant, object_id))
        if self.match_iss_sub_claims:
            keys.append(SubjectKey.iss_sub(tenant, issuer, sub))
        return tuple(keys), "iss_sub subjects are not matched"

    def _address(
        self, address: str | None, fmt: str, kind: SubjectKind, tenant: str | None
    ) -> tuple[tuple[SubjectKey, ...], str]:
        if address is None:
            return (), f"{fmt} subject without a value"
        if kind is not SubjectKind.USER or tenant is None:
            return (), f"{fmt} subject without a tenant, or not naming a user"
        keys: list[SubjectKey] = []
        object_id = _lookup(self.object_id_for_email, address)
        if object_id is not None:
            keys.append(SubjectKey.user(tenant, object_id))
        if fmt == "email" and self.match_email_claims and "@" in address:
            keys.append(SubjectKey.email(tenant, address))
        return tuple(keys), f"{fmt} subjects are not matched (see match_email_claims)"

    def _account(
        self, uri: str | None, kind: SubjectKind, tenant: str | None
    ) -> tuple[tuple[SubjectKey, ...], str]:
        # RFC 9493 section 3.2.1: an "acct:" URI (RFC 7565). acct:<oid>@<tenant id> names an
        # Entra user; any other acct:user@host is that address.
        if uri is None or not uri.startswith("acct:") or "@" not in uri:
            return (), "account subject without an acct: URI"
        local, _, host = uri[5:].rpartition("@")
        if _GUID.match(local) and _GUID.match(host) and kind is SubjectKind.USER:
            return (SubjectKey.user(host, local),), ""
        return self._address(f"{local}@{host}", "email", kind, tenant)

    def _complex(self, subject: Mapping[str, Any], tenant: str | None) -> Resolution:
        # SSF 1.0 section 3.3.1: all members describe ONE principal. The narrowest principal the
        # receiver can match wins; a member it cannot match never widens the event.
        unprocessed: list[str] = []
        if "tenant" in subject:
            named = _tenant_value(subject["tenant"])
            if named is None:
                unprocessed.append("tenant")
            else:
                tenant = named
        resolved: dict[str, tuple[SubjectKey, ...]] = {}
        for name in subject:
            kind = _PRINCIPAL_KINDS.get(name)
            if kind is not None:
                keys, _ = self._simple(subject[name], kind, tenant, aliases=True)
                if keys:
                    resolved[name] = keys
                    continue
            if name not in _SCOPING:
                unprocessed.append(name)
        frozen = frozenset(unprocessed)
        for name in ("session", "user"):
            if name in resolved:
                return Resolution(resolved[name], unprocessed=frozen)
        # An application qualifies a user ("this user in this app"): it is the principal only
        # when no user is named, else revoking the whole app would hit another principal.
        if "application" in resolved and "user" not in subject:
            return Resolution(resolved["application"], unprocessed=frozen)
        if len(subject) == 2 and tenant is not None and not frozen and "tenant" in subject:
            return Resolution((SubjectKey.tenant(tenant),))  # the tenant alone is the principal
        missing = ", ".join(sorted(frozen)) or "no member"
        return Resolution(
            (), f"complex subject names no principal the API can match ({missing})", frozen
        )


def _tenant_value(member: Any) -> str | None:
    if type(member) is not dict and not isinstance(member, Mapping):
        return None
    value = member.get("id") if member.get("format") == "opaque" else None
    return _text(value)


def _pair_lookup(mapping: PairLookup | None, issuer: str, sub: str) -> str | None:
    if mapping is None:
        return None
    found = mapping(issuer, sub) if callable(mapping) else mapping.get((issuer, sub))
    return found if isinstance(found, str) and found else None


def _key(kind: SubjectKind, tenant: str, value: str) -> SubjectKey:
    if kind is SubjectKind.SESSION:
        return SubjectKey.session(tenant, value)
    if kind is SubjectKind.SERVICE_PRINCIPAL:
        return SubjectKey.service_principal(tenant, value)
    if kind is SubjectKind.TENANT:
        return SubjectKey.tenant(tenant)
    return SubjectKey.user(tenant, value)
