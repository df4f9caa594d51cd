"""Admin API over uvicorn, and remediation workflows (webhook, audit log, confirmation)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from _ssf_helpers import running
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cae_sdk.core.decisions import Decision, Outcome, Reason
from cae_sdk.core.errors import ConfigurationError, TokenValidationError
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.core.tokens import TokenClaims
from cae_sdk.events import InMemoryEventStore, RevocationEvent, event_to_dict
from cae_sdk.events._admin import AdminApp
from cae_sdk.events._incidents import RemediationTracker, remediation_kind
from cae_sdk.events._sinks import AuditLog, WebhookNotifier, sign_body
from cae_sdk.events._workflows import Workflows, graph_session_revoker
from cae_sdk.events.graph import GraphClient

KEY = "admin-key-0123456789"
TID = "t1"


class FakeValidator:
    async def validate(self, token: str) -> TokenClaims:
        if token == "admin-token":
            return TokenClaims({"tid": TID, "oid": "admin", "roles": ["CAE.Admin"]})
        if token == "reader-token":
            return TokenClaims({"tid": TID, "oid": "reader", "roles": ["Data.Read"]})
        raise TokenValidationError("bad_signature", "nope")


async def test_admin_api_is_off_by_default() -> None:
    store = InMemoryEventStore()
    async with running(AdminApp(store)) as url, httpx.AsyncClient() as http:
        response = await http.get(f"{url}/health", headers={"authorization": f"Bearer {KEY}"})
        assert response.status_code == 404
    with pytest.raises(ConfigurationError):
        AdminApp(store, enabled=True)
    with pytest.raises(ConfigurationError):
        AdminApp(store, enabled=True, static_key="short")


async def test_admin_api_post_list_health() -> None:
    store = InMemoryEventStore()
    app = AdminApp(store, enabled=True, static_key=KEY, validator=FakeValidator())
    async with running(app) as url, httpx.AsyncClient(base_url=url) as http:
        auth = {"authorization": f"Bearer {KEY}"}
        assert (await http.get("/health")).status_code == 401
        assert (
            await http.get("/health", headers={"authorization": "Bearer wrong"})
        ).status_code == 401
        reader = await http.get("/health", headers={"authorization": "Bearer reader-token"})
        assert reader.status_code == 403 and reader.json()["error"] == "insufficient_scope"
        event = RevocationEvent(
            SubjectKey.user(TID, "u1"), int(time.time()), "user_disabled", "admin"
        )
        posted = await http.post(
            "/events", json=event_to_dict(event), headers={"authorization": "Bearer admin-token"}
        )
        assert posted.status_code == 202 and posted.json() == {"changed": True}
        assert store.watermark(SubjectKey.user(TID, "u1")) == event.not_before
        listing = (await http.get("/watermarks", headers=auth)).json()["watermarks"]
        assert listing == [{"subject": f"user:{TID}:u1", "not_before": event.not_before}]
        assert (await http.get("/health", headers=auth)).json() == {
            "healthy": True,
            "watermarks": 1,
        }
        bad = await http.post("/events", content=b"{not json", headers=auth)
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
        bad = await http.post("/events", json={"type": "revocation"}, headers=auth)
        assert bad.status_code == 400
        assert (await http.get("/nope", headers=auth)).status_code == 404


@dataclass
class Received:
    bodies: list[bytes]
    headers: list[dict[str, str]]
    fail_first: int = 0


def _webhook_app(received: Received) -> Starlette:
    async def hook(request: Request) -> Response:
        if received.fail_first:
            received.fail_first -= 1
            return Response(status_code=503)
        received.bodies.append(await request.body())
        received.headers.append(dict(request.headers))
        return Response(status_code=204)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@dataclass
class FakeRecord:
    decision: Decision
    claims: TokenClaims | None


@pytest.mark.parametrize(
    "body",
    [
        {"type": "revocation", "subject": f"user:{TID}:u1", "not_before": 2**70},
        {"type": "locations", "locations": [5], "at": 1},
        {"type": "risk", "subject": f"user:{TID}:u1", "level": "high", "at": 1e400},
    ],
    ids=["timestamp-out-of-range", "location-not-an-object", "infinite-timestamp"],
)
async def test_admin_api_refuses_malformed_events_with_400(body: dict[str, Any]) -> None:
    store = InMemoryEventStore()
    app = AdminApp(store, enabled=True, static_key=KEY)
    async with running(app) as url, httpx.AsyncClient(base_url=url) as http:
        content = json.dumps(body).replace("Infinity", "1e400")  # JSON has no infinity literal
        response = await http.post(
            "/events",
            content=content,
            headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"},
        )
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert store.watermarks() == {}


async def test_event_workflow_webhook_audit_and_remediation(tmp_path: Path) -> None:
    received = Received([], [], fail_first=1)
    remediated: list[Any] = []

    async def remediate(event: Any) -> None:
        remediated.append(event)

    async def noop_sleep(_: float) -> None:
        return None

    async with running(_webhook_app(received)) as url, httpx.AsyncClient() as http:
        webhook = WebhookNotifier(f"{url}/hook", "s3cret", http=http, sleep=noop_sleep)
        audit = AuditLog(tmp_path / "audit.jsonl")
        workflows = Workflows(
            sinks=[webhook, audit], remediators={"credential_compromise": remediate}
        )
        store = InMemoryEventStore()
        workflows.attach(store)
        await store.revoke_user(TID, "u1", reason="credential_compromise")
        await store.revoke_user(TID, "u2", reason="user_disabled")
        await workflows.close()
    assert len(received.bodies) == 2  # the first 503 was retried
    for body, headers in zip(received.bodies, received.headers):
        expected = sign_body(b"s3cret", headers["x-cae-timestamp"], body)
        assert headers["x-cae-signature"] == expected
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(r["event"]["reason"], r["remediation"]) for r in records] == [
        ("credential_compromise", "self"),
        ("user_disabled", "admin"),
    ]
    assert [e.subject.value for e in remediated] == ["u1"]


async def test_webhook_gives_up_after_retries() -> None:
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)

    async with httpx.AsyncClient() as http:
        from _redis_helpers import free_port

        webhook = WebhookNotifier(
            f"http://127.0.0.1:{free_port()}/x", b"k", http=http, retries=2, sleep=fake_sleep
        )
        await webhook({"kind": "test"})
    assert sleeps == [0.5, 1.0]


async def test_confirmation_records_remediated_with_elapsed_time(tmp_path: Path) -> None:
    clock = [1000.0]
    tracker = RemediationTracker(clock=lambda: clock[0])
    records: list[dict[str, Any]] = []

    async def sink(record: dict[str, Any]) -> None:
        records.append(record)

    workflows = Workflows(sinks=[sink], tracker=tracker)
    claims = TokenClaims({"tid": TID, "oid": "u1", "scp": "access_as_user"})
    challenge = Decision(Outcome.CHALLENGE, Reason.TOKEN_REVOKED)
    await workflows.on_decision(FakeRecord(challenge, claims))
    clock[0] += 12.5
    await workflows.on_decision(FakeRecord(challenge, claims))  # still open: no new incident
    clock[0] += 2.5
    await workflows.on_decision(FakeRecord(Decision(Outcome.ALLOW), claims))
    await workflows.on_decision(FakeRecord(Decision(Outcome.ALLOW), claims))  # nothing open
    await workflows.on_decision(FakeRecord(Decision(Outcome.DENY), None))  # no subject
    assert [r["kind"] for r in records] == ["incident", "remediated"]
    assert records[1]["elapsed_seconds"] == 15.0 and records[1]["remediation"] == "self"
    assert tracker.open_incidents == {}


def test_remediation_labels_follow_seed_001() -> None:
    assert remediation_kind("sessions_revoked").value == "self"
    assert remediation_kind("MultiFactorAuthenticationRequired").value == "self"
    assert remediation_kind("sp_disabled").value == "admin"
    assert remediation_kind("BlockedByConditionalAccessPolicy").value == "it"


@respx.mock
async def test_graph_session_revoker() -> None:
    route = respx.post("https://graph.test/v1.0/users/u1/revokeSignInSessions").mock(
        return_value=httpx.Response(200, json={"value": True})
    )
    async with httpx.AsyncClient() as http:
        revoke = graph_session_revoker(GraphClient(http, "tok", base_url="https://graph.test"))
        await revoke(RevocationEvent(SubjectKey.user(TID, "u1"), 1, "credential_compromise"))
        await revoke(RevocationEvent(SubjectKey.tenant(TID), 1, "x"))  # not a user: nothing
    assert route.call_count == 1
    assert route.calls[0].request.headers["authorization"] == "Bearer tok"
