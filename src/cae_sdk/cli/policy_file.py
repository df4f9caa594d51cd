"""Read Conditional Access policy files for ``cae lint`` and ``cae whatif``.

A file holds Graph ``conditionalAccessPolicy`` JSON: one policy object, a list of them, or a Graph
list response ``{"value": [...]}`` as exported from ``/identity/conditionalAccess/policies``. The
resource's parser (:mod:`cae_sdk.core.policies`) reads it; :class:`PolicyView` adds what only the
linter compares (client app types, sign-in risk, last change) as include/exclude scopes.
Malformed files raise :class:`ConfigurationError` naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core.errors import ConfigurationError
from ..core.policies import Policy, PolicyState, Selection, load_policies

__all__ = ["REPORT_ONLY", "PolicyView", "Scope", "load_policy_documents", "read_policies"]

REPORT_ONLY = PolicyState.REPORT_ONLY.value
_MAX_FILE_BYTES = 16 * 1024 * 1024


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


@dataclass(frozen=True, slots=True)
class PolicyView:
    """The parts of a ``conditionalAccessPolicy`` that lint rules compare."""

    id: str
    name: str
    state: str
    users: Scope
    applications: Scope
    platforms: Scope
    locations: Scope
    client_app_types: Scope
    risk_levels: Scope
    grant_operator: str
    grant_controls: frozenset[str]
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
            self.users,
            self.applications,
            self.platforms,
            self.locations,
            self.client_app_types,
            self.risk_levels,
        )


def _scope(*selections: Selection, extra: frozenset[str] = frozenset()) -> Scope:
    include = frozenset().union(*(s.include for s in selections)) | extra
    exclude = frozenset().union(*(s.exclude for s in selections))
    return Scope(include, exclude) if include else ANY


def _raw_set(data: Mapping[str, Any], key: str) -> frozenset[str]:
    # Shapes were already checked by the policy parser; read leniently here.
    values = data.get(key) or ()
    return frozenset(v.lower() for v in values if isinstance(v, str))


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _view(policy: Policy, raw: Mapping[str, Any]) -> PolicyView:
    conditions = raw.get("conditions") or {}
    client_apps = _raw_set(conditions, "clientAppTypes")
    risks = (
        policy.user_risk_levels
        | policy.service_principal_risk_levels
        | _raw_set(conditions, "signInRiskLevels")
    )
    return PolicyView(
        id=policy.id,
        name=policy.name,
        state=policy.state.value,
        users=_scope(policy.users, policy.groups, policy.roles, policy.client_apps),
        applications=_scope(policy.applications, extra=policy.auth_contexts),
        platforms=_scope(policy.platforms),
        locations=_scope(policy.locations),
        client_app_types=Scope(client_apps) if client_apps and "all" not in client_apps else ANY,
        risk_levels=Scope(risks) if risks else ANY,
        grant_operator=policy.grant.operator,
        grant_controls=policy.grant.built_in,
        has_session_controls=bool(raw.get("sessionControls")),
        modified=_timestamp(raw.get("modifiedDateTime")) or _timestamp(raw.get("createdDateTime")),
    )


def load_policy_documents(path: str | Path) -> list[Mapping[str, Any]]:
    """Read a policy file into raw policy objects (one object, a list, or ``{"value": [...]}``)."""
    file = Path(path)
    try:
        if file.stat().st_size > _MAX_FILE_BYTES:
            raise ConfigurationError(f"{file}: policy file is larger than 16 MiB")
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{file}: cannot read policy file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{file}: policy file is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConfigurationError(f"{file}: not valid JSON ({exc})") from None
    if isinstance(data, Mapping) and isinstance(data.get("value"), list):
        data = data["value"]
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list):
        raise ConfigurationError(f"{file}: expected a policy object or a list of policies")
    return data


def read_policies(path: str | Path) -> list[PolicyView]:
    """Load and read every policy in a file with the resource's policy parser."""
    documents = load_policy_documents(path)
    try:
        policies = load_policies(documents)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{path}: {exc}") from None
    return [_view(policy, raw) for policy, raw in zip(policies, documents, strict=True)]
