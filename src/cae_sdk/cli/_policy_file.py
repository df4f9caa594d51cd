"""Read Conditional Access policy and named-location files for ``cae lint`` and ``cae whatif``.

A policy file holds Graph ``conditionalAccessPolicy`` JSON: one policy object, a list of them,
or a Graph list response ``{"value": [...]}`` as exported from
``/identity/conditionalAccess/policies``. Files are read as bytes (never more than the
library's :data:`MAX_DOCUMENT_BYTES`) and handed to the library's own loaders, so the command
line accepts exactly what the resource accepts. :class:`PolicyView` adds what only the linter
compares, read from the parsed :class:`Policy` (never from the raw JSON again). Malformed files
raise :class:`ConfigurationError` naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..core.errors import ConfigurationError
from ..core.locations import AnyNamedLocation, load_named_locations
from ..core.policies import (
    EVERY_GUEST,
    MAX_DOCUMENT_BYTES,
    OFFICE365_APPLICATIONS,
    GuestSelection,
    Policy,
    PolicyState,
    Selection,
    load_policies,
)

__all__ = [
    "REPORT_ONLY",
    "PolicyView",
    "Scope",
    "read_document",
    "read_locations_file",
    "read_policies",
    "read_policy_file",
]

REPORT_ONLY = PolicyState.REPORT_ONLY.value


def read_document(path: str | Path, what: str) -> bytes:
    """The bytes of ``path``: at most :data:`MAX_DOCUMENT_BYTES`, never more read."""
    file = Path(path)
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise ConfigurationError(f"{file}: cannot read {what} ({exc.strerror})") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ConfigurationError(
            f"{file}: {what} is larger than the limit of {MAX_DOCUMENT_BYTES} bytes"
        )
    return data


def read_policy_file(path: str | Path) -> list[Policy]:
    """Every policy in a file, read by the resource's own loader."""
    data = read_document(path, "policy file")
    try:
        return load_policies(data)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{path}: {exc}") from None


def read_locations_file(path: str | Path) -> tuple[AnyNamedLocation, ...]:
    """Every named location (IP ranges and countries) in a Graph ``namedLocation`` file."""
    data = read_document(path, "named-location file")
    try:
        return load_named_locations(data)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{path}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Scope:
    """One condition as include / exclude sets (lower-cased); ``everything`` means ``All``."""

    include: frozenset[str]
    exclude: frozenset[str] = frozenset()

    @property
    def everything(self) -> bool:
        return "all" in self.include

    @property
    def members(self) -> frozenset[str]:
        """The explicitly included values that are not excluded (meaningless for ``All``)."""
        return self.include - self.exclude

    def intersects(self, other: Scope) -> bool:
        if self.everything and other.everything:
            return True
        if self.everything:
            return bool(other.members - self.exclude)
        if other.everything:
            return bool(self.members - other.exclude)
        return bool(self.members & other.members)

    def covers(self, other: Scope) -> bool:
        """Whether every value ``other`` matches is matched by ``self`` too (conservative)."""
        if self.everything:
            if other.everything:
                return self.exclude <= other.exclude
            return not (other.members & self.exclude)
        if other.everything:
            return False
        return other.members <= self.members


ANY = Scope(frozenset({"all"}))
_OFFICE365 = frozenset(OFFICE365_APPLICATIONS)


@dataclass(frozen=True, slots=True)
class PolicyView:
    """The parts of a ``conditionalAccessPolicy`` that lint rules compare."""

    id: str
    name: str
    state: str
    principals: Scope
    """``user`` or ``workload``: a workload-identity policy applies only to a service
    principal's own tokens, a user policy never does, so the two never meet."""
    users: Scope
    applications: Scope
    platforms: Scope
    locations: Scope
    client_app_types: Scope
    risk_levels: Scope
    other_conditions: Scope
    """Configured conditions the engine does not evaluate: each narrows the policy."""
    grant_operator: str
    grant_controls: frozenset[str]
    """Built-in controls, plus ``authenticationstrength`` when the policy requires one."""
    has_session_controls: bool
    modified: datetime | None

    @property
    def blocks(self) -> bool:
        return "block" in self.grant_controls

    @property
    def enforced(self) -> bool:
        return self.state == "enabled"

    def scopes(self) -> tuple[Scope, ...]:
        return (
            self.principals,
            self.users,
            self.applications,
            self.platforms,
            self.locations,
            self.client_app_types,
            self.risk_levels,
            self.other_conditions,
        )


def _scope(
    *selections: Selection,
    include: frozenset[str] = frozenset(),
    exclude: frozenset[str] = frozenset(),
) -> Scope:
    included = frozenset().union(*(s.include for s in selections)) | include
    excluded = frozenset().union(*(s.exclude for s in selections)) | exclude
    return Scope(included, excluded)


def _guest_members(selection: GuestSelection | None) -> frozenset[str]:
    """Guest selections as members: one per type and tenant scope (``@all`` or a tenant)."""
    if selection is None:
        return frozenset()
    tenants = ("all",) if selection.tenants is None else tuple(sorted(selection.tenants))
    return frozenset(f"guest:{t}@{tenant}" for t in selection.types for tenant in tenants)


def _every_guest(values: frozenset[str]) -> frozenset[str]:
    if "guestsorexternalusers" not in values:
        return frozenset()
    return _guest_members(EVERY_GUEST)


def _with_suite(values: frozenset[str]) -> frozenset[str]:
    return values | _OFFICE365 if "office365" in values else values


def _users(policy: Policy) -> Scope:
    if policy.targets_workload_identities:
        return _scope(policy.client_apps)
    scope = _scope(
        policy.users,
        policy.groups,
        policy.roles,
        include=_guest_members(policy.include_guests) | _every_guest(policy.users.include),
        exclude=_guest_members(policy.exclude_guests) | _every_guest(policy.users.exclude),
    )
    return Scope(scope.include - {"none", "guestsorexternalusers"}, scope.exclude)


def _applications(policy: Policy) -> Scope:
    return Scope(
        _with_suite(policy.applications.include)
        | {f"authcontext:{c}" for c in policy.auth_contexts}
        | {f"useraction:{a}" for a in policy.user_actions},
        _with_suite(policy.applications.exclude),
    )


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _view(policy: Policy) -> PolicyView:
    client_apps = policy.client_app_types
    risks = policy.user_risk_levels | policy.service_principal_risk_levels
    risks |= policy.sign_in_risk_levels
    controls = policy.grant.built_in
    if "authenticationStrength" in policy.grant.others:
        controls |= {"authenticationstrength"}
    workload = policy.targets_workload_identities
    return PolicyView(
        id=policy.id,
        name=policy.name,
        state="deleted" if policy.deleted is not None else policy.state.value,
        principals=Scope(frozenset({"workload" if workload else "user"})),
        users=_users(policy),
        applications=_applications(policy),
        platforms=_scope(policy.platforms) if policy.platforms.configured else ANY,
        locations=_scope(policy.locations) if policy.locations.configured else ANY,
        client_app_types=Scope(client_apps) if client_apps and "all" not in client_apps else ANY,
        risk_levels=Scope(risks) if risks else ANY,
        other_conditions=Scope(frozenset(policy.unsupported)) if policy.unsupported else ANY,
        grant_operator=policy.grant.operator,
        grant_controls=controls,
        has_session_controls=bool(policy.session_controls),
        modified=_timestamp(policy.modified),
    )


def read_policies(path: str | Path) -> list[PolicyView]:
    """Load and read every policy in a file with the resource's policy parser."""
    return [_view(policy) for policy in read_policy_file(path)]
