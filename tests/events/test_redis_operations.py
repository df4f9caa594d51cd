"""Operating the Redis store: TLS with a private CA, an ACL user holding exactly the documented
rights, Sentinel failover, and a replica restarted while Redis is killed under load."""

from __future__ import annotations

import asyncio
import datetime
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from _redis_helpers import ThrowawayRedis, eventually, free_port, throwaway_redis, wait_port

from cae_sdk.core.subjects import SubjectKey
from cae_sdk.devidp._tls import generate_server_tls
from cae_sdk.events import RevocationEvent, RiskLevel
from cae_sdk.events.redis import RedisEventStore

pytestmark = pytest.mark.redis

# The rights docs/deploy.md documents for the store's ACL user (Redis 7.0; on 7.2+ add
# +client|setinfo, which redis-py sends on connect and tolerates being refused).
ACL_COMMANDS = (
    "+evalsha +script|load +script|exists +hget +hset +hdel +hsetnx +expire +persist +time "
    "+xadd +xread +xinfo|stream +scan +set +get +del +ping"
)


async def test_tls_with_a_private_ca_and_an_acl_user_with_the_documented_rights() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cae-tls-"))
    # A private CA and a server certificate for 127.0.0.1 (the dev identity provider's maker).
    tls = generate_server_tls(tmp, datetime.datetime.now(datetime.timezone.utc))
    ca = tls.ca_path
    port = free_port()
    server = ThrowawayRedis(
        "--port", "0", "--tls-port", str(port),
        "--tls-cert-file", tls.cert_path, "--tls-key-file", tls.key_path,
        "--tls-ca-cert-file", ca, "--tls-auth-clients", "no",
        "--user", "default", "off",
        "--user", "cae", "on", ">s3cret-pass", "~acl:*", "resetchannels", "-@all",
        *ACL_COMMANDS.split(),
        port=port,
    )  # fmt: skip
    server.start()
    url = f"rediss://cae:s3cret-pass@127.0.0.1:{port}/0?ssl_ca_certs={ca}"
    opts: dict[str, Any] = {"prefix": "acl:", "reconnect_delay": 0.05}
    a, b = RedisEventStore(url, **opts), RedisEventStore(url, **opts)
    try:
        await a.start()
        await b.start()
        assert a.healthy and b.healthy
        user = SubjectKey.user("t1", "tls")
        assert await a.revoke_user("t1", "tls", at=int(time.time()))
        await a.set_risk(user, "high")
        assert await eventually(lambda: b.watermark(user) is not None and b.risk(user) is not None)
        assert await a.remember_once("jti", 60) and not await b.remember_once("jti", 60)
        await b.forget("jti")
        await a.set_cursor("c", "v")
        assert await b.get_cursor("c") == "v"
        # Redis restarted empty: the write-back and the reload run under the same rights.
        server.kill()
        assert await eventually(lambda: not a.healthy, 5)
        server.start()
        assert await eventually(lambda: a.healthy and b.healthy, 10)
        late = RedisEventStore(url, **opts)
        await late.start()
        assert late.watermark(user) is not None and late.risk(user) is RiskLevel.HIGH
        await late.close()
        # Without the CA the server is not trusted: the store stays unhealthy, never insecure.
        untrusting = RedisEventStore(url.split("?")[0], startup_timeout=0.5, **opts)
        await untrusting.start()
        assert not untrusting.healthy
        await untrusting.close()
    finally:
        await a.close()
        await b.close()
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


