"""``DevIdentityProvider``: the app served by uvicorn on 127.0.0.1 in a background thread.

Two listeners share one event loop in that thread: HTTPS (everything Entra-like; MSAL refuses
plain http authorities) and plain HTTP for the managed identity endpoints, which are plain HTTP
in Azure too. Both bind port 0 and the real ports are read back from the sockets.
"""

from __future__ import annotations

import datetime as _dt
import shutil
import socket
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._extras import missing_extra

try:
    import uvicorn
except ModuleNotFoundError as _exc:  # the one optional part of the provider
    raise missing_extra(_exc, "devidp", "the dev identity provider") from None

if TYPE_CHECKING:  # pragma: no cover
    import requests
    from typing_extensions import Self

from ..core.secevents import ssf_configuration_url
from ._admin_client import AdminClient
from ._app import build_app
from ._context import TOKEN_EXCHANGE_AUDIENCE, IdPContext, IdPSettings
from ._directory import Directory
from ._imds import APP_SERVICE_PATH, build_imds_app
from ._oauth import sign_access_token
from ._seed import GRAPH_APP_ID, Seed, seed_directory
from ._server import ServerThread, Service, bind_loopback
from ._ssf import Transmitter
from ._tls import generate_server_tls
from ._tokens import AccessTokenSpec

__all__ = ["DevIdentityProvider"]

_START_TIMEOUT = 10.0


