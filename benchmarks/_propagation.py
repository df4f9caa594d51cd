"""Propagation of a revocation to replica processes, timed in the replicas themselves.

The replicas (``_events_apps.replica_app``) stamp, on the machine's one monotonic clock, the
instant their mirror applied the revocation and the first request they refused for it. The
benchmark process only writes (``POST /admin/events`` to replica 0, its send time is ``t0``)
and, in probed rounds, sends requests; it speaks raw HTTP/1.1 over keep-alive sockets (a few
tens of microseconds per request), so it takes little of the CPU the replicas need.

Rounds alternate (interleaved, so drift in the machine's load hits both alike):

* quiet: no request for ``QUIET`` seconds after the write; what is measured is ``t0`` ->
  applied on each replica, the system's own propagation (from that instant every request is
  refused), plus the replica's service time of the request refused right after;
* probed: each replica gets a request with the revoked token every ``interval`` seconds; what
  is measured is ``t0`` -> the response of the first refused request, stamped by the replica.
  It includes the wait for the next probe (at most ``interval``) and the probes' own load.

A round counts when the LAST replica is done ("on every replica"); the per-replica samples are
reported too.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SETTLE = 0.03  # seconds of quiet before a round's write (the warm-up requests are done)
QUIET = 0.06  # seconds a quiet round leaves the replicas alone after the write


@dataclass
class Samples:
    """Milliseconds after ``t0``; one list entry per round (lists of one value per replica)."""

    applied: list[list[float]] = field(default_factory=list)
    refused: list[list[float]] = field(default_factory=list)
    """Probed rounds: the response of the first refused request. Quiet rounds: applied plus
    the replica's service time of the request refused right after (arrival -> response)."""
    client: list[list[float]] = field(default_factory=list)
    acked: list[float] = field(default_factory=list)
    written: list[float] = field(default_factory=list)
    """The write's arrival in replica 0 (the machine's scheduling delay before any work)."""
    probes: int = 0
    probe_seconds: float = 0.0


class Connection:
    """One keep-alive HTTP/1.1 connection that sends prebuilt requests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        status = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length) if length else b""
        return int(status.split()[1]), body

    def close(self) -> None:
        self.writer.close()


def get(path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return f"GET {path} HTTP/1.1\r\nhost: bench\r\n{lines}\r\n".encode()


def post_json(path: str, body: dict[str, Any], headers: dict[str, str]) -> bytes:
    raw = json.dumps(body).encode()
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = (
        f"POST {path} HTTP/1.1\r\nhost: bench\r\n{lines}content-type: application/json\r\n"
        f"content-length: {len(raw)}\r\n\r\n"
    )
    return head.encode() + raw


async def _probe(conn: Connection, request: bytes, interval: float, samples: Samples) -> float:
    """Send ``request`` every ``interval`` until it is refused; the client's receive time."""
    deadline = time.monotonic() + 5
    while True:
        status, _ = await conn.send(request)
        samples.probes += 1
        if status == 401:
            return time.monotonic()
        if status != 200 or time.monotonic() > deadline:
            raise RuntimeError(f"probe answered {status}")
        await asyncio.sleep(interval)


async def _stamps(conns: list[Connection], oid: str) -> list[dict[str, Any]]:
    found = []
    for conn in conns:
        status, body = await conn.send(get(f"/bench/stamps?oid={oid}"))
        assert status == 200, body
        found.append(json.loads(body))
    return found


