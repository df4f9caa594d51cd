"""The CAE client: cp1 credentials over MSAL and claims-challenge handling for httpx."""

from ._auth import CAEAuth
from ._clients import AsyncCAEClient, CAEClient
from ._credentials import (
    AzureIdentityCredential,
    ConfidentialClientCredential,
    CredentialBase,
    FederatedTokenFile,
    InteractionHandler,
    ManagedIdentityCredential,
    PublicClientCredential,
    WorkloadIdentityCredential,
)
from ._http import HttpSettings, MsalHttpClient
from ._loop_breaker import LoopBreaker
from ._redact import RedactingFilter, install_log_redaction
from ._replay import ensure_replayable
from ._singleflight import SingleFlight
from ._token import AccessToken, TokenCredential, token_sha256

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
