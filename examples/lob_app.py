"""A line-of-business app that calls a CAE-protected API on behalf of a signed-in user.

What it shows
    * ``PublicClientCredential``: device code sign-in (RFC 8628), then silent tokens from MSAL's
      cache; every token request announces the ``cp1`` capability;
    * ``CAEClient``: an ``httpx.Client`` whose calls survive claims challenges. When an admin
      revokes the user's sessions, the next call is challenged and the client gets a new token
      by itself; when a route needs a step-up (authentication context ``c1``), the
      ``interaction_handler`` signs the user in again with the claims (MFA);
    * typed errors: without an interaction handler a step-up raises ``InteractionRequired``
      carrying the claims and a remediation text.

Pointing it at Microsoft Graph (a CAE-enabled API)
    credential = PublicClientCredential(CLIENT_ID, tenant_id=TENANT_ID)  # Entra by default
    with CAEClient(credential, ["https://graph.microsoft.com/User.Read"],
                   base_url="https://graph.microsoft.com/v1.0") as graph:
        me = graph.get("/me").json()
    Graph answers revocations and location changes with the same claims challenges; nothing
    else changes. Register CLIENT_ID as a public client with the User.Read permission.

How to run it
    python examples/lob_app.py --check   # dev identity provider + the FastAPI example API
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from fastapi_resource import create_app  # the FastAPI example next to this file

from cae_sdk import CAEClient, PublicClientCredential, decode_unverified


def sign_in_user(idp: Any, scopes: list[str]) -> PublicClientCredential:
    """The user's credential; device code instructions go to the console."""
    credential: PublicClientCredential

    def step_up(claims: str) -> Mapping[str, Any]:
        print("The API asks for more (MFA / step-up): signing in again with", claims)
        return credential.sign_in_with_device_code(scopes, claims)

    credential = PublicClientCredential(
        idp.seed.public_app.client_id,
        tenant_id=idp.tenant_id,
        authority=idp.authority,
        ca_bundle=idp.ca_bundle,
        instance_discovery=False,
        prompt_callback=lambda message: print("Device code sign-in:", message),
        interaction_handler=step_up,
    )
    return credential


def check() -> int:
    import asyncio

    from fastapi_resource import wait_past

    from cae_sdk.cli.demo.servers import serve
    from cae_sdk.devidp import DevIdentityProvider
    from cae_sdk.events import InMemoryEventStore

    with DevIdentityProvider() as idp:
        store = InMemoryEventStore()
        api = create_app(
            tenant_id=idp.tenant_id,
            app_id=idp.seed.api.app_id,
            authority_host=idp.base_url,
            ca_bundle=idp.ca_bundle,
            store=store,
        )
        scopes = [f"{idp.seed.api.audience}/access_as_user"]
        credential = sign_in_user(idp, scopes)
        seen: list[int] = []
        with (
            serve(api) as server,
            CAEClient(
                credential,
                scopes,
                base_url=server.url,
                event_hooks={"response": [lambda response: seen.append(response.status_code)]},
            ) as client,
        ):
            orders = client.get("/orders")
            print("GET /orders:", orders.status_code, orders.json())
            payroll = client.get("/payroll")  # step-up to c1, answered by the user
            print("GET /payroll:", payroll.status_code, payroll.json())
            # The API hears that the user's sessions were revoked (any event source does this).
            wait_past(decode_unverified(credential.get_token(scopes).token)[1]["iat"])
            asyncio.run(store.revoke_user(idp.tenant_id, idp.seed.user.object_id))
            seen.clear()
            again = client.get("/orders")
            print("after the revocation:", again.status_code, "responses seen:", seen)
    ok = orders.status_code == 200 and payroll.status_code == 200 and seen == [401, 200]
    print("OK" if ok else "UNEXPECTED")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="run the scripted session")
    parser.parse_args(argv)
    return check()


if __name__ == "__main__":
    sys.exit(main())
