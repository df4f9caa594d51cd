"""A Shared Signals (SSF) push receiver feeding two API replicas through Redis.

What it shows
    * a ``SetReceiver`` (signature with the transmitter's JWKS, ``iss``/``aud``/``iat``/``jti``
      checks, CAEP/RISC mapping) behind ``PushReceiverApp``, mounted next to the API;
    * creating the push stream at the transmitter (SSF 1.0 stream management) and verifying it;
    * ``RedisEventStore``: the replica that received the SET writes the watermark to Redis and
      appends it to the event stream; the other replica's local mirror has it moments later
      (it follows the stream), so both challenge
      the revoked user's old token. A request never waits on Redis.

How to run it (needs Redis; ``CAE_REDIS_URL``, default ``redis://127.0.0.1:6379/15``)
    python examples/ssf_receiver_redis.py --check

In production the transmitter is your identity provider's SSF endpoint (Okta, authentik,
Keycloak, ...): use its issuer and a bearer token it accepts for stream management.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import ssl
import sys
import time
import uuid
from typing import Any

import httpx
from fastapi_resource import create_app

from cae_sdk.core.secevents import CAEP, RISC
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events.redis import RedisEventStore
from cae_sdk.events.ssf import (
    DirectorySubjectResolver,
    PushReceiverApp,
    SetReceiver,
    StreamClient,
    push_delivery,
)

REDIS_URL = os.environ.get("CAE_REDIS_URL", "redis://127.0.0.1:6379/15")


AUDIENCE = "https://api.example/ssf"  # the aud this receiver asks its stream to carry


async def create_stream(idp: Any, endpoint_url: str, authorization: str) -> dict[str, Any]:
    """Ask the transmitter to push session and account events to ``endpoint_url``; the
    created stream's ``iss`` is checked (SSF 1.0 section 8.1.1.1)."""
    tls = ssl.create_default_context(cafile=idp.ca_bundle)
    async with httpx.AsyncClient(verify=tls, timeout=5.0) as http:
        streams = StreamClient(idp.ssf_issuer, http=http, auth=idp.ssf_access_token())
        return await streams.create(
            push_delivery(endpoint_url, authorization),
            [CAEP.SESSION_REVOKED, CAEP.CREDENTIAL_CHANGE, RISC.ACCOUNT_DISABLED],
            aud=AUDIENCE,
        )


def receiver_for(idp: Any, store: RedisEventStore, audience: str) -> SetReceiver:
    """Verify SETs with the transmitter's discovered keys and apply them to ``store``."""
    return SetReceiver.for_transmitter(
        idp.ssf_issuer,
        audience,
        store,
        resolver=DirectorySubjectResolver(tenant_id=idp.tenant_id),
        http=httpx.AsyncClient(verify=ssl.create_default_context(cafile=idp.ca_bundle)),
    )


def user_token(idp: Any) -> str:
    """The signed-in user's access token (device code, auto-approved by the dev IdP)."""
    from _devenv import user_credential

    scopes = [f"{idp.seed.api.audience}/access_as_user"]
    return user_credential(idp, scopes).get_token(scopes).token


def check() -> int:
    from _devenv import DeferredApp, api_options, serve, verdict, wait_past

    from cae_sdk.devidp import DevIdentityProvider

    prefix = f"cae-example-{uuid.uuid4().hex[:8]}:"
    stores = [RedisEventStore(REDIS_URL, prefix=prefix) for _ in range(2)]
    push = DeferredApp()  # the receiver is configured once the stream (and its aud) exists
    authorization = f"Bearer {secrets.token_urlsafe(24)}"
    with DevIdentityProvider() as idp:
        common = api_options(idp)
        replica_a = create_app(store=stores[0], push_receiver=push, **common)
        replica_b = create_app(store=stores[1], **common)
        with serve(replica_a) as a, serve(replica_b) as b:
            stream = asyncio.run(create_stream(idp, a.url + "/ssf/events", authorization))
            push.app = PushReceiverApp(
                receiver_for(idp, stores[0], str(stream["aud"])), authorization=authorization
            )
            print("stream", stream["stream_id"], "pushes to replica A at", a.url)
            user = SubjectKey.user(idp.tenant_id, idp.seed.user.object_id)
            old_token = user_token(idp)
            wait_past(int(time.time()))
            started = time.perf_counter()
            idp.admin.revoke_sessions(idp.seed.user.object_id)
            seen_on_b = None
            while time.perf_counter() - started < 10:
                if stores[1].watermark(user) is not None:
                    seen_on_b = time.perf_counter() - started
                    break
                time.sleep(0.005)
            print("replica A:", stores[0].watermark(user), "replica B:", stores[1].watermark(user))
            on_b = httpx.get(b.url + "/orders", headers={"Authorization": f"Bearer {old_token}"})
            challenge = on_b.headers.get("www-authenticate", "")
            print("replica B, the user's old token:", on_b.status_code, challenge[:70], "...")
    asyncio.run(_cleanup(prefix))
    if seen_on_b is not None:
        print(f"admin action -> replica B enforces: {seen_on_b * 1000:.0f} ms")
    return verdict(
        seen_on_b is not None and on_b.status_code == 401 and "insufficient_claims" in challenge
    )


async def _cleanup(prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="run against a dev IdP and Redis")
    parser.parse_args(argv)
    return check()


if __name__ == "__main__":
    sys.exit(main())
