"""In-memory (compact) and SQLite event stores; fail modes when a store is unhealthy."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cae_sdk.core import find_claims_challenge
from cae_sdk.core.errors import ConfigurationError
from cae_sdk.core.locations import NamedLocation
from cae_sdk.core.subjects import SubjectKey, SubjectKind
from cae_sdk.core.tokens import TokenClaims
from cae_sdk.events import (
    Event,
    InMemoryEventStore,
    RevocationEvent,
    RiskLevel,
    SQLiteEventStore,
)
from cae_sdk.resource import (
    AccessEvaluator,
    CAEMiddleware,
    CAESettings,
    FailMode,
    RequestFacts,
    TokenValidator,
)

from .helpers import APP_ID, TENANT, USER_OID, JWKSServer, SigningKeys, claims, sign

SUBJECTS = [
    SubjectKey.user(TENANT, USER_OID),
    SubjectKey.service_principal(TENANT, "My-App"),
    SubjectKey.session(TENANT, "CaseKept-Session/123"),
    SubjectKey.tenant("contoso.onmicrosoft.com"),
]


async def test_memory_store_compact_round_trip_and_ttl() -> None:
    now = [1_000_000.0]
    store = InMemoryEventStore(watermark_retention=100, clock=lambda: now[0])
    for i, subject in enumerate(SUBJECTS):
        assert await store.apply(RevocationEvent(subject, 999_950 + i, "test"))
    assert not await store.apply(RevocationEvent(SUBJECTS[0], 999_900, "older"))
    assert store.watermarks() == {s: 999_950 + i for i, s in enumerate(SUBJECTS)}
    assert store.watermark(SUBJECTS[2]) == 999_952
    assert store.watermark(SubjectKey.session(TENANT, "casekept-session/123")) is None
    now[0] += 100
    assert store.watermark(SUBJECTS[0]) is None  # expired after the TTL
    assert SUBJECTS[0] not in store.watermarks()


async def test_sqlite_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    store = SQLiteEventStore(path, poll_interval=0.05)
    await store.start()
    assert await store.revoke_user(TENANT, USER_OID, at=2_000_000_000)
    assert not await store.revoke_user(TENANT, USER_OID, at=1_999_999_999)
    assert await store.set_risk(SUBJECTS[1], "high")
    assert await store.set_named_locations([NamedLocation.from_cidrs("hq", "HQ", ["10.0.0.0/8"])])
    assert await store.remember_once("jti-1", 60)
    assert not await store.remember_once("jti-1", 60)
    await store.set_cursor("delta", "link-1")
    await store.close()

    again = SQLiteEventStore(path)
    await again.start()
    assert again.healthy
    assert again.watermark(SUBJECTS[0]) == 2_000_000_000
    assert again.risk(SUBJECTS[1]) is RiskLevel.HIGH
    assert [loc.id for loc in again.named_locations()] == ["hq"]
    assert await again.get_cursor("delta") == "link-1"
    assert not await again.remember_once("jti-1", 60)
    assert journal_mode(path) == "wal"
    await again.close()


def journal_mode(path: Path) -> str:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


def _write_from_another_process(path: Path, *statements: str) -> None:
    """Run ``statements`` (awaiting on store ``s``) in a separate Python process."""
    body = "".join(f"    {statement}\n" for statement in statements)
    script = (
        "import asyncio\n"
        "from cae_sdk.events import SQLiteEventStore\n"
        "async def main():\n"
        f"    s = SQLiteEventStore({str(path)!r})\n"
        "    await s.start()\n"
        f"{body}"
        "    await s.close()\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()


async def test_sqlite_writes_of_another_process_become_visible(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    store = SQLiteEventStore(path, poll_interval=0.05)
    await store.start()
    heard: list[Event] = []
    store.subscribe(heard.append)
    await asyncio.to_thread(
        _write_from_another_process,
        path,
        f"await s.revoke_user({TENANT!r}, {USER_OID!r}, at=2_000_000_123)",
        'await s.revoke_tenant("t2", at=2_000_000_000)',
    )
    for _ in range(100):
        if store.watermark(SUBJECTS[0]) is not None and len(heard) == 2:
            break
        await asyncio.sleep(0.05)
    assert store.watermark(SUBJECTS[0]) == 2_000_000_123
    assert store.watermark(SubjectKey.tenant("t2")) == 2_000_000_000
    assert len(heard) == 2
    await store.close()


async def test_a_failing_listener_neither_stops_the_others_nor_the_sqlite_poller(
    tmp_path: Path,
) -> None:
    def explode(event: Event) -> None:
        raise RuntimeError("listener bug")

    memory = InMemoryEventStore()
    heard: list[Event] = []
    memory.subscribe(explode)
    memory.subscribe(heard.append)
    assert await memory.revoke_user(TENANT, USER_OID, at=2_000_000_000)
    assert len(heard) == 1

    path = tmp_path / "listeners.db"
    store = SQLiteEventStore(path, poll_interval=0.05)
    writer = SQLiteEventStore(path, poll_interval=3600)
    await store.start()
    await writer.start()
    store.subscribe(explode)
    # Two changes by another writer, seen by two separate polls: a listener that raised on
    # the first must not have stopped the poller (the mirror would go stale while healthy).
    for at in (2_000_000_001, 2_000_000_002):
        assert await writer.revoke_user(TENANT, USER_OID, at=at)
        for _ in range(100):
            if store.watermark(SUBJECTS[0]) == at:
                break
            await asyncio.sleep(0.05)
        assert store.watermark(SUBJECTS[0]) == at
    assert store.healthy
    await writer.close()
    await store.close()


async def test_sqlite_change_committed_while_starting_is_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    path = tmp_path / "race.db"
    writer = SQLiteEventStore(path, poll_interval=3600)
    await writer.start()
    connect = sqlite3.connect
    wrote: list[bool] = []

    class RacingConnection(sqlite3.Connection):
        """Another process commits a revocation while this store reads its start state."""

        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if "FROM changes" in sql and not wrote:
                wrote.append(True)
                writer._write(RevocationEvent(SUBJECTS[0], 2_000_000_321, "race"))
            return super().execute(sql, *args)

    monkeypatch.setattr(
        sqlite3, "connect", lambda *a, **kw: connect(*a, factory=RacingConnection, **kw)
    )
    store = SQLiteEventStore(path, poll_interval=3600)
    await store.start()
    monkeypatch.setattr(sqlite3, "connect", connect)
    await store.poll()
    assert wrote
    assert store.watermark(SUBJECTS[0]) == 2_000_000_321
    await store.close()
    await writer.close()


async def test_sqlite_unreadable_database_turns_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    store = SQLiteEventStore(path, poll_interval=3600)
    await store.start()
    assert await store.poll() == 0 and store.healthy
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE changes")
    assert await store.poll() == 0
    assert not store.healthy
    await store.close()


class _UnhealthyStore(InMemoryEventStore):
    @property
    def healthy(self) -> bool:
        return False


@pytest.mark.parametrize("mode", [FailMode.CLOSED, FailMode.OPEN, "closed", "OPEN"])
async def test_fail_modes(idp: JWKSServer, keys: SigningKeys, mode: FailMode | str) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"served"})

    middleware = CAEMiddleware(
        app,
        validator=TokenValidator(
            issuer=idp.issuer, audiences=[f"api://{APP_ID}"], jwks_uri=f"{idp.base_url}/keys"
        ),
        store=_UnhealthyStore(),
        fail_mode=mode,
    )
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        cp1 = await client.get(
            "/", headers={"Authorization": "Bearer " + sign(keys, claims(idp.issuer))}
        )
        plain = await client.get(
            "/", headers={"Authorization": "Bearer " + sign(keys, claims(idp.issuer, xms_cc=None))}
        )
    if mode in (FailMode.OPEN, "OPEN"):
        assert cp1.text == plain.text == "served"
    else:
        assert cp1.status_code == plain.status_code == 401
        assert find_claims_challenge(cp1.headers) is not None
        assert cp1.json()["reason"] == "EventStoreUnavailable"
        assert 'error="invalid_token"' in plain.headers["www-authenticate"]


def test_fail_open_warns_once_per_outage_not_per_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = _FlakyStore()
    evaluator = AccessEvaluator(store, CAESettings(fail_mode=FailMode.OPEN))
    token = TokenClaims(claims("https://issuer.test/v2.0"))
    facts = RequestFacts("/", "127.0.0.1", None)

    def warnings() -> int:
        return sum(r.levelno == logging.WARNING for r in caplog.records)

    with caplog.at_level(logging.INFO, logger="cae_sdk.resource"):
        for up in (False, False, False, True, True, False, False):
            store.up = up
            assert evaluator.evaluate(token, facts, now=2_000_000_000).allowed
        assert warnings() == 2  # one per outage
        assert any("available again" in r.getMessage() for r in caplog.records)


class _FlakyStore(InMemoryEventStore):
    up = True

    @property
    def healthy(self) -> bool:
        return self.up


def test_sqlite_store_behind_uvicorn_sees_revocations_from_another_process(
    tmp_path: Path, idp: JWKSServer, keys: SigningKeys
) -> None:
    """Two processes, one database: a revocation written by another process (an admin tool,
    another worker) is enforced by the running API on the next poll."""
    import contextlib
    import time

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from .helpers import serve

    path = tmp_path / "api.db"
    store = SQLiteEventStore(path, poll_interval=0.05)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        await store.start()  # in the server's loop: the poller runs there
        yield
        await store.close()

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hello")

    validator = TokenValidator(
        issuer=idp.issuer, audiences=[f"api://{APP_ID}"], jwks_uri=f"{idp.base_url}/keys"
    )
    app = Starlette(
        routes=[Route("/", hello)],
        lifespan=lifespan,
        middleware=[Middleware(CAEMiddleware, validator=validator, store=store)],  # type: ignore[arg-type]
    )
    token = sign(keys, claims(idp.issuer))
    headers = {"Authorization": f"Bearer {token}"}
    with serve(app, lifespan="on") as url:
        assert httpx.get(url, headers=headers).text == "hello"
        _write_from_another_process(
            path, f"await s.revoke_user({TENANT!r}, {USER_OID!r}, at={int(time.time()) + 1})"
        )
        deadline = time.monotonic() + 5
        response = httpx.get(url, headers=headers)
        while response.status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
            response = httpx.get(url, headers=headers)
        assert response.status_code == 401
        assert find_claims_challenge(response.headers) is not None


@given(
    kind=st.sampled_from(list(SubjectKind)),
    tenant=st.one_of(st.uuids().map(str), st.text(min_size=1, max_size=40)),
    value=st.one_of(
        st.uuids().map(lambda u: str(u).upper()), st.uuids().map(str), st.text(min_size=1)
    ),
    at=st.integers(-(2**40), 2**40),
)
def test_compact_watermark_encoding_round_trips(
    kind: SubjectKind, tenant: str, value: str, at: int
) -> None:
    subject = SubjectKey(kind, tenant, value)
    store = InMemoryEventStore(clock=lambda: float(at))
    assert store.apply_local(RevocationEvent(subject, at, "test"))
    assert store.watermarks() == {subject: at}
    assert store.watermark(subject) == at


@pytest.mark.parametrize("field", ["fail_mode", "location_mode"])
def test_unknown_security_modes_are_refused_not_defaulted(field: str) -> None:
    with pytest.raises(ConfigurationError, match=field):
        CAESettings(**{field: "clsoed"})
    with pytest.raises(ConfigurationError):
        CAESettings(**{field: 3})


async def test_sqlite_risk_is_ordered_by_time_across_restart(tmp_path: Path) -> None:
    path = tmp_path / "risk.db"
    store = SQLiteEventStore(path)
    await store.start()
    user = SUBJECTS[1]
    assert await store.set_risk(user, "high", at=100)
    assert not await store.set_risk(user, "low", at=90)  # late and older: ignored
    assert await store.set_risk(user, "none", at=110)
    assert not await store.set_risk(user, "high", at=105)  # cannot resurrect a cleared risk
    await store.close()
    again = SQLiteEventStore(path)
    await again.start()
    assert again.risk(user) is None
    assert not await again.set_risk(user, "high", at=105)
    assert await again.set_risk(user, "medium", at=120)
    assert again.risk(user) is RiskLevel.MEDIUM
    await again.close()


async def test_staleness_and_health_are_exported_as_gauges(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry

    from cae_sdk.observability import PrometheusMetrics

    metrics = PrometheusMetrics(registry=CollectorRegistry())
    store = SQLiteEventStore(tmp_path / "gauges.db", poll_interval=0.05, max_staleness=0.5)
    await store.start()
    metrics.observe_store(store)
    text = metrics.render().decode()
    assert "cae_event_store_healthy 1.0" in text
    assert "cae_event_store_staleness_seconds 0." in text
    await store.close()  # no longer reading: stale at once, and said so
    text = metrics.render().decode()
    assert "cae_event_store_healthy 0.0" in text
    assert "cae_event_store_staleness_seconds +Inf" in text


async def test_a_hung_sqlite_poller_turns_the_store_unhealthy_by_itself(tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "hung.db", poll_interval=0.05, max_staleness=0.3)
    await store.start()
    assert store.healthy
    assert store._poller is not None
    store._poller.cancel()  # the poller is gone (a hung disk, a bug): nobody clears a flag
    for _ in range(100):
        if not store.healthy:
            break
        await asyncio.sleep(0.02)
    assert not store.healthy and store.staleness() > 0.3
    await store.close()
