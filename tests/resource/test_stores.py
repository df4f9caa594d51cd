"""In-memory (compact) and SQLite event stores; fail modes when a store is unhealthy."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from cae_sdk.core import find_claims_challenge
from cae_sdk.core.locations import NamedLocation
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import (
    Event,
    InMemoryEventStore,
    RevocationEvent,
    RiskLevel,
    SQLiteEventStore,
)
from cae_sdk.resource import CAEMiddleware, FailMode, TokenValidator

from .helpers import APP_ID, TENANT, USER_OID, JWKSServer, SigningKeys, claims, sign

SUBJECTS = [
    SubjectKey.user(TENANT, USER_OID),
    SubjectKey.service_principal(TENANT, "My-App"),
    SubjectKey.session(TENANT, "CaseKept-Session/123"),
    SubjectKey.tenant("contoso.onmicrosoft.com"),
]


async def test_memory_store_compact_round_trip_and_ttl() -> None:
    now = [1_000_000.0]
    store = InMemoryEventStore(watermark_ttl=100, clock=lambda: now[0])
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


async def test_sqlite_writes_of_another_process_become_visible(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    store = SQLiteEventStore(path, poll_interval=0.05)
    await store.start()
    heard: list[Event] = []
    store.subscribe(heard.append)
    script = textwrap.dedent(
        f"""
        import asyncio
        from cae_sdk.events import SQLiteEventStore

        async def main():
            other = SQLiteEventStore({str(path)!r})
            await other.start()
            await other.revoke_user({TENANT!r}, {USER_OID!r}, at=2_000_000_123)
            await other.revoke_tenant("t2", at=2_000_000_000)
            await other.close()

        asyncio.run(main())
        """
    )
    result = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", script], capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr.decode()
    for _ in range(100):
        if store.watermark(SUBJECTS[0]) is not None and len(heard) == 2:
            break
        await asyncio.sleep(0.05)
    assert store.watermark(SUBJECTS[0]) == 2_000_000_123
    assert store.watermark(SubjectKey.tenant("t2")) == 2_000_000_000
    assert len(heard) == 2
    await store.close()


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


@pytest.mark.parametrize("mode", [FailMode.CLOSED, FailMode.OPEN])
async def test_fail_modes(idp: JWKSServer, keys: SigningKeys, mode: FailMode) -> None:
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
    if mode is FailMode.OPEN:
        assert cp1.text == plain.text == "served"
    else:
        assert cp1.status_code == plain.status_code == 401
        assert find_claims_challenge(cp1.headers) is not None
        assert cp1.json()["reason"] == "EventStoreUnavailable"
        assert 'error="invalid_token"' in plain.headers["www-authenticate"]
