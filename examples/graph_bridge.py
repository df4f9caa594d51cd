"""The Entra Graph bridge: directory changes from Microsoft Graph become CAE events.

What it shows
    * Entra does not push its CAE events to third-party APIs; the facts are in Microsoft Graph.
      ``GraphBridge`` follows ``/users/delta`` and ``/servicePrincipals/delta`` (delta links kept
      in the event store) and lists risky users and service principals, and turns "sessions
      revoked", "account disabled", "password changed", "high risk" into watermarks and risk;
    * it authenticates with our own cp1 client credential, so Graph's claims challenges are
      handled like any other;
    * a round is ``await bridge.sync_once()``; ``bridge.start()`` runs it every
      ``interval_seconds`` as a background task of the API.

Against Entra: ``GraphClient(http, credential)`` (base URL ``https://graph.microsoft.com``)
with an app granted ``User.Read.All``, ``Application.Read.All``,
``IdentityRiskyUser.Read.All`` and ``IdentityRiskyServicePrincipal.Read.All``.

How to run it
    python examples/graph_bridge.py --check   # against the dev identity provider's Graph
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
import time
from typing import Any

import httpx

from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import InMemoryEventStore
from cae_sdk.events.graph import GraphBridge, GraphClient


async def two_rounds(idp: Any) -> tuple[int | None, int | None]:
    """A baseline round, the admin acts, a second round; returns the two new watermarks."""
    from _devenv import secret_app_credential, wait_past

    credential = secret_app_credential(idp)  # the seeded app has the Graph roles
    store = InMemoryEventStore()
    tls = ssl.create_default_context(cafile=idp.ca_bundle)
    async with httpx.AsyncClient(verify=tls, timeout=10.0) as http:
        graph = GraphClient(http, credential, base_url=idp.graph_base_url)
        bridge = GraphBridge(store, graph, tenant_id=idp.tenant_id)
        baseline = await bridge.sync_once()
        print("baseline round saw:", baseline.seen)
        await asyncio.to_thread(wait_past, int(time.time()))
        await asyncio.to_thread(idp.admin.revoke_sessions, idp.seed.user.object_id)
        await asyncio.to_thread(idp.admin.disable_service_principal, idp.seed.cert_app.client_id)
        report = await bridge.sync_once()
        print("second round changed:", report.changed)
    user = store.watermark(SubjectKey.user(idp.tenant_id, idp.seed.user.object_id))
    workload = store.watermark(
        SubjectKey.service_principal(idp.tenant_id, idp.seed.cert_app.client_id)
    )
    return user, workload


def check() -> int:
    from _devenv import verdict

    from cae_sdk.devidp import DevIdentityProvider

    with DevIdentityProvider() as idp:
        user, workload = asyncio.run(two_rounds(idp))
    print("watermarks: user", user, "service principal", workload)
    return verdict(user is not None and workload is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="run against a dev IdP's Graph")
    parser.parse_args(argv)
    return check()


if __name__ == "__main__":
    sys.exit(main())
