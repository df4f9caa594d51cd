"""Who can fix a refused token request, and how.

Entra reports refusals with AADSTS codes (Microsoft identity platform docs, "Microsoft Entra
authentication and authorization error codes"). Some a user can fix on their own
(self-remediation: sign in again, complete MFA, change a password; Microsoft Entra ID Protection
docs, "Remediate risks and unblock users"); others only an administrator or the IT helpdesk can
(a disabled service principal or user, a block policy).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

__all__ = ["Remediation", "RemediationKind", "remediation_for"]


class RemediationKind(str, Enum):
    """Who can fix a refused token request: the user, an administrator, IT, the application's
    configuration, a later retry, or nobody known."""

    SELF = "self"  # the signed-in user can fix it interactively
    ADMIN = "admin"  # a directory administrator must act
    IT = "it"  # contact IT / the policy owner
    CONFIGURATION = "configuration"  # the application's own settings are wrong
    RETRY = "retry"  # transient; retrying later can succeed
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Remediation:
    """What to tell the user about a refused token request, and whether an interactive sign-in
    resolves it."""

    kind: RemediationKind
    text: str
    interactive: bool = False  # True when an interactive sign-in by the user resolves it


_BY_CODE: dict[int, Remediation] = {
    7000112: Remediation(
        RemediationKind.ADMIN,
        "The application's service principal is disabled in the tenant. An administrator must "
        "re-enable it (Enterprise applications > Properties > Enabled for users to sign in).",
    ),
    700016: Remediation(
        RemediationKind.ADMIN,
        "The application is not registered in this tenant. An administrator must register or "
        "consent to it, or the client id / tenant is wrong.",
    ),
    50057: Remediation(
        RemediationKind.ADMIN,
        "The user account is disabled. An administrator must re-enable the account.",
    ),
    50053: Remediation(
        RemediationKind.SELF,
        "The account is locked after too many attempts. Wait, then sign in again, or ask IT.",
    ),
    7000215: Remediation(
        RemediationKind.CONFIGURATION,
        "The client secret is wrong or expired. Rotate it and update the application's "
        "configuration.",
    ),
    7000222: Remediation(
        RemediationKind.CONFIGURATION,
        "The client secret has expired. Create a new secret and update the configuration.",
    ),
    50076: Remediation(
        RemediationKind.SELF,
        "Multifactor authentication is required. Sign in interactively and complete MFA.",
        interactive=True,
    ),
    50079: Remediation(
        RemediationKind.SELF,
        "The user must register for multifactor authentication, then sign in interactively.",
        interactive=True,
    ),
    50142: Remediation(
        RemediationKind.SELF,
        "A password change is required (high user risk). Change the password with self-service "
        "password reset, then sign in again.",
        interactive=True,
    ),
    53003: Remediation(
        RemediationKind.IT,
        "Access is blocked by a Conditional Access policy. Contact IT with the correlation id.",
    ),
    50173: Remediation(
        RemediationKind.SELF,
        "The session is no longer valid after a password change or revocation. Sign in again.",
        interactive=True,
    ),
    50133: Remediation(
        RemediationKind.SELF,
        "The session is no longer valid after a password change. Sign in again.",
        interactive=True,
    ),
    70043: Remediation(
        RemediationKind.SELF,
        "The refresh token expired under a sign-in frequency policy. Sign in again.",
        interactive=True,
    ),
    70044: Remediation(
        RemediationKind.SELF,
        "The session expired or was revoked. Sign in again.",
        interactive=True,
    ),
}

_BY_ERROR: dict[str, Remediation] = {
    "interaction_required": Remediation(
        RemediationKind.SELF,
        "The identity provider needs the user: sign in interactively with the claims request.",
        interactive=True,
    ),
    "invalid_client": Remediation(
        RemediationKind.CONFIGURATION,
        "The client credentials were refused. Check the client id, secret or certificate.",
    ),
    "temporarily_unavailable": Remediation(
        RemediationKind.RETRY, "The identity provider is temporarily unavailable. Retry later."
    ),
}

_UNKNOWN = Remediation(
    RemediationKind.UNKNOWN,
    "No known remediation for this error. Look up the error code and correlation id.",
)


def remediation_for(error_codes: Iterable[int], error: str | None = None) -> Remediation:
    """Return the remediation for the first known AADSTS code, else for the OAuth ``error``."""
    for code in error_codes:
        known = _BY_CODE.get(int(code))
        if known is not None:
            return known
    if error is not None and error in _BY_ERROR:
        return _BY_ERROR[error]
    return _UNKNOWN
