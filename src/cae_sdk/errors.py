"""The SDK's exception hierarchy (``cae_sdk.errors``): every error derives from ``CAEError``."""

from .core.errors import (
    CAEError,
    ChallengeParseError,
    ClaimsChallengeFailed,
    ClaimsChallengeLoop,
    ClaimsChallengeUnresolvable,
    ConfigurationError,
    EventSourceError,
    EventValidationError,
    InteractionRequired,
    InvalidClaimsError,
    JOSEError,
    KeysUnavailable,
    PolicyNameError,
    RequestNotReplayable,
    StoreUnavailable,
    TokenAcquisitionError,
    TokenFormatError,
    TokenValidationError,
)
from .core.remediation import Remediation, RemediationKind, remediation_for

# Literal, so the API reference (which reads it statically) renders what it lists; a test checks
# that it carries every name of ``cae_sdk.core.errors``.
__all__ = [
    "CAEError",
    "ChallengeParseError",
    "ClaimsChallengeFailed",
    "ClaimsChallengeLoop",
    "ClaimsChallengeUnresolvable",
    "ConfigurationError",
    "EventSourceError",
    "EventValidationError",
    "InteractionRequired",
    "InvalidClaimsError",
    "JOSEError",
    "KeysUnavailable",
    "PolicyNameError",
    "Remediation",
    "RemediationKind",
    "RequestNotReplayable",
    "StoreUnavailable",
    "TokenAcquisitionError",
    "TokenFormatError",
    "TokenValidationError",
    "remediation_for",
]
