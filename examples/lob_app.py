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

from fastapi_resource import create_app  # the FastAPI example next to this file

from cae_sdk import CAEClient, decode_unverified


def check() -> int:
    import asyncio

    from _devenv import api_options, serve, status_log, user_credential, verdict, wait_past

    from cae_sdk.devidp import DevIdentityProvider
    from cae_sdk.events import InMemoryEventStore

    with DevIdentityProvider() as idp:
        store = InMemoryEventStore()
        api = create_app(store=store, **api_options(idp))
        scopes = [f"{idp.seed.api.audience}/access_as_user"]
        # The interaction handler signs the user in again when only the user can answer.
        credential = user_credential(idp, scopes, step_up=True)
        seen, hooks = status_log()
        with (
            serve(api) as server,
            CAEClient(credential, scopes, base_url=server.url, event_hooks=hooks) as client,
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
    return verdict(orders.status_code == 200 and payroll.status_code == 200 and seen == [401, 200])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="run the scripted session")
    parser.parse_args(argv)
    return check()


if __name__ == "__main__":
    sys.exit(main())
