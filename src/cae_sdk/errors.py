"""The SDK's exception hierarchy (``cae_sdk.errors``): every error derives from ``CAEError``."""

from .core.errors import *  # noqa: F403
from .core.errors import __all__ as __all__
from .core.remediation import Remediation, RemediationKind, remediation_for

__all__ = [*__all__, "Remediation", "RemediationKind", "remediation_for"]