async def _round(
    conns: list[Connection],
    admin: Connection,
    token: str,
    oid: str,
    event: dict[str, Any],
    admin_key: str,
    interval: float | None,
    samples: Samples,
) -> None:
    probe = get("/", {"authorization": f"Bearer {token}", "x-bench-oid": oid})
    for conn in conns:  # warm: the token is verified and cached on every replica
        status, body = await conn.send(probe)
        assert status == 200, body
    await asyncio.sleep(SETTLE)
    write = post_json("/admin/events", event, {"authorization": f"Bearer {admin_key}"})
    probes: list[asyncio.Task[float]] = []
    if interval is not None:
        started = time.monotonic()
        probes = [asyncio.create_task(_probe(c, probe, interval, samples)) for c in conns]
        await asyncio.sleep(interval)
    t0 = time.monotonic()
    status, body = await admin.send(write)
    acked = time.monotonic()
    assert status == 202, body
    if probes:
        seen = await asyncio.gather(*probes)
        samples.probe_seconds += time.monotonic() - started
        found = await _stamps(conns, oid)
        samples.refused.append([(f["refused"][1] - t0) * 1000 for f in found])
        samples.client.append([(t - t0) * 1000 for t in seen])
    else:
        # Nothing asks the replicas anything while the event travels: reading the stamps
        # early would take CPU from the replicas still applying it.
        await asyncio.sleep(QUIET)
        found = await _stamps(conns, oid)
        while any(f["applied"] is None for f in found):  # not there yet: look again later
            await asyncio.sleep(0.02)
            later = await _stamps(conns, oid)
            pairs = zip(found, later, strict=True)
            found = [f if f["applied"] is not None else g for f, g in pairs]
        for conn in conns:  # and every replica refuses the token now
            status, _ = await conn.send(probe)
            assert status == 401, status
        served = [f["refused"] for f in await _stamps(conns, oid)]
        samples.refused.append(
            [(f["applied"] - t0 + s[1] - s[0]) * 1000 for f, s in zip(found, served, strict=True)]
        )
    samples.applied.append([(f["applied"] - t0) * 1000 for f in found])
    samples.written.append((found[0]["written"] - t0) * 1000)
    samples.acked.append((acked - t0) * 1000)


async def propagation(
    ports: list[int],
    *,
    rounds: int,
    interval: float,
    token_for: Callable[[str], str],
    event_for: Callable[[str], dict[str, Any]],
    admin_key: str,
) -> tuple[Samples, Samples]:
    """``rounds`` quiet and ``rounds`` probed rounds, interleaved; returns (quiet, probed)."""
    conns = [await Connection.open(port) for port in ports]
    admin = await Connection.open(ports[0])
    quiet, probed = Samples(), Samples()
    try:
        for index in range(2 * rounds):
            oid = str(uuid.uuid4())
            probing = index % 2 == 1
            await _round(
                conns,
                admin,
                token_for(oid),
                oid,
                event_for(oid),
                admin_key,
                interval if probing else None,
                probed if probing else quiet,
            )
    finally:
        for conn in [*conns, admin]:
            conn.close()
    return quiet, probed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """CPU time of a process from the scheduler's own account (``/proc/<pid>/schedstat``,
    nanoseconds), exact where the tick-sampled ``/proc/<pid>/stat`` is not."""
    with open(f"/proc/{pid}/schedstat", encoding="ascii") as handle:
        return int(handle.read().split()[0]) / 1e9


async def follower_cost(url: str, prefix: str, pids: list[int], events: int, gap: float) -> float:
    """CPU seconds each replica spends per revocation it applies from the stream: ``events``
    revocations written ``gap`` seconds apart (each one wakes every replica, as in production),
    no HTTP request meanwhile. Averaged over the replicas."""
    from cae_sdk.core.subjects import SubjectKey
    from cae_sdk.events import RevocationEvent
    from cae_sdk.events.redis import RedisEventStore

    writer = RedisEventStore(url, prefix=prefix)
    await writer.start()
    try:
        before = [cpu_seconds(pid) for pid in pids]
        for _ in range(events):
            subject = SubjectKey.user("bench-tenant", str(uuid.uuid4()))
            await writer.apply(RevocationEvent(subject, int(time.time()), "bench"))
            await asyncio.sleep(gap)
        spent = [cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True)]
    finally:
        await writer.close()
    return sum(spent) / len(spent) / events
