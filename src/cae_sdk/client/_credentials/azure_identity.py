"""Adapter for any azure-identity credential (duck-typed: azure-identity is not required)."""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Mapping
from functools import partial
from typing import Any, Protocol

from ...core.errors import MAX_ERROR_TEXT, ConfigurationError, TokenAcquisitionError
from .. import _exchange
from .._exchange import AnswerTimeout
from .._redact import redact
from .._watchdog import call_before
from ._base import CredentialBase
from ._errors import refusal_error
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

    ``timeout`` (seconds, default 30) bounds each call of the wrapped credential as the client
    enforces it, whatever azure-identity's own HTTP does (its read timeout restarts on every
    byte): past it the caller gets ``TokenAcquisitionError(error="timeout")`` and the call is
    left to end in its thread. Pass ``timeout=None`` for a credential that waits for a user
    (``InteractiveBrowserCredential``, ``DeviceCodeCredential``).
    """

    def __init__(
        self,
        credential: AzureTokenCredential,
        *,
        timeout: float | None = 30.0,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(clock=clock)
        if not callable(getattr(credential, "get_token", None)):
            raise TypeError("credential must have a get_token(*scopes, claims=...) method")
        if inspect.iscoroutinefunction(credential.get_token):
            # Its coroutine would never be awaited: a typed error on every call, at best.
            raise ConfigurationError(
                f"{type(credential).__name__} is an async credential (azure.identity.aio); "
                "wrap its synchronous twin from azure.identity (cae-sdk runs it off the event "
                "loop for async clients)"
            )
        if timeout is not None and not timeout > 0:
            raise ConfigurationError("timeout must be positive (or None)")
        self._credential = credential
        self._timeout = timeout

    def _acquire(self, scopes: list[str], claims: str | None) -> Mapping[str, Any] | None:
        _exchange.note_sent()  # its own HTTP, out of our sight: an attempt whatever happens
        call = partial(self._credential.get_token, *scopes, claims=claims, enable_cae=True)
        exchange = _exchange.current()
        deadline = None if exchange is None else exchange.deadline
        try:
            if deadline is None:
                azure_token = call()
            else:
                what = f"{type(self._credential).__name__}.get_token"
                azure_token = call_before(deadline, call, what=what)
        except AnswerTimeout:
            raise  # typed as a timeout by the base, like any other deadline
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
    # Its own text may quote an answer: redacted here like anything the client logs.
    first_line = redact(text.splitlines()[0][:MAX_ERROR_TEXT]) if text else type(exc).__name__
    error = getattr(exc, "error", None)
    result = {
        "error": error if isinstance(error, str) else type(exc).__name__,
        "error_description": f"{type(credential).__name__}.get_token failed: {first_line}",
        "error_codes": [int(code) for code in _AADSTS.findall(text)],
    }
    return refusal_error(result, exchange=None, claims=claims)
