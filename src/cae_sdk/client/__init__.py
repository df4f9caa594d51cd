"""The CAE client: cp1 credentials over MSAL and claims-challenge handling for httpx."""

from ._redact import RedactingFilter, install_log_redaction
from .auth import CAEAuth
from .clients import AsyncCAEClient, CAEClient
from .credentials import (
    AzureIdentityCredential,
    ConfidentialClientCredential,
    CredentialBase,
    FederatedTokenFile,
    InteractionHandler,
    ManagedIdentityCredential,
    PublicClientCredential,
    WorkloadIdentityCredential,
)
from .http import HttpSettings, MsalHttpClient
from .loop_breaker import LoopBreaker
from .replay import ensure_replayable
from .singleflight import SingleFlight
from .token import AccessToken, TokenCredential, token_sha256

__all__ = [
    "AccessToken",
    "AsyncCAEClient",
    "AzureIdentityCredential",
    "CAEAuth",
    "CAEClient",
    "ConfidentialClientCredential",
    "CredentialBase",
    "FederatedTokenFile",
    "HttpSettings",
    "InteractionHandler",
    "LoopBreaker",
    "ManagedIdentityCredential",
    "MsalHttpClient",
    "PublicClientCredential",
    "RedactingFilter",
    "SingleFlight",
    "TokenCredential",
    "WorkloadIdentityCredential",
    "ensure_replayable",
    "install_log_redaction",
    "token_sha256",
]
