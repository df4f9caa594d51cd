"""The dev identity provider: a local, Entra-compatible issuer that speaks CAE and Shared
Signals, for tests and demos. See ``docs/devidp.md``."""

from __future__ import annotations

from .admin import AdminError
from .admin_client import AdminClient
from .context import IdPSettings
from .errors import EntraError, Refusal, entra_error_body
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
    "entra_error_body",
]
