"""The directory every dev identity provider starts with, and how tests reach it (``idp.seed``).

Ids are random per run so tests never depend on constants; secrets and keys never leave the
process except through these objects and the files under the run's temporary directory.
"""

from __future__ import annotations

import datetime as _dt
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._context import TOKEN_EXCHANGE_AUDIENCE
from ._directory import (
    Application,
    CertificateCredential,
    Directory,
    FederatedCredential,
    User,
)
from ._tls import generate_client_certificate

__all__ = [
    "GRAPH_APP_ID",
    "ResourceApi",
    "Seed",
    "SeededApp",
    "SeededCertificateApp",
    "SeededManagedIdentity",
    "SeededUser",
    "seed_directory",
]

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_ROLES = [
    "User.Read.All",
    "Application.Read.All",
    "IdentityRiskyUser.Read.All",
    "IdentityRiskyServicePrincipal.Read.All",
    "Policy.Read.All",
]
FEDERATED_SUBJECT = "system:serviceaccount:default:workload"


@dataclass(frozen=True)
class ResourceApi:
    app_id: str
    audience: str
    scopes: tuple[str, ...]
    app_roles: tuple[str, ...]

    @property
    def default_scope(self) -> str:
        return f"{self.audience}/.default"


@dataclass(frozen=True)
class SeededApp:
    client_id: str
    client_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SeededCertificateApp:
    client_id: str
    certificate_path: str  # PEM with certificate and private key
    thumbprint: str  # SHA-1, hex upper case (MSAL's "thumbprint")
    thumbprint_sha256: str
    certificate_pem: str = field(repr=False)
    private_key_pem: str = field(repr=False)


@dataclass(frozen=True)
class SeededUser:
    username: str
    password: str = field(repr=False)
    object_id: str = ""
    mfa_registered: bool = True


@dataclass(frozen=True)
class SeededManagedIdentity:
    client_id: str
    object_id: str
    resource_id: str


@dataclass(frozen=True)
class Seed:
    """The throw-away tenant a :class:`DevIdentityProvider` starts with (``idp.seed``): its API,
    confidential clients (secret, certificate, federated), a public client, a user and a managed
    identity, with the ids and secrets a test needs."""

    tenant_id: str
    api: ResourceApi
    secret_app: SeededApp
    cert_app: SeededCertificateApp
    federated_app: SeededApp
    public_app: SeededApp
    user: SeededUser
    managed_identity: SeededManagedIdentity
    federated_subject: str


def _gid() -> str:
    return str(uuid.uuid4())


def _add_client(directory: Directory, tenant_id: str, display_name: str, **fields: Any) -> str:
    """Register a client application; returns its client id."""
    client_id = _gid()
    directory.add_application(
        Application(app_id=client_id, tenant_id=tenant_id, display_name=display_name, **fields)
    )
    return client_id


def seed_directory(
    directory: Directory,
    *,
    tenant_id: str,
    workdir: Path,
    federation_issuer: str,
    graph_url: str,
    ssf_url: str,
) -> Seed:
    """Fill ``directory`` with one tenant, a resource API, three confidential clients (secret,
    certificate, federated), a public client, a user with MFA and a managed identity."""
    now = _dt.datetime.now(_dt.timezone.utc)
    directory.add_tenant(tenant_id, "cae-sdk dev tenant")
    api_id = _add_client(
        directory,
        tenant_id,
        "cae-sdk dev API",
        app_roles=["Data.Read"],
        scopes=["access_as_user"],
    )
    audience = f"api://{api_id}"
    directory.applications[api_id].identifier_uris = [audience]
    directory.add_application(
        Application(
            app_id=GRAPH_APP_ID,
            tenant_id=tenant_id,
            display_name="Microsoft Graph",
            app_roles=list(GRAPH_ROLES),
            scopes=["User.Read"],
            identifier_uris=[graph_url],
        )
    )
    ssf_app_id = _add_client(
        directory,
        tenant_id,
        "Shared Signals transmitter",
        app_roles=["ssf.manage"],
        identifier_uris=[ssf_url],
    )
    grants = {api_id: ["Data.Read"], GRAPH_APP_ID: list(GRAPH_ROLES), ssf_app_id: ["ssf.manage"]}

    secret = secrets.token_urlsafe(30)
    secret_app = SeededApp(
        _add_client(
            directory, tenant_id, "dev secret client", secrets=[secret], granted_roles=dict(grants)
        ),
        secret,
    )

    cert = generate_client_certificate("dev certificate client", now)
    cert_path = workdir / "cert-app.pem"
    cert_path.write_text(cert.certificate_pem + cert.private_key_pem)
    cert_path.chmod(0o600)
    credential = CertificateCredential(
        cert.thumbprint_sha1, cert.thumbprint_sha256, cert.certificate_pem
    )
    cert_app = SeededCertificateApp(
        client_id=_add_client(
            directory,
            tenant_id,
            "dev certificate client",
            certificates=[credential],
            granted_roles=dict(grants),
        ),
        certificate_path=str(cert_path),
        thumbprint=cert.thumbprint_sha1,
        thumbprint_sha256=cert.thumbprint_sha256,
        certificate_pem=cert.certificate_pem,
        private_key_pem=cert.private_key_pem,
    )

    federated = FederatedCredential(
        federation_issuer, FEDERATED_SUBJECT, (TOKEN_EXCHANGE_AUDIENCE,)
    )
    federated_app = SeededApp(
        _add_client(
            directory,
            tenant_id,
            "dev federated workload",
            federated_credentials=[federated],
            granted_roles=dict(grants),
        )
    )
    public_app = SeededApp(
        _add_client(directory, tenant_id, "dev public client", is_public_client=True)
    )

    user = SeededUser("alice@dev.example", secrets.token_urlsafe(16), _gid(), True)
    directory.add_user(
        User(
            object_id=user.object_id,
            tenant_id=tenant_id,
            username=user.username,
            password=user.password,
            display_name="Alice Developer",
            mfa_registered=True,
        )
    )

    mi = directory.create_managed_identity(tenant_id, "dev-identity", dict(grants))
    return Seed(
        tenant_id=tenant_id,
        api=ResourceApi(api_id, audience, ("access_as_user",), ("Data.Read",)),
        secret_app=secret_app,
        cert_app=cert_app,
        federated_app=federated_app,
        public_app=public_app,
        user=user,
        managed_identity=SeededManagedIdentity(mi.client_id, mi.object_id, mi.resource_id),
        federated_subject=FEDERATED_SUBJECT,
    )
