"""RedisEventStore under CAEMiddleware: the fail mode applies while Redis is away, and an idle
replica notices the outage and catches up after it."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import jwt
import pytest
from _redis_helpers import eventually, throwaway_redis
from _ssf_helpers import RSA_KEY, running
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events.redis import RedisEventStore
from cae_sdk.resource import CAEMiddleware, FailMode, TokenValidator

pytestmark = pytest.mark.redis

ISSUER = "https://idp.test/t1/v2.0"
AUDIENCE = "api://test"


def _token(oid: str) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "tid": "t1",
        "oid": oid,
        "scp": "x",
        "xms_cc": ["cp1"],
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + 600,
    }
    return jwt.encode(claims, RSA_KEY.private, "RS256", headers={"kid": RSA_KEY.kid})


async def _ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


@pytest.mark.parametrize(
    ("fail_mode", "while_down"), [(FailMode.CLOSED, 401), (FailMode.OPEN, 200)]
)
async def test_fail_mode_applies_while_redis_is_away(fail_mode: FailMode, while_down: int) -> None:
    with throwaway_redis() as server:
        store = RedisEventStore(server.url, prefix="fm:", reconnect_delay=0.05)
        await store.start()
        validator = TokenValidator(
            issuer=ISSUER, audiences=[AUDIENCE], jwks={"keys": [RSA_KEY.jwk()]}
        )
        app = CAEMiddleware(
            Starlette(routes=[Route("/", _ok)]),
            validator=validator,
            store=store,
            fail_mode=fail_mode,
        )
        token = _token(str(uuid.uuid4()))
        try:
            async with running(app) as url, httpx.AsyncClient() as http:
                headers = {"authorization": f"Bearer {token}"}
                assert (await http.get(url, headers=headers)).status_code == 200
                server.kill()
                assert await eventually(lambda: not store.healthy, 5)
                assert (await http.get(url, headers=headers)).status_code == while_down
                server.start()
                assert await eventually(lambda: store.healthy, 5)
                assert (await http.get(url, headers=headers)).status_code == 200
        finally:
            await store.close()


async def test_idle_replica_notices_outage_and_catches_up() -> None:
    with throwaway_redis() as server:
        writer = RedisEventStore(server.url, prefix="idle:", reconnect_delay=0.05)
        idle = RedisEventStore(server.url, prefix="idle:", reconnect_delay=0.05)
        await writer.start()
        await idle.start()
        try:
            server.kill()
            assert await eventually(lambda: not idle.healthy, 5)  # without writing anything
            subject = SubjectKey.user("t1", "during-outage")
            await writer.revoke_user("t1", "during-outage", at=int(time.time()))
            assert writer.queued == 1 and idle.watermark(subject) is None
            server.start()
            assert await eventually(lambda: idle.healthy and idle.watermark(subject) is not None, 5)
            # The writer wrote its state back (Redis lost it) before it flushed its queue.
            assert await eventually(lambda: writer.queued == 0 and writer.healthy, 5)
        finally:
            await writer.close()
            await idle.close()


async def test_malformed_stream_entries_are_ignored(redis_url: str) -> None:
    prefix = f"cae-test-{uuid.uuid4().hex[:12]}:"
    store = RedisEventStore(redis_url, prefix=prefix)
    await store.start()
    try:
        from redis.asyncio import Redis

        raw = Redis.from_url(redis_url)
        await raw.xadd(f"{prefix}stream", {"e": b"not json"})
        await raw.xadd(f"{prefix}stream", {"e": json.dumps({"type": "bogus"})})
        await raw.xadd(f"{prefix}stream", {"e": b"[1, 2]"})
        await raw.xadd(f"{prefix}stream", {"other": b"field"})
        await raw.hset(f"{prefix}wm:user:t1:broken", mapping={"ord": "1", "event": "[]"})
        await store.revoke_user("t1", "after", at=int(time.time()))
        await raw.aclose()
        assert await eventually(lambda: store.watermark(SubjectKey.user("t1", "after")) is not None)
        assert store.healthy
        late = RedisEventStore(redis_url, prefix=prefix)
        await late.start()  # resync skips the broken hash
        assert late.healthy and late.watermark(SubjectKey.user("t1", "after")) is not None
        await late.close()
    finally:
        await store.clear()
        await store.close()


async def test_events_no_store_can_hold_do_not_end_the_follower(redis_url: str) -> None:
    prefix = f"cae-test-{uuid.uuid4().hex[:12]}:"
    store = RedisEventStore(redis_url, prefix=prefix)
    writer = RedisEventStore(redis_url, prefix=prefix)
    await store.start()
    await writer.start()
    try:
        from redis.asyncio import Redis

        raw = Redis.from_url(redis_url)
        # Another writer on the stream: shapes event_from_dict used to let through as
        # OverflowError / AttributeError, or a timestamp the mirror cannot pack.
        stream = f"{prefix}stream"
        await raw.xadd(
            stream, {"e": b'{"type":"revocation","subject":"user:t1:x","not_before":1e400}'}
        )
        await raw.xadd(
            stream,
            {"e": json.dumps({"type": "revocation", "subject": "user:t1:x", "not_before": 2**70})},
        )
        await raw.xadd(stream, {"e": json.dumps({"type": "locations", "locations": [5], "at": 1})})
        await raw.aclose()
        await writer.revoke_user("t1", "after", at=int(time.time()))
        assert await eventually(lambda: store.watermark(SubjectKey.user("t1", "after")) is not None)
        assert store.healthy and store.watermark(SubjectKey.user("t1", "x")) is None
    finally:
        await store.clear()
        await writer.close()
        await store.close()
