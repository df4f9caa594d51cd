"""A live CAE-protected API over HTTPS and recorded token requests, for the adapter tests.

The API is a Starlette app behind a real ``CAEMiddleware`` that validates the dev identity
provider's tokens and enforces revocation watermarks from an ``InMemoryEventStore``; it is
served over HTTPS with the provider's CA (:class:`cae_sdk.devidp.https_api.HttpsApi`), as
Azure SDK clients insist on. Credentials send MSAL's identity-provider traffic through a
:class:`TokenRequests` client, which records every token request (and the claims it carried).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cae_sdk import build_claims_challenge
from cae_sdk.client import ConfidentialClientCredential, ManagedIdentityCredential
from cae_sdk.core.claims import nbf_claims
from cae_sdk.devidp import DevIdentityProvider
from cae_sdk.devidp.https_api import HttpsApi
from cae_sdk.events import InMemoryEventStore
from cae_sdk.resource import CAEMiddleware, TokenValidator


def tls_context(idp: DevIdentityProvider) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=idp.ca_bundle)


def unverified(token: str) -> dict[str, Any]:
    # Reads what the identity provider issued; the API under test is the validator.
    return jwt.decode(token, options={"verify_signature": False})


@dataclass(frozen=True)
class Hit:
    """One request the API received: method, path, final status, the bearer token."""

    method: str
    path: str
    status: int
    token: str


class _Recorder:
    """Outermost ASGI layer: what reached the API and what it answered."""

    def __init__(self, app: ASGIApp, hits: list[Hit]) -> None:
        self.app = app
        self.hits = hits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        token = headers.get(b"authorization", b"").decode().removeprefix("Bearer ")

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":  # before the client can see it
                self.hits.append(Hit(scope["method"], scope["path"], message["status"], token))
            await send(message)

        await self.app(scope, receive, record)


class LiveApi:
    """``/data`` (GET, POST: echoes the body and the token's ``iat``) and ``/always`` (a
    route that challenges every token it is shown, with a fresh ``nbf``), behind
    ``CAEMiddleware``."""

    def __init__(self, idp: DevIdentityProvider) -> None:
        self.idp = idp
        self.store = InMemoryEventStore()
        self.hits: list[Hit] = []
        self._challenges = 0
        self.authorization_uri = f"{idp.base_url}/{idp.tenant_id}/oauth2/authorize"
        keys_http = httpx.AsyncClient(verify=tls_context(idp))
        validator = TokenValidator.entra(
            app_id=idp.seed.api.app_id,
            tenant_id=idp.tenant_id,
            authority_host=idp.base_url,
            http_client=keys_http,
        )

        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            yield
            await keys_http.aclose()  # on the server's loop, where it was used

        app = Starlette(
            lifespan=lifespan,
            routes=[
                Route("/data", self._data, methods=["GET", "POST"]),
                Route("/always", self._always, methods=["GET", "POST"]),
            ],
            middleware=[
                Middleware(
                    CAEMiddleware,  # type: ignore[arg-type]
                    validator=validator,
                    store=self.store,
                    authorization_uri=f"{idp.base_url}/{{tenantid}}/oauth2/authorize",
                )
            ],
        )
        self.server = HttpsApi(_Recorder(app, self.hits), idp, lifespan="on")

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def scope(self) -> str:
        return f"{self.idp.seed.api.audience}/.default"

    async def _data(self, request: Request) -> Response:
        body = await request.body()
        return JSONResponse({"iat": request.auth.claims.issued_at, "echo": body.decode()})

    async def _always(self, request: Request) -> Response:
        # Every challenge differs (an extra member, as Graph's xms_caeerror), so no client can
        # answer it with a token it already holds: each one costs a token request.
        self._challenges += 1
        claims = nbf_claims(int(time.time()))
        claims["access_token"]["xms_caeerror"] = {"value": str(self._challenges)}
        challenge = build_claims_challenge(claims, authorization_uri=self.authorization_uri)
        return JSONResponse(
            {"error": "always"}, status_code=401, headers={"WWW-Authenticate": challenge}
        )

    def revoke_app(self, client_id: str, at: int) -> None:
        """Tokens of ``client_id`` issued before ``at`` are refused (as after a critical event)."""
        _run(self.store.revoke_service_principal(self.idp.tenant_id, client_id, at=at))


def _run(coro: Any) -> Any:
    """Run a store coroutine from sync or async test code (own loop, own thread)."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coro)))
    thread.start()
    thread.join(10)
    return result[0] if result else None


@contextmanager
def live_api(idp: DevIdentityProvider) -> Iterator[LiveApi]:
    api = LiveApi(idp)
    with api.server:
        yield api


@dataclass(frozen=True)
class TokenRequest:
    """A request MSAL sent to the identity provider: the URL path and the claims it carried."""

    method: str
    path: str
    claims: dict[str, Any] | None
    params: dict[str, str]


class TokenRequests:
    """An ``httpx.Client`` for MSAL (``http_client=``) that records every identity-provider
    request: token endpoint POSTs with their ``claims`` form field, IMDS GETs with their
    query."""

    def __init__(self, idp: DevIdentityProvider) -> None:
        self.seen: list[TokenRequest] = []
        self._lock = threading.Lock()
        self.client = httpx.Client(verify=tls_context(idp), event_hooks={"request": [self._hook]})

    def _hook(self, request: httpx.Request) -> None:
        form = parse_qs(request.content.decode()) if request.method == "POST" else {}
        claims = form.get("claims", [None])[0]
        params = dict(request.url.params)
        entry = TokenRequest(
            request.method,
            request.url.path,
            json.loads(claims) if claims else None,
            params,
        )
        with self._lock:
            self.seen.append(entry)

    @property
    def token_requests(self) -> list[TokenRequest]:
        """Requests for tokens (token endpoint or managed identity endpoint), not discovery."""
        return [
            r
            for r in self.seen
            if r.path.endswith("/oauth2/v2.0/token") or r.path.endswith("/oauth2/token")
        ]

    def close(self) -> None:
        self.client.close()


def secret_credential(
    idp: DevIdentityProvider, recorder: TokenRequests
) -> ConfidentialClientCredential:
    app = idp.seed.secret_app
    return ConfidentialClientCredential(
        idp.tenant_id,
        app.client_id,
        client_secret=app.client_secret,
        authority=idp.authority,
        instance_discovery=False,
        http_client=recorder.client,
    )


def managed_identity_credential(
    idp: DevIdentityProvider, recorder: TokenRequests
) -> ManagedIdentityCredential:
    """The seeded user-assigned identity through IMDS (the caller points
    ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` at ``idp.imds_url``)."""
    return ManagedIdentityCredential(
        client_id=idp.seed.managed_identity.client_id, http_client=recorder.client
    )


def merged_nbf_claims(watermark: int) -> dict[str, Any]:
    """The claims request a cp1 client sends to answer an ``nbf`` challenge for ``watermark``."""
    return {
        "access_token": {
            "nbf": {"essential": True, "value": str(watermark)},
            "xms_cc": {"values": ["cp1"]},
        }
    }


class LoopLag:
    """Measures how late a 5 ms sleep wakes up on the running loop (a blocked loop shows)."""

    _PERIOD = 0.005

    def __init__(self) -> None:
        self.worst = 0.0
        self._since = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def _late(self) -> None:
        self.worst = max(self.worst, time.monotonic() - self._since - self._PERIOD)

    async def _probe(self) -> None:
        while True:
            self._since = time.monotonic()
            await asyncio.sleep(self._PERIOD)
            self._late()

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._probe())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._late()  # a block just before the exit counts too (the probe had no turn yet)
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task
