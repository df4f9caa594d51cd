"""Events benchmark: revocation propagation across replicas, replication catch-up and partition
detection, Redis sizing, and SET ingestion rate.

1. Propagation: 8 uvicorn processes (``CAEMiddleware`` + ``RedisEventStore``) share one Redis.
   A revocation is posted to replica 0's admin API; every replica is polled with the revoked
   user's token until it answers 401. Reported: p50/p99 from the post to the first challenged
   request, over all replicas. Goal: p99 < 20 ms.
2. Catch-up: a replica that missed 100,000 events resumes from its stream position; time to
   healthy with every event applied. Goal: < 2 s.
3. Partition: the link of a replica to Redis is frozen (forwards nothing, closes nothing); time
   until it reports unhealthy (the fail mode applies). Goal: <= max_staleness (3 s) + 1 s.
4. Sizing: Redis memory per watermark (state key + stream entry), scaled to a million.
5. Ingestion: one uvicorn process (one core) runs the RFC 8935 push receiver; pre-signed ES256
   SETs are pushed over keep-alive connections. Reported: validated SETs/s and SETs per CPU
   second of the receiver process. Goal: >= 2,000 per core.

Redis: a throwaway ``redis-server`` on a free port (no persistence) when the binary exists,
else ``BENCH_REDIS_URL``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import _events_replication
import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

HERE = Path(__file__).resolve().parent
ISSUER = "https://bench-idp.example/tenant/v2.0"
AUDIENCE = "api://bench"
TENANT = "bench-tenant"
ADMIN_KEY = "bench-admin-key-0123456789"
REPLICAS = int(os.environ.get("BENCH_EVENTS_REPLICAS", "8"))
ROUNDS = int(os.environ.get("BENCH_EVENTS_ROUNDS", "100"))
SETS = int(os.environ.get("BENCH_EVENTS_SETS", "6000"))
PROPAGATION_GOAL_MS = 20.0
CATCHUP_GOAL_S = 2.0
PARTITION_GOAL_S = _events_replication.MAX_STALENESS + 1
INGEST_GOAL = 2000.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def _uvicorn(factory: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "--factory", f"_events_apps:{factory}",
        "--app-dir", str(HERE), "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    return subprocess.Popen(command, env={**os.environ, **env})


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _key_material(tmp: Path, private: Any, alg: str) -> Path:
    jwk = json.loads(jwt.get_algorithm_by_name(alg).to_jwk(private.public_key()))
    jwk.update(kid="bench", use="sig", alg=alg)
    path = tmp / f"jwks-{alg}.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    return path


def _access_token(private: Any, oid: str) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER, "aud": AUDIENCE, "tid": TENANT, "oid": oid, "sub": oid,
        "scp": "access_as_user", "xms_cc": ["cp1"], "iat": now - 30, "nbf": now - 30,
        "exp": now + 3600,
    }  # fmt: skip
    return jwt.encode(claims, private, "RS256", headers={"kid": "bench"})


async def _first_challenge(http: httpx.AsyncClient, url: str, token: str, t0: float) -> float:
    headers = {"authorization": f"Bearer {token}"}
    while True:
        response = await http.get(url, headers=headers)
        if response.status_code == 401:
            return (time.perf_counter() - t0) * 1000
        if time.perf_counter() - t0 > 5:
            raise RuntimeError(f"{url} never challenged the revoked token")
        # Poll each replica every millisecond or so: back-to-back polling of eight replicas
        # from one client would take the CPU the replicas need to apply the event.
        await asyncio.sleep(0.001)


async def _propagation(ports: list[int], private: Any) -> list[list[float]]:
    per_replica: list[list[float]] = [[] for _ in ports]
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(limits=limits, timeout=5) as http:
        for _ in range(ROUNDS):
            oid = str(uuid.uuid4())
            token = _access_token(private, oid)
            urls = [f"http://127.0.0.1:{p}/" for p in ports]
            for url in urls:  # warm: the token is valid and cached everywhere
                response = await http.get(url, headers={"authorization": f"Bearer {token}"})
                assert response.status_code == 200, response.text
            event = {
                "type": "revocation", "subject": f"user:{TENANT}:{oid}",
                "not_before": int(time.time()), "reason": "bench",
            }  # fmt: skip
            t0 = time.perf_counter()
            post = http.post(
                f"{urls[0]}admin/events",
                json=event,
                headers={"authorization": f"Bearer {ADMIN_KEY}"},
            )
            results = await asyncio.gather(
                post, *(_first_challenge(http, url, token, t0) for url in urls)
            )
            assert results[0].status_code == 202, results[0].text
            for index, latency in enumerate(results[1:]):
                per_replica[index].append(latency)
    return per_replica


def _sign_sets(count: int) -> list[bytes]:
    private = _EC_KEY
    now = int(time.time())
    sets = []
    for i in range(count):
        claims = {
            "iss": ISSUER, "aud": AUDIENCE, "iat": now, "jti": f"bench-{i}-{uuid.uuid4().hex}",
            "sub_id": {"format": "iss_sub", "iss": ISSUER, "sub": f"user-{i % 500}"},
            "events": {"https://schemas.openid.net/secevent/risc/event-type/account-disabled": {}},
        }  # fmt: skip
        sets.append(
            jwt.encode(
                claims, private, "ES256", headers={"kid": "bench", "typ": "secevent+jwt"}
            ).encode()
        )
    return sets


async def _push_all(port: int, sets: list[bytes], connections: int = 32) -> tuple[float, int]:
    queue = list(reversed(sets))
    accepted = 0

    async def worker() -> None:
        nonlocal accepted
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                body = queue.pop()
                writer.write(
                    b"POST /events HTTP/1.1\r\nhost: bench\r\nauthorization: Bearer bench-push\r\n"
                    b"content-type: application/secevent+jwt\r\ncontent-length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                accepted += status.split()[1] == b"202"
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return time.perf_counter() - start, accepted


_EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _start_redis(tmp: Path) -> tuple[str, subprocess.Popen[bytes] | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        return os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"), None
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    _wait_port(port)
    return f"redis://127.0.0.1:{port}/0", proc


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="cae-bench-events-"))
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    redis_url, redis_proc = _start_redis(tmp)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        env = {
            "BENCH_REDIS_URL": redis_url, "BENCH_PREFIX": f"bench-{uuid.uuid4().hex[:8]}:",
            "BENCH_ADMIN_KEY": ADMIN_KEY, "BENCH_ISSUER": ISSUER, "BENCH_AUDIENCE": AUDIENCE,
            "BENCH_JWKS": str(_key_material(tmp, rsa_key, "RS256")),
        }  # fmt: skip
        ports = [_free_port() for _ in range(REPLICAS)]
        procs += [_uvicorn("replica_app", port, env) for port in ports]
        for port in ports:
            _wait_port(port)
        per_replica = asyncio.run(_propagation(ports, rsa_key))
        for proc in procs:
            proc.terminate()
        samples = [v for values in per_replica for v in values]
        p50, p99 = statistics.median(samples), _percentile(samples, 0.99)

        catchup = asyncio.run(_events_replication.catch_up(redis_url))
        redis_port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
        detected = asyncio.run(_events_replication.partition(redis_port))
        size = asyncio.run(_events_replication.sizing(redis_url))

        push_port = _free_port()
        push_env = {**env, "BENCH_JWKS": str(_key_material(tmp, _EC_KEY, "ES256"))}
        push = _uvicorn("push_app", push_port, push_env)
        procs.append(push)
        _wait_port(push_port)
        asyncio.run(_push_all(push_port, _sign_sets(200)))  # warm-up
        sets = _sign_sets(SETS)
        cpu_before = _cpu_seconds(push.pid)
        elapsed, accepted = asyncio.run(_push_all(push_port, sets))
        cpu = _cpu_seconds(push.pid) - cpu_before
        rate, per_cpu = accepted / elapsed, accepted / max(cpu, 1e-9)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)

    events = _events_replication.CATCHUP_EVENTS
    million = 1_000_000 / 2**20
    print(f"events benchmark (cores: {os.cpu_count()}, python {sys.version.split()[0]})")
    print(f"{'metric':<52}{'value':>12}  goal")
    print(f"{'propagation p50 (post -> 401 on each replica)':<52}{p50:>10.1f}ms")
    print(f"{'propagation p99 (' + str(len(samples)) + f' samples, {REPLICAS} replicas)':<52}"
          f"{p99:>10.1f}ms  < {PROPAGATION_GOAL_MS:.0f} ms")  # fmt: skip
    for index, values in enumerate(per_replica):
        print(f"{'  replica ' + str(index) + ' p50 / p99':<52}"
              f"{statistics.median(values):>6.1f}/{_percentile(values, 0.99):.1f}ms")  # fmt: skip
    print(f"{f'catch-up after {events:,} missed events (to healthy)':<52}"
          f"{catchup['seconds']:>11.2f}s  < {CATCHUP_GOAL_S:.0f} s"
          f"{'' if catchup['resumed'] else ' (RELOADED)'}")  # fmt: skip
    print(f"{'silent partition detected (max of ' + str(len(detected)) + ' trials)':<52}"
          f"{max(detected):>11.2f}s  <= {PARTITION_GOAL_S:.0f} s")  # fmt: skip
    print(f"{'Redis memory per watermark: state key':<52}{size['state_per_watermark']:>11.0f}B"
          f"  ({size['state_per_watermark'] * million:.0f} MiB per million)")  # fmt: skip
    print(f"{'Redis memory per watermark: stream entry':<52}{size['stream_per_entry']:>11.0f}B"
          f"  ({size['stream_per_entry'] * million:.0f} MiB per million)")  # fmt: skip
    print(f"{'SET ingestion, ES256, 1 uvicorn process (SETs/s)':<52}{rate:>12.0f}")
    print(f"{'SET ingestion per receiver CPU second':<52}{per_cpu:>12.0f}  >= {INGEST_GOAL:.0f}")
    print(f"{'SETs accepted':<52}{accepted:>12}/{len(sets)}")
    ok = (
        p99 < PROPAGATION_GOAL_MS
        and catchup["seconds"] < CATCHUP_GOAL_S
        and catchup["complete"]
        and catchup["resumed"]
        and max(detected) <= PARTITION_GOAL_S
        and per_cpu >= INGEST_GOAL
        and accepted == len(sets)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
