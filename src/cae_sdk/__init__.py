"""cae-sdk: Continuous Access Evaluation for Python.

The protocol core is imported eagerly; the client, resource and event adapters are loaded on
first attribute access so that ``import cae_sdk`` stays cheap and optional extras stay optional.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import errors
from ._lazy import lazy_attributes
from ._version import __version__
from .core import (
    CP1,
    Challenge,
    ClaimsChallenge,
    Decision,
    NamedLocation,
    Outcome,
    Reason,
    SubjectKey,
    TokenClaims,
    build_bearer_error,
    build_claims_challenge,
    decode_claims,
    decode_unverified,
    encode_claims,
    find_claims_challenge,
    has_cp1,
    merge_claims,
    parse_www_authenticate,
)
from .core.errors import (
    CAEError,
    ClaimsChallengeFailed,
    ClaimsChallengeUnresolvable,
    InteractionRequired,
    TokenAcquisitionError,
)

# Public names that live in adapter packages: name -> module (relative to this package).
_LAZY: dict[str, str] = {
    "CAEAuth": ".client",
    "CAEClient": ".client",
    "AsyncCAEClient": ".client",
    "ConfidentialClientCredential": ".client",
    "WorkloadIdentityCredential": ".client",
    "ManagedIdentityCredential": ".client",
    "PublicClientCredential": ".client",
    "AzureIdentityCredential": ".client",
    "AccessToken": ".client",
    "CAEMiddleware": ".resource",
    "TokenValidator": ".resource",
    "CAESettings": ".resource",
    "SQLiteEventStore": ".events",
}

if TYPE_CHECKING:  # pragma: no cover
    from .client import AccessToken as AccessToken
    from .client import AsyncCAEClient as AsyncCAEClient
    from .client import AzureIdentityCredential as AzureIdentityCredential
    from .client import CAEAuth as CAEAuth
    from .client import CAEClient as CAEClient
    from .client import ConfidentialClientCredential as ConfidentialClientCredential
    from .client import ManagedIdentityCredential as ManagedIdentityCredential
    from .client import PublicClientCredential as PublicClientCredential
    from .client import WorkloadIdentityCredential as WorkloadIdentityCredential
    from .events import SQLiteEventStore as SQLiteEventStore
    from .resource import CAEMiddleware as CAEMiddleware
    from .resource import CAESettings as CAESettings
    from .resource import TokenValidator as TokenValidator


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

# Literal, so the API reference (which reads it statically) renders what it lists.
__all__ = [
    "CP1",
    "AccessToken",
    "AsyncCAEClient",
    "AzureIdentityCredential",
    "CAEAuth",
    "CAEClient",
    "CAEError",
    "CAEMiddleware",
    "CAESettings",
    "Challenge",
    "ClaimsChallenge",
    "ClaimsChallengeFailed",
    "ClaimsChallengeUnresolvable",
    "ConfidentialClientCredential",
    "Decision",
    "InteractionRequired",
    "ManagedIdentityCredential",
    "NamedLocation",
    "Outcome",
    "PublicClientCredential",
    "Reason",
    "SQLiteEventStore",
    "SubjectKey",
    "TokenAcquisitionError",
    "TokenClaims",
    "TokenValidator",
    "WorkloadIdentityCredential",
    "__version__",
    "build_bearer_error",
    "build_claims_challenge",
    "decode_claims",
    "decode_unverified",
    "encode_claims",
    "errors",
    "find_claims_challenge",
    "has_cp1",
    "merge_claims",
    "parse_www_authenticate",
]
