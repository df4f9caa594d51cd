"""The OpenID SSF receiver test plans, module by module, push and poll.

Organised as OpenID's conformance suite organises its receiver plans
(``openid-ssf-receiver-test-plan`` and ``openid-ssf-receiver-caep-test-plan``, in
openid-certification/conformance-suite ``src/main/java/net/openid/conformance/openid/ssf/``):
one test per module, named after the module's ``testName``, each run with push (RFC 8935)
and poll (RFC 8936) delivery against an independent transmitter (``_ssf_transmitter.py``:
its own keys, configuration, streams and tampered SETs), with our ``StreamClient``,
``SetReceiver``, ``PushReceiverApp`` and ``PollClient`` on the receiver side.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from _ssf_helpers import AUDIENCE, TENANT, USER_OID, running, user_subject
from _ssf_transmitter import ConformanceTransmitter, Delivered

from cae_sdk.core.errors import ConfigurationError
from cae_sdk.core.secevents import CAEP, RISC, SSF
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import InMemoryEventStore, RiskLevel
from cae_sdk.events.ssf import (
    DirectorySubjectResolver,
    PollClient,
    PushReceiverApp,
    SetReceiver,
    StreamClient,
    StreamVerificationError,
    poll_delivery,
    push_delivery,
)

AUTH = "Bearer conformance-push-secret"
USER = SubjectKey.user(TENANT, USER_OID)
EVENTS = [
    CAEP.SESSION_REVOKED,
    CAEP.CREDENTIAL_CHANGE,
    CAEP.DEVICE_COMPLIANCE_CHANGE,
    CAEP.RISK_LEVEL_CHANGE,
    RISC.ACCOUNT_DISABLED,
    RISC.ACCOUNT_PURGED,
    RISC.CREDENTIAL_COMPROMISE,
]


class TokenSource:
    """A credential that caches its token until expiry, like MSAL (``get_token(scopes)``)."""

    def __init__(self, tx: ConformanceTransmitter) -> None:
        self.tx = tx
        self._token: tuple[str, float] | None = None

    def get_token(self, scopes: Sequence[str]) -> str:
        if self._token is None or self._token[1] <= time.time():
            self._token = (self.tx.issue_token(), time.time() + self.tx.token_lifetime)
        return self._token[0]


@dataclass
class Env:
    tx: ConformanceTransmitter
    store: InMemoryEventStore
    receiver: SetReceiver
    streams: StreamClient
    method: str
    push_url: str
    http: httpx.AsyncClient
    credential: TokenSource
    stream_id: str = ""

    async def create(self, events: list[str] = EVENTS) -> dict[str, Any]:
        delivery = push_delivery(self.push_url, AUTH) if self.method == "push" else poll_delivery()
        stream = await self.streams.create(delivery, events, aud=AUDIENCE, receiver=self.receiver)
        self.stream_id = stream["stream_id"]
        return stream

    def poller(self) -> PollClient:
        endpoint = self.tx.streams[self.stream_id].config["delivery"]["endpoint_url"]
        return PollClient(
            self.receiver, endpoint, http=self.http, auth=self.credential, scopes=["ssf"]
        )

    async def deliver(self) -> None:
        """Hand every queued SET to the receiver and let it answer."""
        if self.method == "push":
            await self.tx.push_all(self.stream_id)
            return
        poller = self.poller()
        while True:
            result = await poller.poll_once(return_immediately=True)
            if not result.more_available:
                break
        await poller.flush()

    async def verify(self, timeout: float = 5.0) -> bool:
        verify = self.streams.verify(self.stream_id, self.receiver, timeout=timeout)
        task = asyncio.create_task(verify)
        while not task.done():
            await self.deliver()
            await asyncio.sleep(0.01)
        return await task

    def answer(self, jti: str) -> Delivered:
        found = self.tx.answer_for(jti)
        assert found is not None, f"no answer for {jti}"
        return found


@pytest.fixture(params=["push", "poll"])
async def env(request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    tx = ConformanceTransmitter()
    async with running(tx.app) as base, httpx.AsyncClient() as http:
        tx.base_url = base
        store = InMemoryEventStore()
        receiver = SetReceiver.for_transmitter(
            base,
            AUDIENCE,
            store,
            http=http,
            resolver=DirectorySubjectResolver(tenant_id=TENANT),
            allowed_tenants=[TENANT],
        )
        credential = TokenSource(tx)
        streams = StreamClient(base, http=http, auth=credential, scopes=["ssf"])
        async with running(PushReceiverApp(receiver, authorization=AUTH)) as push_url:
            yield Env(tx, store, receiver, streams, request.param, push_url, http, credential)
        await tx.aclose()


def _accepted(answer: Delivered) -> bool:
    return 200 <= answer.status < 300


# -- openid-ssf-receiver-test-plan ---------------------------------------------------------


async def test_openid_ssf_receiver_happypath(env: Env) -> None:
    # Create, read, update, replace, delete (SSF 1.0 sections 8.1.1.1 to 8.1.1.5).
    stream = await env.create()
    assert (await env.streams.get(env.stream_id))["stream_id"] == stream["stream_id"]
    assert (await env.streams.update(env.stream_id, {"description": "x"}))["description"] == "x"
    replaced = await env.streams.replace(
        env.stream_id, {"delivery": stream["delivery"], "events_requested": EVENTS}
    )
    assert replaced["events_requested"] == EVENTS
    await env.streams.delete(env.stream_id, receiver=env.receiver)
    methods = [m for m, path in env.tx.calls if path == "/streams"]
    assert methods == ["POST", "GET", "PATCH", "PUT", "DELETE"]
    assert env.tx.streams == {}


async def test_openid_ssf_receiver_stream_create_delete(env: Env) -> None:
    await env.create()
    await env.streams.delete(env.stream_id)
    assert env.tx.streams == {}


async def test_openid_ssf_receiver_stream_status_update(env: Env) -> None:
    await env.create()
    assert (await env.streams.set_status(env.stream_id, "paused"))["status"] == "paused"
    assert env.tx.streams[env.stream_id].status == "paused"
    status = await env.streams.status(env.stream_id, receiver=env.receiver)
    assert status["status"] == "paused"
    assert not env.receiver.streams.get(env.stream_id).delivering
    await env.streams.delete(env.stream_id)


async def test_openid_ssf_receiver_stream_verification(env: Env) -> None:
    await env.create()
    assert await env.verify()
    verifications = [a for a in env.tx.answers if _accepted(a)]
    assert verifications, "the verification SET was acknowledged (202 or ack)"
    await env.streams.delete(env.stream_id)


async def test_openid_ssf_receiver_unsolicited_stream_verification(env: Env) -> None:
    # SSF 1.0 section 8.1.4: a transmitter may verify at any time, without a state.
    await env.create()
    subject = {"format": "opaque", "id": env.stream_id}
    jti = env.tx.emit(env.stream_id, SSF.VERIFICATION, {}, subject=subject)
    await env.deliver()
    assert _accepted(env.answer(jti))


async def test_openid_ssf_receiver_stream_supported_events(env: Env) -> None:
    await env.create()
    assert await env.verify()
    now = int(time.time())
    payloads = {
        CAEP.SESSION_REVOKED: {"event_timestamp": now - 5},
        CAEP.CREDENTIAL_CHANGE: {"credential_type": "password", "change_type": "update"},
        CAEP.DEVICE_COMPLIANCE_CHANGE: {
            "previous_status": "compliant",
            "current_status": "not-compliant",
        },
        CAEP.RISK_LEVEL_CHANGE: {"principal": "USER", "current_level": "HIGH"},
        RISC.ACCOUNT_DISABLED: {},
        RISC.ACCOUNT_PURGED: {},
        RISC.CREDENTIAL_COMPROMISE: {"credential_type": "password"},
    }
    jtis = [env.tx.emit(env.stream_id, t, p) for t, p in payloads.items()]
    await env.deliver()
    assert all(_accepted(env.answer(j)) for j in jtis)
    assert env.store.watermark(USER) is not None
    assert env.store.risk(USER) is RiskLevel.HIGH
    assert set(env.store.watermarks()) == {USER}  # nothing wider than the user


async def test_openid_ssf_receiver_invalid_set_rejection(env: Env) -> None:
    # Corrupted signature, wrong iss, wrong aud, unknown kid: RFC 8935 section 2.3/2.4 over
    # push, never acknowledged but reported in setErrs over poll (RFC 8936 section 2.4).
    await env.create()
    assert await env.verify()
    expected = {
        "bad-signature": "invalid_key",
        "wrong-issuer": "invalid_issuer",
        "wrong-audience": "invalid_audience",
        "unknown-kid": "invalid_key",
    }
    jtis = {
        env.tx.emit(env.stream_id, CAEP.SESSION_REVOKED, {}, tamper=tamper): err
        for tamper, err in expected.items()
    }
    await env.deliver()
    for jti, err in jtis.items():
        answer = env.answer(jti)
        assert answer.status == 400 and answer.body is not None
        assert answer.body["err"] == err and answer.body["description"]
        if env.method == "push":
            assert answer.headers["content-type"] == "application/json"
            assert answer.headers["content-language"]  # RFC 8935 section 2.3: MUST
    assert env.store.watermarks() == {}


async def test_openid_ssf_receiver_redelivered_set(env: Env) -> None:
    await env.create()
    assert await env.verify()
    jti, token = env.tx.sign(env.stream_id, RISC.ACCOUNT_DISABLED, {})
    env.tx.queue(env.stream_id, jti, token)
    await env.deliver()
    first = env.store.watermark(USER)
    await env.tx.redeliver(env.stream_id, jti, token)  # same jti, same token
    await env.deliver()
    answers = [a for a in env.tx.answers if a.jti == jti]
    assert len(answers) == 2 and all(_accepted(a) for a in answers)
    assert env.store.watermark(USER) == first


async def test_openid_ssf_receiver_removed_subject_event(env: Env) -> None:
    # SSF 1.0 section 9.3: events may still come for a removed subject; tolerate them.
    await env.create()
    assert await env.verify()
    removed = {"format": "email", "email": "gone@example.com"}
    await env.streams.remove_subject(env.stream_id, removed)
    assert env.tx.streams[env.stream_id].removed == [removed]
    jti = env.tx.emit(env.stream_id, CAEP.SESSION_REVOKED, {}, subject=removed)
    await env.deliver()
    assert _accepted(env.answer(jti))
    await env.streams.add_subject(env.stream_id, removed)
    assert env.tx.streams[env.stream_id].added == [removed]


async def test_openid_ssf_receiver_verification_behind_queued_events(env: Env) -> None:
    # SSF 1.0 section 8.1.4.2: the verification event may come behind queued events.
    await env.create()
    queued = [env.tx.emit(env.stream_id, CAEP.SESSION_REVOKED, {}) for _ in range(3)]
    assert await env.verify()
    assert all(_accepted(env.answer(j)) for j in queued)
    assert env.store.watermark(USER) is not None


async def test_openid_ssf_receiver_verification_wrong_state(env: Env) -> None:
    await env.create()
    env.tx.next_verification = "wrong-state"
    with pytest.raises(StreamVerificationError):
        await env.verify(timeout=0.5)
    refused = [a for a in env.tx.answers if a.status == 400]
    assert refused and refused[0].body is not None
    assert refused[0].body["err"] == "invalid_state"  # SSF 1.0 section 8.1.4.1
    assert await env.verify()  # the next request is answered properly


async def test_openid_ssf_receiver_verification_wrong_subject(env: Env) -> None:
    await env.create()
    env.tx.next_verification = "wrong-subject"
    with pytest.raises(StreamVerificationError):
        await env.verify(timeout=0.5)
    refused = [a for a in env.tx.answers if a.status == 400]
    assert refused and refused[0].body is not None and refused[0].body["err"]
    assert await env.verify()


async def test_openid_ssf_receiver_stream_issuer_mismatch(env: Env) -> None:
    # SSF 1.0 section 8.1.1.1: a stream whose iss is not the transmitter's is not used.
    env.tx.create_iss_override = env.tx.issuer + "/not-this-transmitter"
    with pytest.raises(ConfigurationError):
        await env.create()
    assert [c for c in env.tx.calls if c[1] != "/streams"] == []  # no verify, status, poll
    assert env.tx.streams == {}  # deleted again


async def test_openid_ssf_receiver_transmitter_initiated_status_change(env: Env) -> None:
    # SSF 1.0 section 8.1.5: stream-updated before pausing, after enabling; held events come.
    await env.create()
    assert await env.verify()
    paused = env.tx.announce(env.stream_id, "paused", "Transmitter maintenance")
    await env.deliver()
    assert _accepted(env.answer(paused))
    state = env.receiver.streams.get(env.stream_id)
    assert state.status == "paused" and state.reason == "Transmitter maintenance"
    held = env.tx.emit(env.stream_id, RISC.ACCOUNT_DISABLED, {})
    await env.deliver()
    assert env.tx.answer_for(held) is None  # held by the transmitter
    enabled = env.tx.announce(env.stream_id, "enabled", "done")
    await env.deliver()
    assert _accepted(env.answer(enabled)) and _accepted(env.answer(held))
    assert env.receiver.streams.get(env.stream_id).delivering
    assert env.store.watermark(USER) is not None


async def test_openid_ssf_receiver_access_token_expiry(env: Env) -> None:
    # CAEP interop profile 2.7: short-lived tokens; after a 401 invalid_token the receiver
    # gets a new token and repeats the request.
    env.tx.token_lifetime = 0.5
    await env.create()
    await asyncio.sleep(0.6)
    jti = env.tx.emit(env.stream_id, CAEP.SESSION_REVOKED, {})
    await env.deliver()
    await env.streams.delete(env.stream_id)
    assert env.tx.tokens_issued >= 2
    assert _accepted(env.answer(jti))


# -- openid-ssf-receiver-caep-test-plan ----------------------------------------------------


async def test_openid_ssf_receiver_stream_caep_interop(env: Env) -> None:
    stream = await env.create([CAEP.SESSION_REVOKED, CAEP.CREDENTIAL_CHANGE])
    assert (await env.streams.get(env.stream_id))["stream_id"] == stream["stream_id"]
    assert (await env.streams.status(env.stream_id))["status"] == "enabled"
    assert await env.verify()
    jtis = [
        env.tx.emit(env.stream_id, CAEP.SESSION_REVOKED, {}, subject=user_subject()),
        env.tx.emit(
            env.stream_id,
            CAEP.CREDENTIAL_CHANGE,
            {"credential_type": "password", "change_type": "update"},
        ),
    ]
    await env.deliver()
    assert all(_accepted(env.answer(j)) for j in jtis)
    assert set(env.store.watermarks()) == {USER}
