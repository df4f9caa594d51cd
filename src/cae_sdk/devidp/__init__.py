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
    "AdminClient": ".admin_client",
    "AdminError": ".admin",
    "DevIdentityProvider": ".runner",
    "EntraError": ".errors",
    "IdPSettings": ".context",
    "Refusal": ".errors",
    "Seed": ".seed",
    "device_code_token": ".msal_apps",
    "entra_error_body": ".errors",
    "msal_confidential_app": ".msal_apps",
    "msal_public_app": ".msal_apps",
}

if TYPE_CHECKING:  # pragma: no cover
    from .admin import AdminError as AdminError
    from .admin_client import AdminClient as AdminClient
    from .context import IdPSettings as IdPSettings
    from .errors import EntraError as EntraError
    from .errors import Refusal as Refusal
    from .errors import entra_error_body as entra_error_body
    from .msal_apps import device_code_token as device_code_token
    from .msal_apps import msal_confidential_app as msal_confidential_app
    from .msal_apps import msal_public_app as msal_public_app
    from .runner import DevIdentityProvider as DevIdentityProvider
    from .seed import Seed as Seed


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

__all__ = sorted(_LAZY)