class _Sentinel:
    def __init__(self, primary_port: int) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="cae-sentinel-"))
        config = self.dir / "sentinel.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
            f"sentinel monitor cae 127.0.0.1 {primary_port} 1\n"
            "sentinel down-after-milliseconds cae 400\n"
            "sentinel failover-timeout cae 2000\n"
        )
        binary = shutil.which("redis-server")
        assert binary
        self.proc = subprocess.Popen(
            [binary, str(config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)

    def cleanup(self) -> None:
        self.proc.kill()
        self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


async def test_sentinel_failover_writes_continue_and_nothing_is_lost() -> None:
    primary = ThrowawayRedis()
    primary.start()
    replica = ThrowawayRedis("--replicaof", "127.0.0.1", str(primary.port))
    replica.start()
    sentinel = _Sentinel(primary.port)
    from redis.asyncio import Redis

    probe = Redis(port=replica.port)
    opts: dict[str, Any] = {
        "prefix": "sent:",
        "reconnect_delay": 0.05,
        "sentinels": [("127.0.0.1", sentinel.port)],
        "service_name": "cae",
    }
    a = RedisEventStore("redis://", **opts)
    b = RedisEventStore("redis://", **opts)
    try:
        assert await eventually_async(lambda: _replica_linked(probe), 10)
        await a.start()
        await b.start()
        assert a.healthy and b.healthy
        now = int(time.time())
        written: list[SubjectKey] = []

        async def write(store: RedisEventStore, name: str, count: int) -> None:
            for i in range(count):
                subject = SubjectKey.user("t1", f"{name}-{i}")
                await store.apply(RevocationEvent(subject, now, "failover"))
                written.append(subject)
                await asyncio.sleep(0.01)

        await write(a, "before", 20)
        primary.kill()  # the primary dies; Sentinel promotes the replica
        await asyncio.gather(write(a, "during-a", 40), write(b, "during-b", 40))
        assert await eventually(lambda: a.healthy and b.healthy, 20)
        await write(b, "after", 10)
        info = await probe.info("replication")
        assert info["role"] == "master"  # the replica was promoted
        late = RedisEventStore("redis://", **opts)
        await late.start()
        stores = (a, b, late)
        assert await eventually(
            lambda: all(s.watermark(subject) == now for s in stores for subject in written), 10
        ), [str(x) for x in written if late.watermark(x) != now]
        assert len(written) == 110
        await late.close()
    finally:
        await a.close()
        await b.close()
        await probe.aclose()
        sentinel.cleanup()
        replica.cleanup()
        primary.cleanup()


async def _replica_linked(probe: Any) -> bool:
    info = await probe.info("replication")
    return bool(info.get("master_link_status") == "up")


async def eventually_async(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_redis_and_a_replica_restarted_under_load_converge() -> None:
    """Writers revoke on two replicas; Redis dies and comes back empty; a third replica is
    stopped mid-load and a new one started: no revocation is lost, all converge."""
    with throwaway_redis() as server:
        opts: dict[str, Any] = {"prefix": "restart:", "reconnect_delay": 0.05}
        a, b, c = (RedisEventStore(server.url, **opts) for _ in range(3))
        for store in (a, b, c):
            await store.start()
        now = int(time.time())
        written: list[SubjectKey] = []

        async def writer(store: RedisEventStore, name: str) -> None:
            for i in range(120):
                subject = SubjectKey.user("t1", f"{name}-{i}")
                await store.apply(RevocationEvent(subject, now, "load"))
                written.append(subject)
                await asyncio.sleep(0.003)

        async def chaos() -> None:
            await asyncio.sleep(0.1)
            await c.close()  # a replica goes away mid-load ...
            server.kill()
            await asyncio.sleep(0.3)
            server.start()
            await asyncio.sleep(0.1)

        restarted = RedisEventStore(server.url, **opts)
        try:
            await asyncio.gather(writer(a, "a"), writer(b, "b"), chaos())
            await restarted.start()  # ... and a new one starts after the outage
            stores = (a, b, restarted)
            assert await eventually(lambda: all(s.healthy for s in stores), 10)
            assert await eventually(
                lambda: all(s.watermark(x) == now for s in stores for x in written), 10
            ), [str(x) for x in written if restarted.watermark(x) != now]
            assert len(written) == 240 and a.queued == b.queued == 0
        finally:
            for store in (a, b, c, restarted):
                await store.close()
