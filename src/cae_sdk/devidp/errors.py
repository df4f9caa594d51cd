"""Entra-style token endpoint errors (shared PROTOCOL.md section 4).

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
from typing import Any

__all__ = ["EntraError", "entra_error_body", "oauth_error"]


@dataclass(frozen=True)
class EntraError(Exception):
    """A refusal to issue a token: ``error`` (RFC 6749), AADSTS ``code``, message, HTTP status."""

    error: str
    code: int
    message: str
    status: int = 400
    suberror: str | None = None

    def __str__(self) -> str:
        return f"AADSTS{self.code}: {self.message}"

    # Catalogue. Each constructor mirrors one Entra code.
    @classmethod
    def invalid_request(cls, message: str, code: int = 900144) -> EntraError:
        # 900144: "The request body must contain the following parameter: ..."
        return cls("invalid_request", code, message)

    @classmethod
    def unsupported_grant_type(cls, grant_type: str) -> EntraError:
        return cls(
            "unsupported_grant_type",
            70003,
            f"The app requested an unsupported grant type '{grant_type[:64]}'.",
        )

    @classmethod
    def application_not_found(cls, app_id: str, tenant: str) -> EntraError:
        return cls(
            "unauthorized_client",
            700016,
            f"Application with identifier '{app_id[:64]}' was not found in the directory "
            f"'{tenant}'. This can happen if the application has not been installed by the "
            "administrator of the tenant or consented to by any user in the tenant. You may "
            "have sent your authentication request to the wrong tenant.",
        )

    @classmethod
    def application_disabled(cls, app_id: str, name: str) -> EntraError:
        return cls("unauthorized_client", 7000112, f"Application '{app_id}'({name}) is disabled.")

    @classmethod
    def invalid_client_secret(cls, app_id: str) -> EntraError:
        return cls(
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            f"client secret value, not the client secret ID, for a secret added to app '{app_id}'.",
            status=401,
        )

    @classmethod
    def invalid_client_assertion(cls, reason: str) -> EntraError:
        # 700027: "Client assertion failed signature validation." / related assertion failures.
        return cls("invalid_client", 700027, f"Client assertion failed validation: {reason}", 401)

    @classmethod
    def missing_credential(cls) -> EntraError:
        return cls(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'.",
            status=401,
        )

    @classmethod
    def federated_assertion_mismatch(cls, reason: str) -> EntraError:
        # 70021: "No matching federated identity record found for presented assertion."
        return cls(
            "invalid_client",
            70021,
            f"No matching federated identity record found for presented assertion. {reason}",
            status=401,
        )

    @classmethod
    def user_disabled(cls) -> EntraError:
        return cls("invalid_grant", 50057, "The user account is disabled.")

    @classmethod
    def invalid_credentials(cls) -> EntraError:
        return cls(
            "invalid_grant",
            50126,
            "Error validating credentials due to invalid username or password.",
        )

    @classmethod
    def mfa_required(cls, resource: str) -> EntraError:
        return cls(
            "invalid_grant",
            50076,
            "Due to a configuration change made by your administrator, or because you moved to a "
            f"new location, you must use multi-factor authentication to access '{resource}'.",
            suberror="basic_action",
        )

    @classmethod
    def blocked_by_conditional_access(cls) -> EntraError:
        return cls(
            "invalid_grant",
            53003,
            "Access has been blocked by Conditional Access policies. The access policy does not "
            "allow token issuance.",
            suberror="message_only",
        )

    @classmethod
    def password_change_required(cls) -> EntraError:
        # 50142 PasswordChangeRequiredConditionalAccess: a risk-based policy asks for a reset.
        return cls(
            "invalid_grant",
            50142,
            "Password change is required due to a conditional access policy.",
            suberror="basic_action",
        )

    @classmethod
    def grant_revoked(cls) -> EntraError:
        # 50173: the grant was issued before the user's sessions were revoked or the password
        # changed (signInSessionsValidFromDateTime moved).
        return cls(
            "invalid_grant",
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is "
            "needed. The user might have changed or reset their password.",
        )

    @classmethod
    def session_invalid_after_password_change(cls) -> EntraError:
        # 50133 SsoArtifactRevoked: the session ended with a password change.
        return cls(
            "invalid_grant",
            50133,
            "Session is invalid due to expiration or recent password change.",
        )

    @classmethod
    def invalid_grant(cls, message: str, code: int = 9002313) -> EntraError:
        return cls("invalid_grant", code, message)

    @classmethod
    def invalid_scope(cls, scope: str) -> EntraError:
        return cls(
            "invalid_scope",
            70011,
            f"The provided value for the input parameter 'scope' is not valid. The scope "
            f"{scope[:200]} is not valid.",
        )

    @classmethod
    def invalid_resource(cls, resource: str) -> EntraError:
        return cls(
            "invalid_resource",
            500011,
            f"The resource principal named {resource[:200]} was not found in the tenant.",
        )

    @classmethod
    def resource_disabled(cls, resource: str) -> EntraError:
        return cls(
            "invalid_client",
            500014,
            f"The service principal for resource '{resource[:200]}' is disabled. This indicate "
            "that a subscription within the tenant has lapsed, or that the administrator for "
            "this tenant has disabled the application, preventing tokens from being issued for it.",
        )

    @classmethod
    def device_pending(cls) -> EntraError:
        return cls(
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        )

    @classmethod
    def device_expired(cls) -> EntraError:
        return cls(
            "expired_token",
            70020,
            "The provided value for the input parameter 'device_code' is not valid. Device "
            "codes expire after 15 minutes.",
        )


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
