"""The emulated directory: tenants, applications with their service principals, users, managed
identities, named locations and Conditional Access policies.

Every change that matters for CAE is appended to a change log (read by the Graph delta surface)
and announced to listeners as a :class:`SecurityAction` (turned into Shared Signals events).
Methods take ``now`` (epoch seconds) instead of reading a clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Application",
    "CertificateCredential",
    "ConditionalAccessPolicy",
    "Directory",
    "DirectoryChange",
    "FederatedCredential",
    "ManagedIdentity",
    "NamedLocationEntry",
    "RiskLevel",
    "SecurityAction",
    "User",
]

RiskLevel = Literal["none", "low", "medium", "high"]
RISK_LEVELS: tuple[str, ...] = ("none", "low", "medium", "high")
ObjectKind = Literal["user", "servicePrincipal"]


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class CertificateCredential:
    thumbprint_sha1: str
    thumbprint_sha256: str
    certificate_pem: str


@dataclass(frozen=True)
class FederatedCredential:
    """A federated identity credential (issuer + subject + audiences), AKS workload identity
    style."""

    issuer: str
    subject: str
    audiences: tuple[str, ...] = ("api://AzureADTokenExchange",)
    name: str = "federated"


@dataclass
class Application:
    """An app registration together with its service principal in the home tenant."""

    app_id: str
    tenant_id: str
    display_name: str
    secrets: list[str] = field(default_factory=list, repr=False)
    certificates: list[CertificateCredential] = field(default_factory=list)
    federated_credentials: list[FederatedCredential] = field(default_factory=list)
    app_roles: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    identifier_uris: list[str] = field(default_factory=list)
    optional_claims: list[str] = field(default_factory=lambda: ["xms_cc"])
    # Roles this app holds on resource apps: resource app_id -> role values.
    granted_roles: dict[str, list[str]] = field(default_factory=dict)
    is_public_client: bool = False
    access_token_version: int = 2  # accessTokenAcceptedVersion of a resource app (1 or 2)
    service_principal_id: str = field(default_factory=new_id)
    enabled: bool = True
    deleted: bool = False
    risk_level: str = "none"
    risk_updated_at: float = 0.0
    is_managed_identity: bool = False

    def graph_view(self) -> dict[str, Any]:
        return {
            "id": self.service_principal_id,
            "appId": self.app_id,
            "displayName": self.display_name,
            "accountEnabled": self.enabled,
            "servicePrincipalType": "ManagedIdentity"
            if self.is_managed_identity
            else "Application",
            "appOwnerOrganizationId": self.tenant_id,
        }


@dataclass
class User:
    object_id: str
    tenant_id: str
    username: str
    password: str = field(repr=False)
    display_name: str = ""
    enabled: bool = True
    deleted: bool = False
    mfa_registered: bool = True
    risk_level: str = "none"
    risk_updated_at: float = 0.0
    sessions_valid_from: float = 0.0
    last_password_change: float = 0.0

    def graph_view(self, iso: Callable[[float], str | None]) -> dict[str, Any]:
        return {
            "id": self.object_id,
            "userPrincipalName": self.username,
            "mail": self.username,
            "displayName": self.display_name or self.username,
            "accountEnabled": self.enabled,
            "signInSessionsValidFromDateTime": iso(self.sessions_valid_from),
            "lastPasswordChangeDateTime": iso(self.last_password_change),
        }


@dataclass
class ManagedIdentity:
    """A user-assigned managed identity: a service principal without credentials."""

    client_id: str
    object_id: str
    tenant_id: str
    resource_id: str


@dataclass
class NamedLocationEntry:
    id: str
    display_name: str
    ip_ranges: list[str]
    is_trusted: bool = False


@dataclass
class ConditionalAccessPolicy:
    """A small subset of Conditional Access: who and what it covers, and block or MFA."""

    id: str
    display_name: str
    state: str = "enabled"  # enabled | disabled | enabledForReportingButNotEnforced
    include_users: list[str] = field(default_factory=lambda: ["All"])
    include_applications: list[str] = field(default_factory=lambda: ["All"])
    grant: str = "mfa"  # "mfa" or "block"
    min_user_risk: str | None = None  # apply only when the user risk is at least this

    def graph_view(self) -> dict[str, Any]:
        risk = [r for r in RISK_LEVELS[1:] if self.covers_risk(r)] if self.min_user_risk else []
        return {
            "id": self.id,
            "displayName": self.display_name,
            "state": self.state,
            "conditions": {
                "users": {"includeUsers": self.include_users},
                "applications": {"includeApplications": self.include_applications},
                "userRiskLevels": risk,
            },
            "grantControls": {"operator": "OR", "builtInControls": [self.grant]},
        }

    def covers_risk(self, level: str) -> bool:
        """Whether a user at risk ``level`` falls under this policy's user risk condition."""
        if self.min_user_risk is None:
            return True
        return RISK_LEVELS.index(level) >= RISK_LEVELS.index(self.min_user_risk)


