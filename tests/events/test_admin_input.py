"""The admin API takes operators' input: whatever the body, the answer is 202 or a typed 400
(never a 500), and a subject typed with upper-case GUIDs (as the Entra portal shows them) is
stored as the key tokens are checked against, not one no token can ever match."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from cae_sdk.core.errors import StoreUnavailable
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import MAX_WATERMARK_PAGE, InMemoryEventStore, WatermarkPage
from cae_sdk.events._admin import AdminApp

KEY = "admin-key-0123456789"
HEADERS = {"Authorization": f"Bearer {KEY}"}
TENANT = "72F988BF-86F1-41AF-91AB-2D7CD011DB47"
OID = "3F2504E0-4F89-11D3-9A0C-0305E82C3301"


async def _post(store: InMemoryEventStore, content: bytes) -> httpx.Response:
    app = AdminApp(store, enabled=True, static_key=KEY)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        return await client.post("/events", headers=HEADERS, content=content)


async def test_a_subject_in_upper_case_is_enforced() -> None:
    store = InMemoryEventStore()
    now = int(time.time())
    for subject in (f"user:{TENANT}:{OID}", f"tenant:{TENANT}:anything"):
        body = {"type": "revocation", "subject": subject, "not_before": now}
        assert (await _post(store, json.dumps(body).encode())).status_code == 202
    assert store.watermark(SubjectKey.user(TENANT, OID)) == now  # what a token of that user has
    assert store.watermark(SubjectKey.tenant(TENANT)) == now
    risk = {
        "type": "risk",
        "subject": f"email:{TENANT}:Alice@Contoso.COM",
        "level": "high",
        "at": 1,
    }
    assert (await _post(store, json.dumps(risk).encode())).status_code == 202
    assert store.risk(SubjectKey.email(TENANT, "alice@contoso.com")) is not None


async def test_deeply_nested_json_is_a_400() -> None:
    response = await _post(InMemoryEventStore(), b"[" * 100_000)
    assert response.status_code == 400


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=16,
)
subjects = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda kind, tenant, value: f"{kind}:{tenant}:{value}",
        st.sampled_from(["user", "sp", "session", "tenant", "iss_sub", "email", "x", ""]),
        st.text(max_size=8),
        st.text(max_size=8),
    ),
)
events = st.fixed_dictionaries(
    {"type": st.sampled_from(["revocation", "risk", "locations", "x"])},
    optional={
        "subject": subjects | json_values,
        "not_before": st.integers() | json_values,
        "at": st.integers() | json_values,
        "level": st.sampled_from(["high", "NONE", "x"]) | json_values,
        "locations": json_values,
        "reason": json_values,
        "source": json_values,
        "event_id": json_values,
    },
)


@settings(max_examples=150, deadline=None)
@given(body=events | json_values)
async def test_any_body_gets_202_or_a_typed_400(body: Any) -> None:
    response = await _post(InMemoryEventStore(), json.dumps(body).encode())
    assert response.status_code in (202, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"] == "invalid_request"


class _NoListing(InMemoryEventStore):
    def watermarks(self) -> dict[SubjectKey, int]:
        raise AssertionError("health must not list every watermark")


async def test_health_counts_without_listing_every_watermark() -> None:
    """A load balancer probes /health every few seconds: with a million watermarks, listing them
    to count them held the event loop for seconds each time."""
    store = _NoListing()
    for i in range(3):
        await store.revoke_user(TENANT, f"user-{i}")
    app = AdminApp(store, enabled=True, static_key=KEY)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://admin"
    ) as client:
        health = (await client.get("/health", headers=HEADERS)).json()
    assert health == {"healthy": True, "watermarks": 3}


async def _get(store: InMemoryEventStore, path: str) -> httpx.Response:
    app = AdminApp(store, enabled=True, static_key=KEY)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        return await client.get(path, headers=HEADERS)


async def test_watermarks_are_listed_a_page_at_a_time_without_listing_them_all() -> None:
    store = _NoListing()
    now = int(time.time())
    subjects = {f"user:{TENANT.lower()}:u{i}" for i in range(7)}
    for subject in subjects:
        await store.revoke_user(TENANT, subject.rpartition(":")[2], at=now)
    listed: list[str] = []
    path = "/watermarks?limit=3"
    for _ in range(10):
        page = (await _get(store, path)).json()
        assert len(page["watermarks"]) <= 3
        assert {entry["not_before"] for entry in page["watermarks"]} <= {now}
        listed += [entry["subject"] for entry in page["watermarks"]]
        if page["next"] is None:
            break
        path = f"/watermarks?limit=3&cursor={page['next']}"
    assert sorted(listed) == sorted(subjects)
    default = (await _get(store, "/watermarks")).json()
    assert len(default["watermarks"]) == 7 and default["next"] is None  # default page: 100


async def test_a_malformed_page_request_is_a_400() -> None:
    store = InMemoryEventStore()
    too_many = f"limit={MAX_WATERMARK_PAGE + 1}"
    for query in ("limit=0", too_many, "limit=x", "limit=%EF%BC%95", "limit=1&limit=2",
                  "cursor=", "cursor=nonsense", "cursor=a&cursor=b"):  # fmt: skip
        response = await _get(store, f"/watermarks?{query}")
        assert response.status_code == 400, query
        assert response.json()["error"] == "invalid_request"


class _Unreachable(InMemoryEventStore):
    async def watermark_page(self, limit: int, cursor: str | None = None) -> WatermarkPage:
        raise StoreUnavailable("the backend is away")


async def test_a_listing_the_store_cannot_read_is_a_503() -> None:
    response = await _get(_Unreachable(), "/watermarks")
    assert response.status_code == 503 and response.json()["error"] == "store_unavailable"


def test_watermarks_never_read_again_are_swept_with_later_writes() -> None:
    """A subject revoked once and never seen again used to stay in memory for ever (watermarks
    were dropped only when read)."""
    from cae_sdk.events import RevocationEvent

    now = [1_000_000.0]
    store = InMemoryEventStore(watermark_retention=100, clock=lambda: now[0])
    for i in range(5_000):
        store.apply_local(RevocationEvent(SubjectKey.user("t", f"old-{i}"), int(now[0]), "x"))
    now[0] += 1_000  # every one of them is past its retention
    for i in range(20_000):
        store.apply_local(RevocationEvent(SubjectKey.user("t", f"new-{i}"), int(now[0]), "x"))
    assert store.watermark_count() <= 20_000 + 1_024  # the old ones are gone without a read
    assert len(store.watermarks()) == 20_000


async def test_remember_once_stays_amortised_past_a_hundred_thousand_live_keys() -> None:
    """Past 100,000 live keys (about one SET a second over the 28-hour replay window) the record
    was rebuilt on every call: quadratic work on the event loop."""
    store = InMemoryEventStore(clock=lambda: 1_000.0)
    rebuilds, table = 0, store._seen
    for i in range(150_000):
        assert await store.remember_once(f"ssf:jti-{i}", 100_000)
        if store._seen is not table:
            rebuilds, table = rebuilds + 1, store._seen
    assert rebuilds <= 2
    assert not await store.remember_once("ssf:jti-7", 100_000)  # still remembered


async def test_a_time_far_in_the_future_is_refused_and_pins_nothing() -> None:
    """Milliseconds sent for seconds would pin a risk level or a location set for good (stores
    keep the latest time), so the admin API refuses a time beyond the clock-skew allowance;
    within it, the event is applied."""
    store = InMemoryEventStore()
    now = int(time.time())
    subject = f"email:{TENANT}:alice@contoso.com"
    key = SubjectKey.email(TENANT, "alice@contoso.com")
    events: list[dict[str, Any]] = [
        {"type": "risk", "subject": subject, "level": "none", "at": now * 1000},
        {"type": "revocation", "subject": subject, "not_before": now * 1000},
        {"type": "locations", "locations": [], "at": now * 1000},
    ]
    for body in events:
        response = await _post(store, json.dumps(body).encode())
        assert response.status_code == 400, body
        assert "ahead" in response.json()["description"]
    assert store.watermark(key) is None and store.risk(key) is None
    high = {"type": "risk", "subject": subject, "level": "high", "at": now + 60}
    assert (await _post(store, json.dumps(high).encode())).status_code == 202
    assert store.risk(key) is not None
