"""Managed identity tokens through ``msal.ManagedIdentityClient``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msal

from ...core.errors import ConfigurationError
from ._base import CredentialBase
from ._options import HttpOptions, TransportOptions

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["ManagedIdentityCredential"]


class ManagedIdentityCredential(CredentialBase):
    """System- or user-assigned managed identity (IMDS, App Service, Arc, Service Fabric...).

    MSAL announces cp1 where the endpoint supports it (``client_capabilities``) and, given a
    ``claims_challenge``, skips its cache and asks the endpoint again (sending the SHA-256 of
    the token to refresh where supported). Endpoints may still hand back their cached token;
    :meth:`get_token` then raises :class:`ClaimsChallengeUnresolvable` instead of letting the
    revoked token be replayed. The IMDS address can be overridden with
    ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` (read by MSAL).
    """

    def __init__(
        self,
        client_id: str | None = None,
        *,
        object_id: str | None = None,
        resource_id: str | None = None,
        **options: Unpack[HttpOptions],
    ) -> None:
        transport = TransportOptions(options)
        super().__init__(clock=transport.clock)
        ids = {"client_id": client_id, "object_id": object_id, "resource_id": resource_id}
        chosen = {k: v for k, v in ids.items() if v}
        if len(chosen) > 1:
            raise ConfigurationError("give at most one of client_id, object_id, resource_id")
        identity: Any = (
            msal.UserAssignedManagedIdentity(**chosen)
            if chosen
            else msal.SystemAssignedManagedIdentity()
        )
        self._http = transport.msal_http_client()
        self._client = msal.ManagedIdentityClient(
            identity,
            http_client=self._http,
            token_cache=transport.token_cache,
            client_capabilities=["cp1"],
        )

    def _acquire(self, scopes: list[str], claims: str | None) -> Mapping[str, Any] | None:
        result: Mapping[str, Any] | None = self._client.acquire_token_for_client(
            resource=_resource_of(scopes), claims_challenge=claims
        )
        return result


def _resource_of(scopes: list[str]) -> str:
    """Managed identity endpoints take a resource, not scopes: ``api://x/.default`` -> ``api://x``."""
    if len(scopes) != 1:
        raise ConfigurationError("managed identity takes exactly one scope (resource/.default)")
    scope = scopes[0]
    return scope[: -len("/.default")] if scope.endswith("/.default") else scope
