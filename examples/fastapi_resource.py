"""A FastAPI API protected by CAEMiddleware (a Continuous Access Evaluation resource).

What it shows
    * one ``add_middleware`` line makes the API validate Entra-style bearer tokens and enforce
      revocation watermarks from an event store;
    * route-level requirements with ``require_roles`` / ``require_scopes`` /
      ``require_auth_context`` (step-up to authentication context ``c1``);
    * a revocation (here through the Python event API, ``store.revoke_service_principal``) turns
      the next call into a claims challenge, which the SDK client answers by itself.

How to run it
    python examples/fastapi_resource.py            # dev identity provider + API, Ctrl-C stops
    python examples/fastapi_resource.py --check    # a scripted self-check, exit 0/1 (CI)

Against Entra, build the app with your tenant and the API's app registration (it must ask for
the ``xms_cc`` optional claim) and serve it with uvicorn::

    app = create_app(tenant_id="<tenant guid>", app_id="<api app id>")
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import Depends, FastAPI
from starlette.requests import Request
from starlette.routing import Route

from cae_sdk import CAEClient, decode_unverified
from cae_sdk.events import EventStore, InMemoryEventStore
from cae_sdk.resource import CAEMiddleware, TokenValidator
from cae_sdk.resource.fastapi import install_cae_openapi, require_auth_context, require_roles

ENTRA = "https://login.microsoftonline.com"


def create_app(
    *,
    tenant_id: str,
    app_id: str,
    authority_host: str = ENTRA,
    ca_bundle: str | None = None,
    store: EventStore | None = None,
    push_receiver: Any = None,
) -> FastAPI:
    """The protected API. ``ca_bundle`` lets it trust a dev identity provider's TLS;
    ``push_receiver`` (an SSF ``PushReceiverApp``) is served at ``/ssf/events`` without a bearer
    token (it checks the stream's own Authorization header)."""
    store = store or InMemoryEventStore()
    verify: Any = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
    keys_http = httpx.AsyncClient(verify=verify, timeout=5.0)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await store.start()  # a shared store (Redis) connects and loads its state here
        yield
        await store.close()
        await keys_http.aclose()

    app = FastAPI(title="Orders API (CAE)", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/orders")
    async def orders(request: Request) -> dict[str, Any]:
        claims = request.auth.claims  # verified by the middleware
        return {"orders": ["A-1001", "A-1002"], "caller": claims.object_id or claims.app_id}

    @app.get("/reports", dependencies=[Depends(require_roles("Data.Read"))])
    async def reports() -> dict[str, Any]:
        return {"reports": ["Q1", "Q2"]}

    @app.get("/payroll", dependencies=[Depends(require_auth_context("c1"))])
    async def payroll() -> dict[str, Any]:
        return {"payroll": "sensitive; needs authentication context c1"}

    if push_receiver is not None:
        app.router.routes.append(Route("/ssf/events", push_receiver, methods=["POST"]))
    install_cae_openapi(app)
    app.add_middleware(
        CAEMiddleware,
        validator=TokenValidator.entra(
            app_id=app_id,
            tenant_id=tenant_id,
            authority_host=authority_host,
            http_client=keys_http,
        ),
        store=store,
        exclude_paths=["/health", "/ssf/events"],
        authorization_uri=f"{authority_host}/{{tenantid}}/oauth2/v2.0/authorize",
    )
    return app


def check() -> int:
    """Start a dev identity provider and the API, call it, revoke, call again."""
    from _devenv import api_options, secret_app_credential, serve, status_log, verdict, wait_past

    from cae_sdk.devidp import DevIdentityProvider

    with DevIdentityProvider() as idp:
        store = InMemoryEventStore()
        app = create_app(store=store, **api_options(idp))
        credential = secret_app_credential(idp)
        scope = idp.seed.api.default_scope
        seen, hooks = status_log()
        with (
            serve(app) as server,
            CAEClient(credential, scope, base_url=server.url, event_hooks=hooks) as client,
        ):
            first = client.get("/orders")
            print("GET /orders:", first.status_code, first.json())
            unauthenticated = httpx.get(server.url + "/orders")
            print("without a token:", unauthenticated.status_code)
            # An event source learned that the app was revoked: tokens issued so far are out.
            wait_past(decode_unverified(credential.get_token([scope]).token)[1]["iat"])
            app_id = idp.seed.secret_app.client_id
            asyncio.run(store.revoke_service_principal(idp.tenant_id, app_id))
            seen.clear()
            again = client.get("/orders")  # challenged, reacquired and replayed inside
            print("after the revocation:", again.status_code, "responses seen:", seen)
    return verdict(
        first.status_code == 200 and unauthenticated.status_code == 401 and seen == [401, 200]
    )


def main(argv: list[str] | None = None) -> int:
    from _devenv import resource_example_main

    return resource_example_main(__doc__, argv, check, create_app, default_port=8000)


if __name__ == "__main__":
    sys.exit(main())
