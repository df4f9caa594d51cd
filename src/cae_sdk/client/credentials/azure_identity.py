"""Adapter for any azure-identity credential (duck-typed: azure-identity is not required)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any, Protocol

from ...core.errors import TokenAcquisitionError
from .. import _exchange
from ._base import CredentialBase
from ._options import Clock

__all__ = ["AzureIdentityCredential", "AzureTokenCredential"]

_AADSTS = re.compile(r"AADSTS(\d{4,8})")


class AzureTokenCredential(Protocol):
    """The azure-core ``TokenCredential`` shape this adapter relies on."""

    def get_token(self, *scopes: str, claims: str | None = ..., **kwargs: Any) -> Any: ...


class AzureIdentityCredential(CredentialBase):
    """Use an azure-identity credential (``DefaultAzureCredential``...) with :class:`CAEAuth`.

    Calls ``get_token(*scopes, claims=..., enable_cae=True)``; ``enable_cae`` makes
    azure-identity announce cp1, and the claims passed are already merged with cp1 so the
    server's ``xms_cc`` members survive. The returned ``AccessToken``/``AccessTokenInfo``
    (``token``, ``expires_on``, optional ``refresh_on``) becomes our :class:`AccessToken`.
    Exceptions from the wrapped credential become :class:`TokenAcquisitionError`.
    """

    def __init__(self, credential: AzureTokenCredential, *, clock: Clock = time.time) -> None:
        super().__init__(clock=clock)
        if not callable(getattr(credential, "get_token", None)):
            raise TypeError("credential must have a get_token(*scopes, claims=...) method")
        self._credential = credential

    def _acquire(self, scopes: list[str], claims: str | None) -> Mapping[str, Any] | None:
        _exchange.note_sent()  # its own HTTP, out of our sight: an attempt whatever happens
        try:
            azure_token = self._credential.get_token(*scopes, claims=claims, enable_cae=True)
        except Exception as exc:  # any failure of a third-party credential
            raise _as_token_error(self._credential, exc, claims) from exc
        now = self._clock()
        result: dict[str, Any] = {
            "access_token": azure_token.token,
            "expires_in": max(0.0, float(azure_token.expires_on) - now),
        }
        refresh_on = getattr(azure_token, "refresh_on", None)
        if refresh_on:
            result["refresh_on"] = float(refresh_on)
        return result


def _as_token_error(
    credential: object, exc: Exception, claims: str | None
) -> TokenAcquisitionError:
    """azure-identity reports refusals as exceptions whose text carries the AADSTS codes
    (``ClientAuthenticationError``); recover them so the remediation is as specific as MSAL's."""
    text = str(exc)
    first_line = text.splitlines()[0] if text else type(exc).__name__
    error = getattr(exc, "error", None)
    result = {
        "error": error if isinstance(error, str) else type(exc).__name__,
        "error_description": f"{type(credential).__name__}.get_token failed: {first_line}",
        "error_codes": [int(code) for code in _AADSTS.findall(text)],
    }
    return TokenAcquisitionError.from_msal_result(result, claims=claims)
