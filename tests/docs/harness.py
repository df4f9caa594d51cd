"""Real parts for the docs' Python blocks, by fixture-set name (see ``snippets.py``).

Each fixture set starts what it names for real (the dev identity provider, a uvicorn API,
Redis) and puts the names below into the block's namespace. A block uses only these names and
what it defines or imports itself.

``idp`` a running :class:`~cae_sdk.devidp.DevIdentityProvider` whose ``environment()`` is
    exported (as after ``cae idp``): ``idp``; ``tenant_id``; ``client_id``, ``secret`` (the
    seeded confidential app); ``authority_host`` (the provider's base URL: omit it for Entra);
    ``ca_bundle``; ``api_scope`` (``api://<app id>/.default`` of the seeded API);
    ``user_scopes`` (its delegated scope); ``public_client_id``; ``object_id`` (the seeded
    user's ``oid``).
``api`` (with ``idp``) a ``CAEMiddleware`` API served by uvicorn on 127.0.0.1 in front of that
    provider: ``api_url`` (``GET /orders``, ``GET /health``), ``store`` (its
    ``InMemoryEventStore``), ``validator``.
``entra`` Entra-shaped ids, nothing running: ``APP_ID`` (= ``API_APP_ID``), ``TENANT_ID``, and
    ``tenant_id``, ``object_id`` unless ``idp`` gave real ones.
``app`` (with ``entra``) an unprotected FastAPI ``app``. Afterwards the block's ``app`` must
    refuse ``GET /orders`` without a token with ``401`` and a ``Bearer`` challenge: the block
    really put ``CAEMiddleware`` in front of it.
``challenge`` ``response``: an ``httpx.Response`` 401 carrying an Entra-format revocation
    challenge, built by ``build_claims_challenge``.
``redis`` ``redis_url`` (``CAE_TEST_REDIS_URL``; the test is marked ``redis``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

__all__ = ["SETS", "check_app", "fixture_set"]


def _idp(ns: dict[str, Any], stack: contextlib.ExitStack, env: pytest.MonkeyPatch) -> None:
    from cae_sdk.devidp import DevIdentityProvider

    idp = stack.enter_context(DevIdentityProvider())
    for name, value in idp.environment().items():
        env.setenv(name, value)
    seed = idp.seed
    ns.update(
        idp=idp,
        tenant_id=idp.tenant_id,
        client_id=seed.secret_app.client_id,
        secret=seed.secret_app.client_secret,
        authority_host=idp.base_url,
        ca_bundle=idp.ca_bundle,
        api_scope=seed.api.default_scope,
        user_scopes=[f"{seed.api.audience}/{seed.api.scopes[0]}"],
        public_client_id=seed.public_app.client_id,
        object_id=seed.user.object_id,
    )


def _api(ns: dict[str, Any], stack: contextlib.ExitStack, env: pytest.MonkeyPatch) -> None:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from cae_sdk.cli._demo.servers import serve
    from cae_sdk.events import InMemoryEventStore
    from cae_sdk.resource import CAEMiddleware, TokenValidator

    idp = ns["idp"]
    keys_http = httpx.AsyncClient(verify=ssl.create_default_context(cafile=idp.ca_bundle))
    validator = TokenValidator.entra(
        app_id=idp.seed.api.app_id,
        tenant_id=idp.tenant_id,
        authority_host=idp.base_url,
        http_client=keys_http,
    )
    store = InMemoryEventStore()

    async def orders(request: Any) -> JSONResponse:
        return JSONResponse({"orders": [], "caller": request.user.identity})

    async def health(request: Any) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        yield
        await keys_http.aclose()  # in the server's own event loop

    app = Starlette(routes=[Route("/orders", orders), Route("/health", health)], lifespan=lifespan)
    api = CAEMiddleware(
        app,
        validator=validator,
        store=store,
        exclude_paths=["/health"],
        authorization_uri=f"{idp.base_url}/{{tenantid}}/oauth2/authorize",
    )
    server = stack.enter_context(serve(api))
    ns.update(api_url=server.url, store=store, validator=validator)


def _entra(ns: dict[str, Any], stack: contextlib.ExitStack, env: pytest.MonkeyPatch) -> None:
    app_id = "11111111-2222-3333-4444-555555555555"
    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    ns.update(APP_ID=app_id, API_APP_ID=app_id, TENANT_ID=tenant)
    # Only where no running provider gave real ones.
    ns.setdefault("tenant_id", tenant)
    ns.setdefault("object_id", "aaaaaaaa-0000-0000-0000-000000000001")


def _app(ns: dict[str, Any], stack: contextlib.ExitStack, env: pytest.MonkeyPatch) -> None:
    from fastapi import FastAPI

    ns["app"] = FastAPI()


def _challenge(ns: dict[str, Any], stack: contextlib.ExitStack, env: pytest.MonkeyPatch) -> None:
    from cae_sdk.core import build_claims_challenge

    header = build_claims_challenge(
        {"access_token": {"nbf": {"essential": True, "value": "1604106651"}}},
        authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize",
    )
    ns["response"] = httpx.Response(401, headers={"WWW-Authenticate": header})


def _redis(ns: dict[str, Any], stack: contextlib.ExitStack, env: pytest.MonkeyPatch) -> None:
    from tests.conftest import REDIS_URL

    ns["redis_url"] = REDIS_URL


Setup = Callable[[dict[str, Any], contextlib.ExitStack, pytest.MonkeyPatch], None]
# In dependency order: a set may read what an earlier one put in the namespace.
SETS: dict[str, Setup] = {
    "idp": _idp,
    "api": _api,
    "entra": _entra,
    "app": _app,
    "challenge": _challenge,
    "redis": _redis,
}
REQUIRES = {"api": {"idp"}, "app": {"entra"}}


@contextlib.contextmanager
def fixture_set(
    uses: tuple[str, ...], ns: dict[str, Any], env: pytest.MonkeyPatch
) -> Iterator[None]:
    """Start the named sets (and what they require) into ``ns``; stop them on exit."""
    wanted = set(uses)
    for name in uses:
        wanted |= REQUIRES.get(name, set())
    with contextlib.ExitStack() as stack:
        for name, setup in SETS.items():
            if name in wanted:
                setup(ns, stack, env)
        yield


def check_app(ns: dict[str, Any]) -> None:
    """The ``app`` set's promise: the block's ``app`` refuses a request without a token."""
    app = ns.get("app")
    assert app is not None, "the block removed `app`"

    async def probe() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            return await client.get("/orders")

    response = asyncio.run(probe())
    assert response.status_code == 401, (response.status_code, response.text)
    assert response.headers["www-authenticate"].startswith("Bearer"), response.headers
