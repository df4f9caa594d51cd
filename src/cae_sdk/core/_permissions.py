"""Scope and app-role checks (RFC 6750 section 3.1 ``insufficient_scope``).

Run only on a token whose signature already holds: a forged token must get ``invalid_token``,
never a hint about which scopes would have worked.
"""

from __future__ import annotations

from collections.abc import Iterable

from .decisions import ALLOW, Decision, Outcome, Reason
from .tokens import TokenClaims

__all__ = ["evaluate_permissions"]


def evaluate_permissions(
    claims: TokenClaims, *, scopes: Iterable[str] = (), roles: Iterable[str] = ()
) -> Decision:
    """Deny (403 ``insufficient_scope``) unless the token carries every scope in ``scopes``
    (``scp``) and every app role in ``roles`` (``roles``)."""
    missing_scopes = sorted(set(scopes) - set(claims.scopes))
    missing_roles = sorted(set(roles) - set(claims.roles))
    if not missing_scopes and not missing_roles:
        return ALLOW
    parts = []
    if missing_scopes:
        parts.append("scopes " + " ".join(missing_scopes))
    if missing_roles:
        parts.append("roles " + " ".join(missing_roles))
    return Decision(
        Outcome.DENY,
        Reason.INSUFFICIENT_SCOPE,
        "token lacks " + " and ".join(parts),
        details={"missing_scopes": missing_scopes, "missing_roles": missing_roles},
    )
