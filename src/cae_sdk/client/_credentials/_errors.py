"""Every failed token acquisition as one typed error, whatever MSAL raised or returned.

MSAL reports failures in several shapes: an error result dict (a 4xx ``error`` answer), a
``MsalServiceError`` (a 5xx answer, through ``raise_for_status``), a ``ValueError`` or
``JSONDecodeError`` (a body that is not JSON, cut off, garbage discovery), an ``IdTokenError``,
and whatever the HTTP adapter raised (our ``requests`` exceptions). :func:`acquisition_error`
and :func:`refusal_error` turn each into a :class:`TokenAcquisitionError` carrying what the
:class:`~cae_sdk.client._exchange.Exchange` saw (status, ``Retry-After``, whether the identity
provider was reached at all), so callers and the client's own fallbacks never depend on which
exception type MSAL happened to raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from msal.exceptions import MsalServiceError

from ...core.errors import MAX_ERROR_TEXT, TokenAcquisitionError
from ...core.remediation import Remediation, RemediationKind
from .._exchange import AnswerTimeout, AnswerUnreadable, Exchange
from .._redact import redact

__all__ = ["acquisition_error", "refusal_error"]

_RETRY = RemediationKind.RETRY
_NETWORK = Remediation(
    _RETRY,
    "The identity provider could not be reached. Check connectivity, proxy and TLS trust "
    "(ca_bundle/verify), then retry.",
)
_TIMEOUT = Remediation(
    _RETRY,
    "The identity provider did not answer in full before the deadline (the credential's "
    "timeout). Retry later; check the identity provider's health and the network path.",
)
_UNREADABLE = Remediation(
    _RETRY,
    "The identity provider's answer could not be read (not JSON, cut off, too large or not "
    "decodable). A proxy in the path or an identity provider fault; retry later.",
)
_SERVER = Remediation(
    _RETRY, "The identity provider failed (HTTP 5xx) or is throttling (429). Retry later."
)
_UNEXPECTED = Remediation(
    RemediationKind.UNKNOWN,
    "The token request failed unexpectedly. Look at the error type and retry later.",
)


def _details(exchange: Exchange | None, retry_after: float | None) -> dict[str, Any]:
    if exchange is None:
        return {"retry_after": retry_after}
    return {
        "retry_after": exchange.retry_after if exchange.retry_after is not None else retry_after,
        "status": exchange.status,
        "reached_identity_provider": exchange.status is not None,
    }


def refusal_error(
    result: Mapping[str, Any],
    *,
    exchange: Exchange | None,
    claims: str | None,
    retry_after: float | None = None,
) -> TokenAcquisitionError:
    """An MSAL error result (the identity provider's ``error`` answer) as a typed error.

    The identity provider's text is redacted: a proxy or a broken endpoint that echoes the
    request (its form carries the client secret or assertion) must not put it in an error."""
    cleaned = dict(result)
    for name in ("error", "error_description"):
        value = cleaned.get(name)
        if isinstance(value, str):
            cleaned[name] = redact(value[: 4 * MAX_ERROR_TEXT])  # cut first: bounded work
    return TokenAcquisitionError.from_msal_result(
        cleaned, claims=claims, **_details(exchange, retry_after)
    )


def acquisition_error(
    exc: Exception,
    *,
    exchange: Exchange | None,
    claims: str | None,
    retry_after: float | None = None,
) -> TokenAcquisitionError:
    """Any exception out of MSAL (or the HTTP adapter below it) as a typed error.

    Only a short, capped summary of the exception is kept: MSAL puts whole answers in some
    messages (OIDC discovery failures carry the body), which may hold tokens.
    """
    details = _details(exchange, retry_after)
    summary = redact(f"{type(exc).__name__}: {str(exc)[:200]}")
    status = details.get("status")
    error: str
    remediation: Remediation
    if isinstance(exc, AnswerTimeout | requests.exceptions.Timeout):
        error, remediation = "timeout", _TIMEOUT
    elif isinstance(exc, AnswerUnreadable):
        error, remediation = "invalid_response", _UNREADABLE
    elif isinstance(exc, requests.exceptions.RequestException):
        error, remediation = "network_error", _NETWORK
    elif isinstance(status, int) and (status == 429 or status >= 500):
        error = "temporarily_unavailable" if status in (429, 503) else "server_error"
        remediation = _SERVER
    elif isinstance(exc, MsalServiceError):  # a 5xx replayed from MSAL's throttle cache
        error, remediation = "temporarily_unavailable", _SERVER
    elif isinstance(exc, ValueError):  # not JSON, cut off, garbage discovery, bad id token
        error, remediation = "invalid_response", _UNREADABLE
    else:
        error, remediation = "unexpected_error", _UNEXPECTED
    if not details.get("reached_identity_provider", True) and error == "temporarily_unavailable":
        summary += " (answered from MSAL's throttle cache; the identity provider was not asked)"
    return TokenAcquisitionError(
        f"Token request failed: {error} ({summary}).",
        error=error,
        error_description=summary,
        claims=claims,
        remediation=remediation,
        **details,
    )
