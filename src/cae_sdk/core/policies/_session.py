"""Session controls (Graph ``conditionalAccessSessionControls``): what each one means at a
resource. They shape the session after access is granted (Entra docs "Conditional Access:
Session"); none is shown in an access token, so none changes a policy's verdict here, and
each applying policy reports which of its session controls are enforced elsewhere. One
control is the resource's own: ``continuousAccessEvaluation`` sets how location conditions
are enforced (:mod:`._where`). A configured control not listed here is unknown to the engine
and makes its policy undecided.
"""

from __future__ import annotations

from types import MappingProxyType

from .._members import Members

__all__ = ["SESSION_CONTROLS", "configured_session_controls"]

SESSION_CONTROLS = MappingProxyType(
    {
        "applicationEnforcedRestrictions": (
            "enforced by Exchange Online and SharePoint Online from the device information "
            "Entra passes them"
        ),
        "cloudAppSecurity": "enforced by the Microsoft Defender for Cloud Apps reverse proxy",
        "signInFrequency": "enforced by the identity provider when it issues tokens",
        "persistentBrowser": "the identity provider's browser session",
        "disableResilienceDefaults": "the identity provider's behaviour during an outage",
        "secureSignInSession": (
            "token protection: the identity provider accepts device-bound sign-in sessions only"
        ),
        "globalSecureAccessFilteringProfile": "enforced by Global Secure Access",
        "networkAccessSecurity": "enforced by Global Secure Access",
        "continuousAccessEvaluation": "sets how this resource enforces location conditions",
    }
)
"""Session control -> who enforces it (a resource sees none of them in a token)."""


def _on(session: Members, name: str) -> bool:
    """Whether a session control is configured and on: ``isEnabled: false`` and
    ``disableResilienceDefaults: false`` (the default behaviour) are off."""
    if not session.configured(name):
        return False
    if name == "disableResilienceDefaults":
        return session.flag(name) is True
    control = session.section(name)
    return control is None or control.flag("isEnabled") is not False


def configured_session_controls(session: Members | None, unsupported: list[str]) -> tuple[str, ...]:
    """The names of the session controls that are on; unknown ones go to ``unsupported``."""
    if session is None:
        return ()
    names = tuple(name for name in session.configured_keys() if _on(session, name))
    unsupported += [session.name(n) for n in names if n not in SESSION_CONTROLS]
    return tuple(n for n in names if n in SESSION_CONTROLS)
