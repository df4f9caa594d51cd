"""Entra-style token endpoint errors (Microsoft identity platform docs, "Microsoft Entra
authentication and authorization error codes").

Entra answers a refused token request with a JSON body carrying the OAuth ``error`` (RFC 6749
section 5.2), an ``error_description`` that starts with ``AADSTSnnnn:`` and ends with the trace
and correlation ids and timestamp, ``error_codes``, ``timestamp``, ``trace_id``,
``correlation_id`` and ``error_uri``. The message texts below follow what Entra returns (seen in
public issue reports; the code reference is learn.microsoft.com/entra/identity-platform/
reference-error-codes).
"""

from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple

from ..core.errors import CAEError

__all__ = ["EntraError", "GraphError", "Refusal", "entra_error_body", "oauth_error"]


@dataclass(frozen=True)
class EntraError(CAEError):
    """A refusal to issue a token: ``error`` (RFC 6749), AADSTS ``code``, message, HTTP status."""

    error: str
    code: int
    message: str
    status: int = 400
    suberror: str | None = None

    def __str__(self) -> str:
        return f"AADSTS{self.code}: {self.message}"

    @classmethod
    def invalid_request(cls, message: str, code: int = 900144) -> EntraError:
        # 900144: "The request body must contain the following parameter: ..."
        return cls("invalid_request", code, message)

    @classmethod
    def invalid_grant(cls, message: str, code: int = 9002313) -> EntraError:
        return cls("invalid_grant", code, message)


class _Spec(NamedTuple):
    error: str
    code: int
    template: str
    status: int = 400
    suberror: str | None = None


class Refusal(Enum):
    """The Entra refusals this provider mirrors; ``Refusal.X.error(**params)`` builds one."""

    UNSUPPORTED_GRANT_TYPE = _Spec(
        "unsupported_grant_type",
        70003,
        "The app requested an unsupported grant type '{grant_type}'.",
    )
    APPLICATION_NOT_FOUND = _Spec(
        "unauthorized_client",
        700016,
        "Application with identifier '{app_id}' was not found in the directory '{tenant}'. This "
        "can happen if the application has not been installed by the administrator of the "
        "tenant or consented to by any user in the tenant. You may have sent your "
        "authentication request to the wrong tenant.",
    )
    APPLICATION_DISABLED = _Spec(
        "unauthorized_client", 7000112, "Application '{app_id}'({name}) is disabled."
    )
    INVALID_CLIENT_SECRET = _Spec(
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        "client secret value, not the client secret ID, for a secret added to app '{app_id}'.",
        401,
    )
    MISSING_CREDENTIAL = _Spec(
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or "
        "'client_secret'.",
        401,
    )
    # 700027: the client assertion failed validation (signature, key, claims).
    INVALID_CLIENT_ASSERTION = _Spec(
        "invalid_client", 700027, "Client assertion failed validation: {reason}", 401
    )
    NO_FEDERATED_MATCH = _Spec(
        "invalid_client",
        70021,
        "No matching federated identity record found for presented assertion. {detail}",
        401,
    )
    USER_DISABLED = _Spec("invalid_grant", 50057, "The user account is disabled.")
    INVALID_CREDENTIALS = _Spec(
        "invalid_grant", 50126, "Error validating credentials due to invalid username or password."
    )
    MFA_REQUIRED = _Spec(
        "invalid_grant",
        50076,
        "Due to a configuration change made by your administrator, or because you moved to a "
        "new location, you must use multi-factor authentication to access '{resource}'.",
        suberror="basic_action",
    )
    BLOCKED_BY_CONDITIONAL_ACCESS = _Spec(
        "invalid_grant",
        53003,
        "Access has been blocked by Conditional Access policies. The access policy does not "
        "allow token issuance.",
        suberror="message_only",
    )
    # 50142 PasswordChangeRequiredConditionalAccess: a risk-based policy asks for a reset.
    PASSWORD_CHANGE_REQUIRED = _Spec(
        "invalid_grant",
        50142,
        "Password change is required due to a conditional access policy.",
        suberror="basic_action",
    )
    # 50173: the grant predates the user's signInSessionsValidFromDateTime (sessions revoked).
    GRANT_REVOKED = _Spec(
        "invalid_grant",
        50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. "
        "The user might have changed or reset their password.",
    )
    # 50133 SsoArtifactRevoked: the session ended with a password change.
    SESSION_ENDED_BY_PASSWORD_CHANGE = _Spec(
        "invalid_grant", 50133, "Session is invalid due to expiration or recent password change."
    )
    INVALID_SCOPE = _Spec(
        "invalid_scope",
        70011,
        "The provided value for the input parameter 'scope' is not valid. The scope {scope} is "
        "not valid.",
    )
    SCOPE_NEEDS_DEFAULT = _Spec(
        "invalid_scope",
        1002012,
        "The provided value for scope {scope} is not valid. Client credential flows must have a "
        "scope value with /.default suffixed to the resource identifier.",
    )
    INVALID_RESOURCE = _Spec(
        "invalid_resource",
        500011,
        "The resource principal named {resource} was not found in the tenant.",
    )
    RESOURCE_DISABLED = _Spec(
        "invalid_client",
        500014,
        "The service principal for resource '{resource}' is disabled. This indicate that a "
        "subscription within the tenant has lapsed, or that the administrator for this tenant "
        "has disabled the application, preventing tokens from being issued for it.",
    )
    TENANT_NOT_FOUND = _Spec(
        "invalid_request", 90002, "Tenant '{tenant}' not found. Check the tenant id."
    )
    INVALID_CLAIMS = _Spec("invalid_request", 90100, "The claims parameter is not valid: {detail}")
    DEVICE_PENDING = _Spec(
        "authorization_pending",
        70016,
        "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
    )
    DEVICE_EXPIRED = _Spec(
        "expired_token",
        70020,
        "The provided value for the input parameter 'device_code' is not valid. Device codes "
        "expire after 15 minutes.",
    )
    DEVICE_CODE_UNKNOWN = _Spec("invalid_grant", 70000, "The provided device code is not valid.")

    def error(self, **params: object) -> EntraError:
        """The refusal with its message filled in; parameters are cut to 200 characters so a
        hostile value cannot bloat the body."""
        spec: _Spec = self.value
        message = spec.template.format(**{k: str(v)[:200] for k, v in params.items()})
        return EntraError(spec.error, spec.code, message, spec.status, spec.suberror)


def entra_error_body(
    err: EntraError,
    now: float,
    *,
    trace_id: str | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """The JSON body Entra sends for ``err`` at ``now`` (epoch seconds)."""
    trace = trace_id or str(uuid.uuid4())
    correlation = correlation_id or str(uuid.uuid4())
    stamp = _dt.datetime.fromtimestamp(now, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    body: dict[str, Any] = {
        "error": err.error,
        "error_description": (
            f"AADSTS{err.code}: {err.message}\r\nTrace ID: {trace}\r\n"
            f"Correlation ID: {correlation}\r\nTimestamp: {stamp}"
        ),
        "error_codes": [err.code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={err.code}",
    }
    if err.suberror:
        body["suberror"] = err.suberror
    return body


def oauth_error(error: str, description: str) -> dict[str, str]:
    """A plain RFC 6749 section 5.2 error body (for endpoints that are not Entra's STS)."""
    return {"error": error, "error_description": description}


class GraphError(CAEError):
    """A refusal in Microsoft Graph's shape: HTTP ``status`` and the body
    ``{"error": {"code", "message"}}`` (Graph surface and admin API)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}
