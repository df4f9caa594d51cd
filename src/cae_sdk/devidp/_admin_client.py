"""``AdminClient``: the synchronous client of the admin API (what ``idp.admin`` is)."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from ._admin import AdminError

__all__ = ["AdminClient"]


class AdminClient:
    """Synchronous client of the admin API. Refusals raise :class:`AdminError`."""

    def __init__(self, base_url: str, admin_key: str, ca_bundle: str, timeout: float = 10.0):
        self._http = httpx.Client(
            base_url=base_url + "/admin",
            headers={"Authorization": f"Bearer {admin_key}"},
            verify=ssl.create_default_context(cafile=ca_bundle),
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body)
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                code, message = str(error["code"]), str(error["message"])
            except (ValueError, KeyError, TypeError):
                code, message = "unknown", response.text[:200]
            raise AdminError(response.status_code, code, message)
        return response.json() if response.content else None

    def disable_service_principal(self, app_id: str) -> None:
        self._call("POST", f"/servicePrincipals/{app_id}/disable")

    def enable_service_principal(self, app_id: str) -> None:
        self._call("POST", f"/servicePrincipals/{app_id}/enable")

    def delete_service_principal(self, app_id: str) -> None:
        self._call("DELETE", f"/servicePrincipals/{app_id}")

    def set_service_principal_risk(self, app_id: str, level: str) -> None:
        self._call("POST", f"/servicePrincipals/{app_id}/risk", {"level": level})

    def add_federated_credential(
        self, app_id: str, issuer: str, subject: str, audiences: list[str] | None = None
    ) -> None:
        body: dict[str, Any] = {"issuer": issuer, "subject": subject}
        if audiences is not None:
            body["audiences"] = audiences
        self._call("POST", f"/servicePrincipals/{app_id}/federatedCredentials", body)

    def disable_user(self, oid: str) -> None:
        self._call("POST", f"/users/{oid}/disable")

    def enable_user(self, oid: str) -> None:
        self._call("POST", f"/users/{oid}/enable")

    def delete_user(self, oid: str) -> None:
        self._call("DELETE", f"/users/{oid}")

    def revoke_sessions(self, oid: str) -> None:
        self._call("POST", f"/users/{oid}/revokeSignInSessions")

    def reset_password(self, oid: str, password: str | None = None) -> str:
        body = {"password": password} if password else {}
        return str(self._call("POST", f"/users/{oid}/resetPassword", body)["password"])

    def set_mfa_registered(self, oid: str, registered: bool = True) -> None:
        self._call("POST", f"/users/{oid}/mfa", {"registered": registered})

    def set_user_risk(self, oid: str, level: str) -> None:
        self._call("POST", f"/users/{oid}/risk", {"level": level})

    def rotate_keys(self) -> str:
        return str(self._call("POST", "/keys/rotate")["kid"])

    def create_tenant(self, display_name: str = "dev tenant") -> str:
        return str(self._call("POST", "/tenants", {"display_name": display_name})["tenant_id"])

    def create_managed_identity(
        self, display_name: str = "dev-identity", **fields: Any
    ) -> dict[str, Any]:
        body = {"display_name": display_name, **fields}
        return dict(self._call("POST", "/managedIdentities", body))

    def add_certificate(self, app_id: str, certificate_pem: str) -> dict[str, Any]:
        body = {"certificate_pem": certificate_pem}
        return dict(self._call("POST", f"/servicePrincipals/{app_id}/certificates", body))

    def create_user(self, username: str, **fields: Any) -> dict[str, Any]:
        return dict(self._call("POST", "/users", {"username": username, **fields}))

    def create_application(
        self, display_name: str = "dev application", **fields: Any
    ) -> dict[str, Any]:
        return dict(self._call("POST", "/applications", {"display_name": display_name, **fields}))

    def approve_device_code(
        self, user_code: str, user_id: str | None = None, mfa: bool | None = None
    ) -> None:
        body: dict[str, Any] = {}
        if user_id is not None:
            body["user_id"] = user_id
        if mfa is not None:
            body["mfa"] = mfa
        self._call("POST", f"/deviceCodes/{user_code}/approve", body)

    def add_named_location(
        self, display_name: str, ip_ranges: list[str], is_trusted: bool = False
    ) -> str:
        """An IP named location; ``is_trusted`` as Graph's ``isTrusted`` (false unless set)."""
        body = {"display_name": display_name, "ip_ranges": ip_ranges, "is_trusted": is_trusted}
        return str(self._call("POST", "/namedLocations", body)["id"])

    def add_policy(self, display_name: str, **fields: Any) -> str:
        return str(self._call("POST", "/policies", {"display_name": display_name, **fields})["id"])

    def delete_policy(self, policy_id: str) -> None:
        self._call("DELETE", f"/policies/{policy_id}")
