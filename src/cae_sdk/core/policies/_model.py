"""Conditional Access policies as values: Microsoft Graph's ``conditionalAccessPolicy`` read
into typed members (:mod:`._parse` does the reading).

Graph reference (v1.0): ``conditionalAccessPolicy``, ``conditionalAccessConditionSet``,
``conditionalAccessUsers``, ``conditionalAccessGuestsOrExternalUsers``,
``conditionalAccessApplications``, ``conditionalAccessGrantControls``. Configured conditions
and controls outside what a resource can evaluate are kept by name in
:attr:`Policy.unsupported`, so evaluation reports the policy as undecided instead of
dropping them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "EVERY_GUEST",
    "GUEST_OR_EXTERNAL_USER_TYPES",
    "Enforcement",
    "GrantControls",
    "GuestSelection",
    "Policy",
    "PolicyState",
    "Selection",
]


class Enforcement(str, Enum):
    """A session's continuous access evaluation location enforcement, as a policy's
    ``sessionControls.continuousAccessEvaluation.mode`` sets it (see :mod:`._where`)."""

    STANDARD = "standard"
    STRICT = "strict"
    DISABLED = "disabled"
    UNKNOWN = "unknown"
    """A mode the engine does not know (Graph's enum grows): any of the others."""


class PolicyState(str, Enum):
    """A policy's ``state``: enforced, off, or report-only (evaluated, logged, never enforced)."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    REPORT_ONLY = "enabledForReportingButNotEnforced"


@dataclass(frozen=True, slots=True)
class Selection:
    """An include/exclude pair (``includeUsers``/``excludeUsers`` and the like).

    Values are lower-cased: GUIDs and Graph keywords such as ``All`` compare
    case-insensitively.
    """

    include: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()

    @property
    def configured(self) -> bool:
        return bool(self.include or self.exclude)


GUEST_OR_EXTERNAL_USER_TYPES = (
    "internalguest",
    "b2bcollaborationguest",
    "b2bcollaborationmember",
    "b2bdirectconnectuser",
    "otherexternaluser",
    "serviceprovider",
)
"""Graph ``conditionalAccessGuestOrExternalUserTypes`` (lower-cased), without ``none`` and
``unknownFutureValue``."""


@dataclass(frozen=True, slots=True)
class GuestSelection:
    """``includeGuestsOrExternalUsers`` / ``excludeGuestsOrExternalUsers``: guest or external
    user types, from all external tenants (``tenants`` None) or from the listed ones."""

    types: frozenset[str]
    tenants: frozenset[str] | None = None
    unsupported: str | None = None
    """Set when the selection names something the engine cannot read (a future tenant
    membership kind): the selection is then undecided."""


EVERY_GUEST = GuestSelection(frozenset(GUEST_OR_EXTERNAL_USER_TYPES))
"""The ``GuestsOrExternalUsers`` keyword of ``includeUsers``/``excludeUsers``: every guest or
external user type, from every tenant."""


@dataclass(frozen=True, slots=True)
class GrantControls:
    """A policy's ``grantControls``: ``operator`` (``OR``/``AND``) over its built-in controls
    and the controls no token can show."""

    operator: str = "OR"
    built_in: frozenset[str] = frozenset()
    """Lower-cased ``builtInControls``: ``block``, ``mfa``, ``compliantdevice``..."""
    others: tuple[str, ...] = ()
    """Controls no token can show: terms of use, custom factors, authentication strength."""

    @property
    def configured(self) -> bool:
        return bool(self.built_in or self.others)


@dataclass(frozen=True, slots=True)
class Policy:
    """One Conditional Access policy (Graph's ``conditionalAccessPolicy``), parsed into typed
    members by :func:`load_policies` / :func:`parse_policy`."""

    id: str
    name: str
    state: PolicyState
    users: Selection
    """``includeUsers``/``excludeUsers``: object ids and the keywords ``all``, ``none``,
    ``guestsorexternalusers``."""
    groups: Selection
    roles: Selection
    applications: Selection
    auth_contexts: frozenset[str]
    client_apps: Selection
    """Service principals (``clientApplications``); ``ServicePrincipalsInMyTenant`` is
    ``all``."""
    platforms: Selection
    locations: Selection
    user_risk_levels: frozenset[str]
    service_principal_risk_levels: frozenset[str]
    grant: GrantControls
    unsupported: tuple[str, ...] = ()
    """Configured conditions the engine does not evaluate (``conditions.signInRiskLevels``,
    ``conditions.devices``, ``conditions.applications.applicationFilter``, unknown keys...)."""
    include_guests: GuestSelection | None = None
    exclude_guests: GuestSelection | None = None
    user_actions: frozenset[str] = frozenset()
    client_app_types: frozenset[str] = frozenset()
    """Lower-cased ``clientAppTypes``; empty means not configured (``all``)."""
    sign_in_risk_levels: frozenset[str] = frozenset()
    session_controls: tuple[str, ...] = ()
    """Names of the configured session controls (:mod:`._session` says who enforces each)."""
    cae_mode: Enforcement | None = None
    """``sessionControls.continuousAccessEvaluation.mode``: strict (``strictEnforcement``) or
    disabled location enforcement for the sessions this policy applies to."""
    modified: str | None = None
    """``modifiedDateTime`` (or ``createdDateTime``) as written in the document."""
    deleted: str | None = None
    """``deletedDateTime`` (Graph beta lists soft-deleted policies with it): a deleted policy
    is not evaluated, whatever its ``state``."""

    @property
    def evaluated(self) -> bool:
        """Whether the policy is evaluated at all: not disabled, not deleted."""
        return self.state is not PolicyState.DISABLED and self.deleted is None

    @property
    def targets_workload_identities(self) -> bool:
        """A workload-identity policy: service principals selected, no users. It applies only
        when a service principal requests a token for itself (Entra docs "Conditional Access
        for workload identities")."""
        no_users = not (self.users.include - {"none"}) and not self.groups.include
        no_guests = self.include_guests is None
        return bool(self.client_apps.include) and no_users and not self.roles.include and no_guests

    @property
    def guests_included(self) -> bool:
        return self.include_guests is not None or "guestsorexternalusers" in self.users.include

    @property
    def unobservable(self) -> tuple[str, ...]:
        """Former name of :attr:`unsupported`."""
        return self.unsupported
