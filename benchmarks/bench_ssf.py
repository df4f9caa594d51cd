"""Shared Signals poll ingestion: SETs per receiver CPU second, batches of 100 (``maxEvents``).

A transmitter process (uvicorn, RFC 8936 poll endpoint) holds pre-signed RS256 SETs
(``session-revoked`` for distinct users, complex subjects, the CAEP interop profile's
algorithm); this process runs the receiver: ``PollClient`` + ``SetReceiver`` (signature,
claims, mapping, dedup) + ``InMemoryEventStore``. Each poll request acknowledges the previous
batch and asks for 100 more. Reported: SETs applied, wall-clock rate, and SETs per CPU second
of this process (the transmitter's CPU is its own process's). Goal: >= 10,000 per CPU second.

The push endpoint is bounded by one HTTP request per SET (``bench_events.py``); poll moves 100
SETs per request, so the receiver's own work dominates.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import jwt
from _report import print_goal_table
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://bench-transmitter.example"
AUDIENCE = "https://bench-receiver.example/ssf"
TENANT = "bench-tenant"
SETS = int(os.environ.get("BENCH_SSF_SETS", "20000"))
BATCH = 100
GOAL = 10_000.0
SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"

_TRANSMITTER = """
import json, sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

with open(sys.argv[1]) as handle:
    data = json.load(handle)
queue = dict(data["sets"])

async def jwks(request):
    return JSONResponse(data["jwks"])

async def configuration(request):
    base = f"http://127.0.0.1:{sys.argv[2]}"
    return JSONResponse({"issuer": data["issuer"], "jwks_uri": base + "/jwks"})

async def poll(request):
    body = await request.json()
    for jti in body.get("ack", []):
        queue.pop(jti, None)
    for jti in body.get("setErrs", {}):
        queue.pop(jti, None)
    limit = int(body.get("maxEvents", 100))
    sets = dict(list(queue.items())[:limit])
    return JSONResponse({"sets": sets, "moreAvailable": len(queue) > len(sets)})

app = Starlette(routes=[
    Route("/.well-known/ssf-configuration", configuration),
    Route("/jwks", jwks),
    Route("/poll", poll, methods=["POST"]),
])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sets(count: int) -> tuple[dict[str, object], dict[str, str]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="bench-rsa", use="sig", alg="RS256")
    now = int(time.time())
    sets: dict[str, str] = {}
    for i in range(count):
        jti = uuid.uuid4().hex
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now - count + i,
            "jti": jti,
            "sub_id": {
                "format": "complex",
                "user": {"format": "opaque", "id": str(uuid.uuid4())},
                "tenant": {"format": "opaque", "id": TENANT},
            },
            "events": {SESSION_REVOKED: {"event_timestamp": now - count + i}},
        }
        sets[jti] = jwt.encode(
            claims, key, algorithm="RS256", headers={"typ": "secevent+jwt", "kid": "bench-rsa"}
        )
    return {"keys": [jwk]}, sets


async def _ingest(base: str) -> tuple[int, float, float]:
    from cae_sdk.events import InMemoryEventStore
    from cae_sdk.events.ssf import DirectorySubjectResolver, PollClient, SetReceiver

    store = InMemoryEventStore()
    async with httpx.AsyncClient(timeout=30.0) as http:
        receiver = SetReceiver.for_transmitter(
            ISSUER,
            AUDIENCE,
            store,
            http=http,
            configuration_url=f"{base}/.well-known/ssf-configuration",
            resolver=DirectorySubjectResolver(tenant_id=TENANT),
        )
        poller = PollClient(receiver, f"{base}/poll", http=http, auth="bench", max_events=BATCH)
        await poller.poll_once(return_immediately=True)  # warm-up: keys, connection
        wall, cpu = time.perf_counter(), time.process_time()
        applied = 0
        while True:
            result = await poller.poll_once(return_immediately=True)
            applied += len(result.acknowledged)
            if result.refused:
                raise RuntimeError(f"refused: {next(iter(result.refused.values()))}")
            if not result.more_available and not result.received:
                break
        await poller.flush()
        return applied, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    jwks, sets = _sets(SETS + BATCH)
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "sets.json"
        data.write_text(json.dumps({"issuer": ISSUER, "jwks": jwks, "sets": sets}))
        child = subprocess.Popen([sys.executable, "-c", _TRANSMITTER, str(data), str(port)])
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 20
            while True:
                try:
                    httpx.get(f"{base}/jwks", timeout=1.0)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or child.poll() is not None:
                        raise RuntimeError("transmitter did not start") from None
                    time.sleep(0.05)
            applied, wall, cpu = asyncio.run(_ingest(base))
        finally:
            child.terminate()
            child.wait(10)
    per_cpu = applied / cpu if cpu else float("inf")
    print(f"poll ingestion: {applied} SETs in {wall:.2f} s wall, {cpu:.2f} s receiver CPU")
    return print_goal_table(
        [
            ("SETs applied", str(applied), str(SETS), applied >= SETS),
            ("SETs/s (wall clock)", f"{applied / wall:,.0f}", "-", True),
            ("SETs per receiver CPU second", f"{per_cpu:,.0f}", f">= {GOAL:,.0f}", per_cpu >= GOAL),
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
