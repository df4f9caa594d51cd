"""A silent partition between one replica and Redis: the replica turns unhealthy by itself and
refuses (fail mode closed) within ``max_staleness`` + 1 s of a revocation it cannot hear of;
thawed, it resumes from its stream position and is healthy again."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from _redis_helpers import count_reloads, eventually, freezable_proxy, throwaway_redis
from _ssf_helpers import RSA_KEY, running
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import RevocationEvent
from cae_sdk.events.redis import RedisEventStore
from cae_sdk.resource import CAEMiddleware, FailMode, TokenValidator

pytestmark = pytest.mark.redis

ISSUER = "https://idp.test/t1/v2.0"
AUDIENCE = "api://test"
MAX_STALENESS = 2.0


def _token(oid: str) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER, "aud": AUDIENCE, "tid": "t1", "oid": oid, "scp": "x", "xms_cc": ["cp1"],
        "iat": now - 60, "nbf": now - 60, "exp": now + 600,
    }  # fmt: skip
    return jwt.encode(claims, RSA_KEY.private, "RS256", headers={"kid": RSA_KEY.kid})


async def _ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def _app(store: RedisEventStore) -> CAEMiddleware:
    validator = TokenValidator(issuer=ISSUER, audiences=[AUDIENCE], jwks={"keys": [RSA_KEY.jwk()]})
    return CAEMiddleware(
        Starlette(routes=[Route("/", _ok)]),
        validator=validator,
        store=store,
        fail_mode=FailMode.CLOSED,
    )


async def test_a_frozen_replica_refuses_in_time_then_resumes_from_its_position() -> None:
    oid = str(uuid.uuid4())
    subject = SubjectKey.user("t1", oid)
    opts: dict[str, Any] = {"prefix": "part:", "reconnect_delay": 0.05}
    with throwaway_redis() as server, freezable_proxy(server.port) as proxy:
        writer = RedisEventStore(server.url, **opts)
        replica = RedisEventStore(proxy.url, max_staleness=MAX_STALENESS, **opts)
        await writer.start()
        await replica.start()
        reloads = count_reloads(replica)
        headers = {"authorization": f"Bearer {_token(oid)}"}
        try:
            async with running(_app(replica)) as url, httpx.AsyncClient() as http:
                assert (await http.get(url, headers=headers)).status_code == 200
                # Events flow before the partition (the replica is following the stream).
                await writer.revoke_user("t1", "before", at=int(time.time()))
                before = SubjectKey.user("t1", "before")
                assert await eventually(lambda: replica.watermark(before) is not None)

                proxy.freeze()
                revoked = time.monotonic()
                await writer.revoke_user("t1", oid, at=int(time.time()))
                response = await http.get(url, headers=headers)
                while response.status_code == 200 and time.monotonic() - revoked < 10:
                    await asyncio.sleep(0.05)
                    response = await http.get(url, headers=headers)
                refused_after = time.monotonic() - revoked
                assert response.status_code == 401
                assert refused_after <= MAX_STALENESS + 1, refused_after
                # It refused because it knows it may be stale, not because it heard of it.
                assert response.json()["reason"] == "EventStoreUnavailable"
                assert replica.watermark(subject) is None and not replica.healthy
                assert replica.staleness() > MAX_STALENESS
                await asyncio.sleep(0.5)  # a while longer: still refusing, nothing hangs
                assert (await http.get(url, headers=headers)).status_code == 401

                proxy.thaw()
                assert await eventually(lambda: replica.healthy, 10)
                assert replica.watermark(subject) is not None
                response = await http.get(url, headers=headers)
                assert response.status_code == 401
                assert response.json()["reason"] == "TokenIssuedBeforeRevocationTimestamp"
                assert reloads == []  # resumed from its stream position, no reload
        finally:
            await writer.close()
            await replica.close()


async def test_an_idle_replica_hears_from_redis_within_its_block_time(redis_url: str) -> None:
    prefix = f"cae-test-{uuid.uuid4().hex[:12]}:"
    store = RedisEventStore(redis_url, prefix=prefix, max_staleness=1.5)
    await store.start()
    try:
        assert store.healthy
        # Nothing is written for longer than max_staleness: blocking reads keep it fresh.
        for _ in range(4):
            await asyncio.sleep(0.5)
            assert store.healthy and store.staleness() <= 1.5
    finally:
        await store.clear()
        await store.close()


async def test_a_replica_whose_position_was_trimmed_reloads_and_misses_nothing() -> None:
    # A retention of 2 s: the write script trims stream entries older than that.
    opts: dict[str, Any] = {"prefix": "trim:", "reconnect_delay": 0.05, "watermark_retention": 2}
    with throwaway_redis() as server, freezable_proxy(server.port) as proxy:
        writer = RedisEventStore(server.url, **opts)
        replica = RedisEventStore(proxy.url, max_staleness=1.5, **opts)
        await writer.start()
        await replica.start()
        reloads = count_reloads(replica)
        try:
            proxy.freeze()
            future = int(time.time()) + 600  # watermarks that outlive the short retention
            # More than two stream nodes (100 entries each): approximate trimming drops whole
            # nodes only.
            subjects = [SubjectKey.user("t1", f"trim-{i}") for i in range(250)]
            for subject in subjects:
                await writer.revoke_user("t1", subject.value, at=future)
            from redis.asyncio import Redis

            raw = Redis.from_url(server.url)
            last = SubjectKey.user("t1", "trim-last")
            for step in range(40):  # each write trims the entries older than the retention
                await asyncio.sleep(0.25)
                await writer.apply(RevocationEvent(last, future + step, "trim"))
                if await raw.xlen("trim:stream") < 100:
                    break
            assert await raw.xlen("trim:stream") < 100  # most of what the replica missed is gone
            await raw.aclose()
            newest = writer.watermark(last)
            proxy.thaw()
            assert await eventually(
                lambda: (
                    replica.healthy
                    and all(replica.watermark(s) == future for s in subjects)
                    and replica.watermark(last) == newest
                ),
                10,
            )
            assert reloads == [1]
        finally:
            await writer.close()
            await replica.close()
