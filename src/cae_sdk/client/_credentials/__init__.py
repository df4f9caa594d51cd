"""Credentials that announce cp1 and answer claims challenges (all MSAL-backed but one)."""

from ._base import CredentialBase
from .azure_identity import AzureIdentityCredential
from .confidential import ConfidentialClientCredential
from .managed import ManagedIdentityCredential
from .public import InteractionHandler, PublicClientCredential
from .workload import FederatedTokenFile, WorkloadIdentityCredential

__all__ = [
    "AzureIdentityCredential",
    "ConfidentialClientCredential",
    "CredentialBase",
    "FederatedTokenFile",
    "InteractionHandler",
    "ManagedIdentityCredential",
    "PublicClientCredential",
    "WorkloadIdentityCredential",
]
