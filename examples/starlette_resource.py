"""A plain Starlette API protected by CAEMiddleware, with a strict named location.

What it shows
    * CAEMiddleware is pure ASGI: it wraps any ASGI app, here a bare Starlette one;
    * ``request.user`` / ``request.auth`` hold the verified caller, as with Starlette's
      AuthenticationMiddleware;
    * a named location in strict mode: a call from an address outside it gets a
      ``LocationConditionViolation`` claims challenge; a client without a token gets RFC 6750
      ``invalid_token``.

How to run it
    python examples/starlette_resource.py            # dev identity provider + API, Ctrl-C stops
    python examples/starlette_resource.py --check    # a scripted self-check, exit 0/1 (CI)
"""

from __future__ import annotations

import ssl
import sys
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cae_sdk import (
    CAEClient,
    ClaimsChallengeFailed,
    ClaimsChallengeUnresolvable,
    ManagedIdentityCredential,
    NamedLocation,
)
from cae_sdk.events import InMemoryEventStore
from cae_sdk.resource import CAEMiddleware, LocationMode, TokenValidator


async def whoami(request: Request) -> JSONResponse:
    # The middleware only lets verified callers through; request.user is a CAEUser.
    claims = request.auth.claims
    return JSONResponse(
        {
            "caller": request.user.identity,
            "authenticated": request.user.is_authenticated,
            "app_only": claims.is_app_only,
        }
    )


def create_app(
    *,
    tenant_id: str,
    app_id: str,
    authority_host: str,
    ca_bundle: str | None = None,
    office_cidrs: tuple[str, ...] = ("127.0.0.1/32",),
) -> Any:
    """The Starlette app wrapped by the middleware (the wrapped app is what uvicorn serves)."""
    verify: Any = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
    office = NamedLocation.from_cidrs("office", "Office network", office_cidrs, trusted=True)
    return CAEMiddleware(
        Starlette(routes=[Route("/whoami", whoami)]),
        validator=TokenValidator.entra(
            app_id=app_id,
            tenant_id=tenant_id,
            authority_host=authority_host,
            http_client=httpx.AsyncClient(verify=verify, timeout=5.0),
        ),
        store=InMemoryEventStore(),
        location_mode=LocationMode.STRICT,
        named_locations=[office],
        authorization_uri=f"{authority_host}/{{tenantid}}/oauth2/v2.0/authorize",
    )


def check() -> int:
    """Call from inside the office range (served) and from 127.0.0.2 (challenged, refused)."""
    import os

    from _devenv import api_options, serve, verdict

    from cae_sdk.devidp import DevIdentityProvider

    with DevIdentityProvider() as idp:
        os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = idp.imds_url  # the VM's IMDS, here
        credential = ManagedIdentityCredential(client_id=idp.seed.managed_identity.client_id)
        scope = idp.seed.api.default_scope
        with serve(create_app(**api_options(idp))) as server:
            with CAEClient(credential, scope, base_url=server.url) as client:
                inside = client.get("/whoami")
            print("from 127.0.0.1:", inside.status_code, inside.json())
            outside = httpx.HTTPTransport(local_address="127.0.0.2")
            refused = False
            challenges: list[str] = []

            def seen(response: httpx.Response) -> None:
                challenges.append(response.headers.get("www-authenticate", ""))

            hooks = {"response": [seen]}
            with CAEClient(
                credential, scope, base_url=server.url, transport=outside, event_hooks=hooks
            ) as client:
                try:
                    client.get("/whoami")
                except (ClaimsChallengeFailed, ClaimsChallengeUnresolvable) as exc:
                    # IMDS hands back its cached token (as Azure's does), so the managed
                    # identity has no other token to offer: ClaimsChallengeUnresolvable. A
                    # credential that gets a new token sees it challenged again instead.
                    refused = any("LocationConditionViolation" in c for c in challenges)
                    print("from 127.0.0.2: refused,", exc)
            anonymous = httpx.get(server.url + "/whoami")
            print("without a token:", anonymous.status_code, anonymous.headers["www-authenticate"])
    return verdict(inside.status_code == 200 and refused and anonymous.status_code == 401)


def main(argv: list[str] | None = None) -> int:
    from _devenv import resource_example_main

    return resource_example_main(__doc__, argv, check, create_app, default_port=8001)


if __name__ == "__main__":
    sys.exit(main())