@dataclass(frozen=True)
class DirectoryChange:
    """One entry of the change log behind Graph delta queries."""

    seq: int
    kind: ObjectKind
    object_id: str
    removed: bool = False


@dataclass(frozen=True)
class SecurityAction:
    """Something happened that a relying party should hear about (becomes one SET).

    ``action`` is one of ``sessions-revoked``, ``password-reset``, ``mfa-registered``,
    ``mfa-removed``, ``disabled``, ``enabled``, ``deleted``, ``risk-changed``;
    ``subject_type`` is ``user`` or ``application``.
    """

    action: str
    subject_type: Literal["user", "application"]
    tenant_id: str
    object_id: str
    at: float
    app_id: str | None = None
    email: str | None = None
    risk_level: str | None = None
    previous_risk_level: str | None = None


class Directory:
    """In-memory directory. Not thread-safe: all mutations run on the server's event loop."""

    def __init__(self) -> None:
        self.tenants: dict[str, str] = {}  # tenant id -> display name
        self.applications: dict[str, Application] = {}  # by app id
        self.users: dict[str, User] = {}  # by object id
        self.managed_identities: dict[str, ManagedIdentity] = {}  # by client id
        self.named_locations: dict[str, NamedLocationEntry] = {}
        self.policies: dict[str, ConditionalAccessPolicy] = {}
        self.changes: list[DirectoryChange] = []
        self._listeners: list[Callable[[SecurityAction], None]] = []

    # -- reads -------------------------------------------------------------------------------
    def application(self, tenant_id: str, app_id: str) -> Application | None:
        app = self.applications.get(app_id.lower())
        return app if app is not None and app.tenant_id == tenant_id else None

    def resource_for(self, identifier: str) -> Application | None:
        """The resource app named by an app id URI (``api://...``), an app id, or a URL prefix."""
        wanted = identifier.rstrip("/").lower()
        for app in self.applications.values():
            if wanted == app.app_id or wanted in (
                u.rstrip("/").lower() for u in app.identifier_uris
            ):
                return app
        return None

    def user_by_name(self, tenant_id: str, username: str) -> User | None:
        for user in self.users.values():
            if user.tenant_id == tenant_id and user.username.lower() == username.lower():
                return user
        return None

    def managed_identity(self, key: str) -> ManagedIdentity | None:
        key = key.lower()
        for mi in self.managed_identities.values():
            if key in (mi.client_id, mi.object_id, mi.resource_id.lower()):
                return mi
        return None

    # -- listeners and log ---------------------------------------------------------------------
    def subscribe(self, listener: Callable[[SecurityAction], None]) -> None:
        self._listeners.append(listener)

    def _record(self, kind: ObjectKind, object_id: str, removed: bool = False) -> None:
        self.changes.append(DirectoryChange(len(self.changes) + 1, kind, object_id, removed))

    def _announce(self, action: SecurityAction) -> None:
        for listener in list(self._listeners):
            listener(action)

    # -- creation ----------------------------------------------------------------------------
    def add_tenant(self, tenant_id: str, display_name: str) -> None:
        self.tenants[tenant_id] = display_name

    def add_application(self, app: Application) -> Application:
        app.app_id = app.app_id.lower()
        self.applications[app.app_id] = app
        self._record("servicePrincipal", app.service_principal_id)
        return app

    def add_user(self, user: User) -> User:
        self.users[user.object_id] = user
        self._record("user", user.object_id)
        return user

    def create_managed_identity(
        self, tenant_id: str, display_name: str, granted_roles: dict[str, list[str]]
    ) -> ManagedIdentity:
        """A user-assigned managed identity with fresh ids, an Azure resource id named after
        it, and its service principal holding ``granted_roles`` (resource app id -> roles)."""
        resource_id = (
            f"/subscriptions/{new_id()}/resourceGroups/dev/providers/"
            f"Microsoft.ManagedIdentity/userAssignedIdentities/{display_name}"
        )
        mi = ManagedIdentity(new_id(), new_id(), tenant_id, resource_id)
        self.managed_identities[mi.client_id] = mi
        self.add_application(
            Application(
                app_id=mi.client_id,
                tenant_id=mi.tenant_id,
                display_name=display_name,
                service_principal_id=mi.object_id,
                is_managed_identity=True,
                granted_roles=granted_roles,
            )
        )
        return mi

    # -- service principal actions ---------------------------------------------------------------
    def _sp_action(self, app: Application, action: str, now: float, **extra: Any) -> None:
        self._record("servicePrincipal", app.service_principal_id, removed=app.deleted)
        self._announce(
            SecurityAction(
                action,
                "application",
                app.tenant_id,
                app.service_principal_id,
                now,
                app_id=app.app_id,
                **extra,
            )
        )

    def set_service_principal_enabled(self, app: Application, enabled: bool, now: float) -> None:
        app.enabled = enabled
        self._sp_action(app, "enabled" if enabled else "disabled", now)

    def delete_service_principal(self, app: Application, now: float) -> None:
        app.deleted = True
        app.enabled = False
        self._sp_action(app, "deleted", now)

    def set_service_principal_risk(self, app: Application, level: str, now: float) -> None:
        previous, app.risk_level, app.risk_updated_at = app.risk_level, level, now
        self._sp_action(app, "risk-changed", now, risk_level=level, previous_risk_level=previous)

    # -- user actions ---------------------------------------------------------------------------
    def _user_action(self, user: User, action: str, now: float, **extra: Any) -> None:
        self._record("user", user.object_id, removed=user.deleted)
        self._announce(
            SecurityAction(
                action, "user", user.tenant_id, user.object_id, now, email=user.username, **extra
            )
        )

    def set_user_enabled(self, user: User, enabled: bool, now: float) -> None:
        user.enabled = enabled
        self._user_action(user, "enabled" if enabled else "disabled", now)

    def delete_user(self, user: User, now: float) -> None:
        user.deleted = True
        user.enabled = False
        self._user_action(user, "deleted", now)

    def revoke_sessions(self, user: User, now: float) -> None:
        """Entra's revokeSignInSessions: moves ``signInSessionsValidFromDateTime`` to now."""
        user.sessions_valid_from = now
        self._user_action(user, "sessions-revoked", now)

    def reset_password(self, user: User, password: str, now: float) -> None:
        user.password = password
        user.last_password_change = now
        user.sessions_valid_from = now
        self._user_action(user, "password-reset", now)

    def set_mfa_registered(self, user: User, registered: bool, now: float) -> None:
        """A second factor registered or removed: a credential change (a CAE critical event)."""
        user.mfa_registered = registered
        self._user_action(user, "mfa-registered" if registered else "mfa-removed", now)

    def set_user_risk(self, user: User, level: str, now: float) -> None:
        previous, user.risk_level, user.risk_updated_at = user.risk_level, level, now
        self._user_action(user, "risk-changed", now, risk_level=level, previous_risk_level=previous)
