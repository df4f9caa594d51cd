"""The dev identity provider: a local, Entra-compatible issuer that speaks CAE and Shared
Signals, for tests and demos. See ``docs/devidp.md``."""

from __future__ import annotations

from .admin import AdminError
from .admin_client import AdminClient
from .context import IdPSettings
from .errors import EntraError, Refusal, entra_error_body
from .msal_apps import device_code_token, msal_confidential_app, msal_public_app
from .runner import DevIdentityProvider
from .seed import Seed

__all__ = [
    "AdminClient",
    "AdminError",
    "DevIdentityProvider",
    "EntraError",
    "IdPSettings",
    "Refusal",
    "Seed",
    "device_code_token",
    "entra_error_body",
    "msal_confidential_app",
    "msal_public_app",
]
