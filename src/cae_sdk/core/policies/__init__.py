"""Conditional Access policies (Microsoft Graph's ``conditionalAccessPolicy``) and their
evaluation for one request: ``load_policies(json) -> list[Policy]``,
``evaluate(policies, context) -> PolicyEvaluation``. Every policy evaluates to applies, does
not apply, or undecided (what the resource cannot observe); ``docs/policies.md`` lists which
claims decide which condition and control."""

from .._document import MAX_DOCUMENT_BYTES
from ._app_groups import OFFICE365_APPLICATIONS
from ._context import PolicyContext, PolicyOptions
from ._evaluate import evaluate
from ._guests import MEMBER, AccountKinds, classify_account
from ._model import (
    EVERY_GUEST,
    Enforcement,
    GrantControls,
    GuestSelection,
    Policy,
    PolicyState,
    Selection,
)
from ._parse import load_policies, parse_policy
from ._platforms import KNOWN_PLATFORMS, platform_from_user_agent
from ._results import PolicyEvaluation, PolicyResult, PolicyVerdict
from ._session import SESSION_CONTROLS

__all__ = [
    "EVERY_GUEST",
    "KNOWN_PLATFORMS",
    "MAX_DOCUMENT_BYTES",
    "MEMBER",
    "OFFICE365_APPLICATIONS",
    "SESSION_CONTROLS",
    "AccountKinds",
    "Enforcement",
    "GrantControls",
    "GuestSelection",
    "Policy",
    "PolicyContext",
    "PolicyEvaluation",
    "PolicyOptions",
    "PolicyResult",
    "PolicyState",
    "PolicyVerdict",
    "Selection",
    "classify_account",
    "evaluate",
    "load_policies",
    "parse_policy",
    "platform_from_user_agent",
]
