"""Conditional Access policies (a subset of Graph's ``conditionalAccessPolicy``) and their
evaluation for one request: ``load_policies(json) -> list[Policy]``,
``evaluate(policies, context) -> PolicyEvaluation``."""

from .evaluate import PolicyContext, PolicyEvaluation, PolicyResult, PolicyVerdict, evaluate
from .model import GrantControls, Policy, PolicyState, Selection, load_policies, parse_policy
from .platforms import KNOWN_PLATFORMS, platform_from_user_agent

__all__ = [
    "KNOWN_PLATFORMS",
    "GrantControls",
    "Policy",
    "PolicyContext",
    "PolicyEvaluation",
    "PolicyResult",
    "PolicyState",
    "PolicyVerdict",
    "Selection",
    "evaluate",
    "load_policies",
    "parse_policy",
    "platform_from_user_agent",
]