class DevIdentityProvider(Service):
    """A local, Entra-compatible identity provider. Use as a (async) context manager::

    with DevIdentityProvider() as idp:
        app = msal.ConfidentialClientApplication(
            idp.seed.secret_app.client_id, idp.seed.secret_app.client_secret,
            authority=idp.authority, instance_discovery=False, http_client=session)
    """

    def __init__(
        self,
        settings: IdPSettings | None = None,
        *,
        tenant_id: str | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.settings = settings or IdPSettings()
        self.host = host
        self._tenant_id = (tenant_id or str(uuid.uuid4())).lower()
        self._ctx: IdPContext | None = None
        self._seed: Seed | None = None
        self._admin: AdminClient | None = None
        self._servers: ServerThread | None = None
        self._workdir: Path | None = None
        self._ca_bundle = ""
        self._shared_session: requests.Session | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Self:
        if self._servers is not None:
            raise RuntimeError("DevIdentityProvider is already running")
        self._workdir = Path(tempfile.mkdtemp(prefix="cae-devidp-"))
        https_sock, http_sock = bind_loopback(self.host), bind_loopback(self.host)
        try:
            self._launch(self._workdir, https_sock, http_sock)
        except BaseException:
            # A failed start leaves nothing behind: no thread, no temp dir (it holds the TLS
            # and client keys), no listening sockets. The caller's ``with`` never reaches
            # ``__exit__`` when ``__enter__`` raises.
            self.stop()
            https_sock.close()
            http_sock.close()
            raise
        return self

    def _launch(self, workdir: Path, https_sock: socket.socket, http_sock: socket.socket) -> None:
        now = _dt.datetime.now(_dt.timezone.utc)
        tls = generate_server_tls(workdir, now, self.host)
        self._ca_bundle = tls.ca_path
        ctx = IdPContext(self.settings, Directory(), self._tenant_id)
        ctx.base_url = f"https://{self.host}:{https_sock.getsockname()[1]}"
        ctx.imds_base_url = f"http://{self.host}:{http_sock.getsockname()[1]}"
        self._seed = seed_directory(
            ctx.directory,
            tenant_id=self._tenant_id,
            workdir=workdir,
            federation_issuer=ctx.federation_issuer,
            graph_url=ctx.graph_base_url,
            ssf_url=ctx.ssf_issuer,
        )
        ctx.extensions["default_user_id"] = self._seed.user.object_id
        ctx.extensions["default_managed_identity"] = self._seed.managed_identity.client_id
        self._ctx = ctx
        main = uvicorn.Config(
            build_app(ctx),
            ssl_certfile=tls.cert_path,
            ssl_keyfile=tls.key_path,
            log_level="warning",
            access_log=False,  # query strings and headers can hold secrets
            lifespan="off",
        )
        imds = uvicorn.Config(
            build_imds_app(ctx), log_level="warning", access_log=False, lifespan="off"
        )
        self._servers = ServerThread(
            [(main, https_sock), (imds, http_sock)],
            what="dev identity provider",
            name="cae-devidp",
            on_shutdown=self._close_background_work,
        )
        self._servers.start(_START_TIMEOUT)
        self._admin = AdminClient(ctx.base_url, self.settings.admin_key, self._ca_bundle)

    async def _close_background_work(self) -> None:
        """Stop push workers and their HTTP client before the loop goes away."""
        transmitter = self._ctx.extensions.get("ssf") if self._ctx else None
        if isinstance(transmitter, Transmitter):
            await transmitter.aclose()

    def stop(self) -> None:
        if self._shared_session is not None:
            self._shared_session.close()
            self._shared_session = None
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._servers is not None:
            self._servers.stop()
            self._servers = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    # -- contract --------------------------------------------------------------------------------
    @property
    def context(self) -> IdPContext:
        if self._ctx is None:
            raise RuntimeError("DevIdentityProvider is not started")
        return self._ctx

    @property
    def seed(self) -> Seed:
        if self._seed is None:
            raise RuntimeError("DevIdentityProvider is not started")
        return self._seed

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            raise RuntimeError("DevIdentityProvider is not started")
        return self._admin

    @property
    def base_url(self) -> str:
        return self.context.base_url

    @property
    def ca_bundle(self) -> str:
        return self._ca_bundle

    @property
    def tenant_id(self) -> str:
        return self._tenant_id

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{self.tenant_id}"

    @property
    def issuer(self) -> str:
        return self.context.issuer_v2(self.tenant_id)

    @property
    def issuer_v1(self) -> str:
        return self.context.issuer_v1(self.tenant_id)

    @property
    def token_endpoint(self) -> str:
        return self.context.token_endpoint(self.tenant_id)

    @property
    def jwks_uri(self) -> str:
        return f"{self.authority}/discovery/v2.0/keys"

    @property
    def openid_configuration_url(self) -> str:
        return f"{self.authority}/v2.0/.well-known/openid-configuration"

    @property
    def imds_url(self) -> str:
        """Value for ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` (plain http, like IMDS)."""
        return self.context.imds_base_url

    @property
    def app_service_endpoint(self) -> str:
        """Value for ``IDENTITY_ENDPOINT`` (with :attr:`identity_header` as ``IDENTITY_HEADER``)."""
        return self.context.imds_base_url + APP_SERVICE_PATH

    @property
    def identity_header(self) -> str:
        return self.settings.identity_header

    @property
    def admin_key(self) -> str:
        return self.settings.admin_key

    @property
    def federation_issuer(self) -> str:
        return self.context.federation_issuer

    @property
    def graph_base_url(self) -> str:
        return self.context.graph_base_url

    @property
    def ssf_issuer(self) -> str:
        return self.context.ssf_issuer

    @property
    def ssf_configuration_url(self) -> str:
        # Served at the root too, for receivers that append the path to the issuer.
        return ssf_configuration_url(self.ssf_issuer)

    def mint_federated_token(
        self,
        subject: str | None = None,
        *,
        audience: str = TOKEN_EXCHANGE_AUDIENCE,
        lifetime: int = 3600,
    ) -> str:
        """A service-account token from the AKS-style federation issuer (what a pod reads from
        ``AZURE_FEDERATED_TOKEN_FILE``), for the seeded federated app by default."""
        now = int(self.context.now())
        claims = {
            "iss": self.federation_issuer,
            "sub": subject or self.seed.federated_subject,
            "aud": [audience],
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "workload"}},
        }
        return self.context.federation_keys.sign(claims)

    def _bearer_for(self, audience: str, roles: list[str]) -> str:
        ctx = self.context
        spec = AccessTokenSpec(
            tenant_id=self.tenant_id,
            client_id=self.seed.secret_app.client_id,
            audience=audience,
            subject_object_id=ctx.directory.applications[
                self.seed.secret_app.client_id
            ].service_principal_id,
            is_app_only=True,
            roles=roles,
            cp1=True,
            lifetime=self.settings.cp1_token_lifetime,
        )
        return sign_access_token(ctx, spec)

    def graph_access_token(self) -> str:
        """An app-only token for the Graph surface (roles to read users, SPs, risk, policies)."""
        app = self.context.directory.applications[self.seed.secret_app.client_id]
        return self._bearer_for(self.graph_base_url, app.granted_roles.get(GRAPH_APP_ID, []))

    def ssf_access_token(self) -> str:
        """Bearer token a receiver presents to the SSF stream management endpoints."""
        return self._bearer_for(self.ssf_issuer, ["ssf.manage"])

    def http_session(self) -> requests.Session:
        """A ``requests.Session`` that trusts this provider's CA, for MSAL's ``http_client``.

        ``trust_env`` is off because requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``
        override ``session.verify`` (``Session.merge_environment_settings``).
        """
        import requests

        session = requests.Session()
        session.verify = self.ca_bundle
        session.trust_env = False
        return session

    def shared_http_session(self) -> requests.Session:
        """One :meth:`http_session` owned by the provider and closed when it stops (the
        ``msal_*_app`` helpers use it when the caller passes no ``http``)."""
        if self._shared_session is None:
            self._shared_session = self.http_session()
        return self._shared_session

    def environment(self) -> dict[str, str]:
        """Environment variables that point MSAL, azure-identity and httpx/requests here.

        azure-identity's ``EnvironmentCredential`` (and so ``DefaultAzureCredential``, whose
        first link it is) reads ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``,
        ``AZURE_CLIENT_SECRET`` and ``AZURE_AUTHORITY_HOST``: they name the seeded
        ``secret_app`` at this provider's tenant. ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` moves
        IMDS here (MSAL's and azure-identity's managed identity). ``REQUESTS_CA_BUNDLE``
        (requests, so azure-core's default transport and MSAL) and ``SSL_CERT_FILE`` (httpx)
        trust this provider's CA.

        No variable can turn off MSAL's instance discovery, a request to
        ``login.microsoftonline.com`` for any authority host it does not know
        (``msal/authority.py``): construct azure-identity credentials with
        ``disable_instance_discovery=True`` (MSAL: ``instance_discovery=False``).
        """
        return {
            "AZURE_TENANT_ID": self.tenant_id,
            "AZURE_CLIENT_ID": self.seed.secret_app.client_id,
            "AZURE_CLIENT_SECRET": self.seed.secret_app.client_secret or "",
            "AZURE_AUTHORITY_HOST": self.base_url,
            "AZURE_POD_IDENTITY_AUTHORITY_HOST": self.imds_url,
            "REQUESTS_CA_BUNDLE": self.ca_bundle,
            "SSL_CERT_FILE": self.ca_bundle,
        }

    def describe(self) -> dict[str, Any]:
        """URLs, CA path and seeded credentials, for the ``cae idp`` command to print.

        Contains secrets on purpose (it is the developer's own throw-away tenant); callers
        must not log it.
        """
        seed = self.seed
        return {
            "base_url": self.base_url,
            "authority": self.authority,
            "issuer": self.issuer,
            "issuer_v1": self.issuer_v1,
            "openid_configuration_url": self.openid_configuration_url,
            "jwks_uri": self.jwks_uri,
            "ca_bundle": self.ca_bundle,
            "tenant_id": self.tenant_id,
            "imds_url": self.imds_url,
            "app_service_endpoint": self.app_service_endpoint,
            "identity_header": self.identity_header,
            "federation_issuer": self.federation_issuer,
            "graph_base_url": self.graph_base_url,
            "ssf_configuration_url": self.ssf_configuration_url,
            "admin_key": self.admin_key,
            "api": {"app_id": seed.api.app_id, "audience": seed.api.audience},
            "secret_app": {
                "client_id": seed.secret_app.client_id,
                "client_secret": seed.secret_app.client_secret,
            },
            "cert_app": {
                "client_id": seed.cert_app.client_id,
                "certificate_path": seed.cert_app.certificate_path,
                "thumbprint": seed.cert_app.thumbprint,
            },
            "federated_app": {
                "client_id": seed.federated_app.client_id,
                "subject": seed.federated_subject,
            },
            "public_app": {"client_id": seed.public_app.client_id},
            "user": {
                "username": seed.user.username,
                "password": seed.user.password,
                "object_id": seed.user.object_id,
            },
            "managed_identity": {
                "client_id": seed.managed_identity.client_id,
                "object_id": seed.managed_identity.object_id,
            },
        }

    def __repr__(self) -> str:  # never shows secrets
        state = self._ctx.base_url if self._ctx else "stopped"
        return f"DevIdentityProvider({state})"
