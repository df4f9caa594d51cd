"""The dev identity provider: a local, Entra-compatible issuer that speaks CAE and Shared
Signals, for tests and demos. See ``docs/devidp.md``.

Names are loaded on first use (PEP 562): the pytest plugin lives in this package and is loaded
at every pytest start, so importing the package must cost nothing and need no optional extra.
:class:`DevIdentityProvider` needs the ``devidp`` extra (uvicorn); without it, using it raises
:class:`~cae_sdk._extras.MissingExtra` naming that extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

# Public name -> module (relative to this package) that defines it.
_LAZY: dict[str, str] = {
    "AdminClient": "._admin_client",
    "AdminError": "._admin",
    "DevIdentityProvider": "._runner",
    "EntraError": "._errors",
    "IdPSettings": "._context",
    "Refusal": "._errors",
    "Seed": "._seed",
    "device_code_token": "._msal_apps",
    "entra_error_body": "._errors",
    "msal_confidential_app": "._msal_apps",
    "msal_public_app": "._msal_apps",
}

if TYPE_CHECKING:  # pragma: no cover
    from ._admin import AdminError as AdminError
    from ._admin_client import AdminClient as AdminClient
    from ._context import IdPSettings as IdPSettings
    from ._errors import EntraError as EntraError
    from ._errors import Refusal as Refusal
    from ._errors import entra_error_body as entra_error_body
    from ._msal_apps import device_code_token as device_code_token
    from ._msal_apps import msal_confidential_app as msal_confidential_app
    from ._msal_apps import msal_public_app as msal_public_app
    from ._runner import DevIdentityProvider as DevIdentityProvider
    from ._seed import Seed as Seed


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

# Literal, so the API reference (which reads it statically) renders what it lists.
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
