"""Another identity provider's Shared Signals on an API that accepts Entra tokens (issue 11,
item 9): the transmitter need not be the token issuer.

An Okta-style transmitter (its own issuer, keys and configuration; subjects as ``email`` and
``iss_sub``; only ``session-revoked`` and ``credential-change``) pushes to a receiver mounted in
the API; the API's ``CAEMiddleware`` then challenges the Entra token (from the dev identity
provider, through real MSAL) of the user whose ``preferred_username`` / ``upn`` carries that
address. The subject-resolution step is the documented one: ``match_email_claims`` for
addresses, a directory mapping for the other IdP's (``iss``, ``sub``).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from _ssf_helpers import running, user_token
from _ssf_transmitter import ConformanceTransmitter
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cae_sdk.core import find_claims_challenge
from cae_sdk.core.secevents import CAEP
from cae_sdk.devidp import DevIdentityProvider
from cae_sdk.events import InMemoryEventStore
from cae_sdk.events.ssf import (
    DirectorySubjectResolver,
    PushReceiverApp,
    SetReceiver,
    StreamClient,
    push_delivery,
)
from cae_sdk.resource import CAEMiddleware, TokenValidator

pytestmark = pytest.mark.e2e

OKTA_USER_ID = "00u1a2b3c4d5e6f7g8h9"
PUSH_PATH = "/ssf/okta"
PUSH_AUTH = "Bearer okta-push-secret"


@pytest.fixture(scope="module")
def idp() -> Iterator[DevIdentityProvider]:
    with DevIdentityProvider() as provider:
        yield provider


async def _me(request: Request) -> JSONResponse:
    return JSONResponse({"oid": request.user.identity})


async def _challenged(http: httpx.AsyncClient, url: str, token: str) -> httpx.Response:
    deadline = time.monotonic() + 10
    while True:
        response = await http.get(url, headers={"authorization": f"Bearer {token}"})
        if response.status_code == 401 or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.05)


@pytest.fixture
async def okta() -> AsyncIterator[ConformanceTransmitter]:
    transmitter = ConformanceTransmitter()
    async with running(transmitter.app) as base:
        transmitter.base_url = base
        yield transmitter
    await transmitter.aclose()


async def test_okta_style_events_revoke_the_entra_user_with_that_email(
    idp: DevIdentityProvider, okta: ConformanceTransmitter
) -> None:
    store = InMemoryEventStore()
    tls = ssl.create_default_context(cafile=idp.ca_bundle)
    async with httpx.AsyncClient(verify=tls) as idp_http, httpx.AsyncClient() as http:
        # The one subject-resolution step for this transmitter (docs/events.md, "Subjects").
        resolver = DirectorySubjectResolver(
            tenant_id=idp.tenant_id,
            match_email_claims=True,
            object_id_for_subject={(okta.issuer, OKTA_USER_ID): idp.seed.user.object_id},
            match_iss_sub_claims=False,  # Okta's (iss, sub) never appears in an Entra token
        )
        receiver = SetReceiver.for_transmitter(
            okta.issuer,
            "https://api.example/ssf",
            store,
            http=http,
            resolver=resolver,
            allowed_tenants=[idp.tenant_id],
        )
        push = PushReceiverApp(receiver, authorization=PUSH_AUTH)
        validator = TokenValidator.entra(
            app_id=idp.seed.api.app_id,
            tenant_id=idp.tenant_id,
            authority_host=idp.base_url,
            http_client=idp_http,
        )
        app = Starlette(
            routes=[Route("/me", _me), push.route(PUSH_PATH)],
            middleware=[
                Middleware(
                    CAEMiddleware,  # type: ignore[arg-type]
                    validator=validator,
                    store=store,
                    exclude_paths=[PUSH_PATH],  # the transmitter has no Entra token
                )
            ],
        )
        async with running(app) as api:
            streams = StreamClient(okta.issuer, http=http, auth=okta.issue_token())
            stream = await streams.create(
                push_delivery(api + PUSH_PATH, PUSH_AUTH),
                [CAEP.SESSION_REVOKED, CAEP.CREDENTIAL_CHANGE],
                aud="https://api.example/ssf",
                receiver=receiver,
            )
            sid = stream["stream_id"]
            verifying = asyncio.create_task(streams.verify(sid, receiver, timeout=5))
            while not verifying.done():
                await okta.push_all(sid)
                await asyncio.sleep(0.01)
            assert await verifying

            token = await asyncio.to_thread(user_token, idp)
            me = f"{api}/me"
            assert (await http.get(me, headers={"authorization": f"Bearer {token}"})).is_success
            await asyncio.sleep(1.1)  # the revocation second follows the token's iat
            # Okta names the user by address; the Entra token carries it as upn.
            address = idp.seed.user.username.upper()
            okta.emit(sid, CAEP.SESSION_REVOKED, {}, subject={"format": "email", "email": address})
            (answer,) = await okta.push_all(sid)
            assert answer.status == 202
            challenged = await _challenged(http, me, token)
            assert challenged.status_code == 401, challenged.text
            challenge = find_claims_challenge(challenged.headers)
            assert challenge is not None and "nbf" in challenge.claims_dict["access_token"]

            # The user signs in again; then a credential change named by Okta's own (iss, sub).
            await asyncio.sleep(1.1)
            fresh = await asyncio.to_thread(user_token, idp)
            assert (await http.get(me, headers={"authorization": f"Bearer {fresh}"})).is_success
            await asyncio.sleep(1.1)
            okta.emit(
                sid,
                CAEP.CREDENTIAL_CHANGE,
                {"credential_type": "password", "change_type": "update"},
                subject={"format": "iss_sub", "iss": okta.issuer, "sub": OKTA_USER_ID},
            )
            (answer,) = await okta.push_all(sid)
            assert answer.status == 202
            assert (await _challenged(http, me, fresh)).status_code == 401
            # Another user of the tenant is not touched: nothing wider than the named user.
            assert {key.kind.value for key in store.watermarks()} == {"email", "user"}
