"""RFC 8936 poll client and SSF stream management against a local transmitter stub."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from _redis_helpers import eventually
from _ssf_helpers import (
    AUDIENCE,
    TENANT,
    USER_OID,
    TransmitterStub,
    running,
    set_claims,
    sign,
)

from cae_sdk.core.errors import ConfigurationError, EventSourceError, TokenAcquisitionError
from cae_sdk.core.secevents import CAEP, RISC
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import InMemoryEventStore
from cae_sdk.events.ssf import (
    DirectorySubjectResolver,
    PollClient,
    PushReceiverApp,
    SetReceiver,
    StreamClient,
    build_poll_request,
    parse_poll_response,
    poll_delivery,
    push_delivery,
)

USER = SubjectKey.user(TENANT, USER_OID)


@dataclass
class Env:
    stub: TransmitterStub
    store: InMemoryEventStore
    receiver: SetReceiver
    http: httpx.AsyncClient

    def poller(self, **kw: object) -> PollClient:
        return PollClient(
            self.receiver,
            f"{self.stub.base_url}/poll",
            http=self.http,
            auth="poll-token",
            **kw,  # type: ignore[arg-type]
        )


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    stub = TransmitterStub()
    async with running(stub.app) as url, httpx.AsyncClient() as http:
        stub.base_url = url
        store = InMemoryEventStore()
        receiver = SetReceiver.for_transmitter(
            url,
            AUDIENCE,
            store,
            http=http,
            resolver=DirectorySubjectResolver(tenant_for_issuer={url: TENANT}),
        )
        yield Env(stub, store, receiver, http)


def test_poll_request_and_response_shapes() -> None:
    body = build_poll_request(
        ack=["a"], errors={"b": ("invalid_key", "bad")}, max_events=5, return_immediately=True
    )
    assert body == {
        "maxEvents": 5,
        "returnImmediately": True,
        "ack": ["a"],
        "setErrs": {"b": {"err": "invalid_key", "description": "bad"}},
    }
    assert parse_poll_response({"sets": {"j": "t", "bad": 3}, "moreAvailable": True}) == (
        {"j": "t", "bad": 3},
        True,
    )
    assert parse_poll_response({}) == ({}, False)
    with pytest.raises(ValueError):
        parse_poll_response({"sets": []})


async def test_poll_acks_reports_errors_and_follows_more_available(env: Env) -> None:
    good = [set_claims(env.stub.issuer, iat=int(time.time()) - i) for i in range(3)]
    bad = set_claims("https://evil.example")
    for claims in good:
        env.stub.queue[claims["jti"]] = sign(claims)
    env.stub.queue[bad["jti"]] = sign(bad)
    client = env.poller(max_events=2)
    first = await client.poll_once(return_immediately=True)
    assert first.received == 2 and first.more_available
    second = await client.poll_once(return_immediately=True)
    assert second.received == 2 and not second.more_available
    await client.flush()
    assert env.stub.queue == {}  # everything answered: acked or refused
    acked = [jti for poll in env.stub.polls for jti in poll.get("ack", [])]
    errors = {k: v for poll in env.stub.polls for k, v in poll.get("setErrs", {}).items()}
    assert sorted(acked) == sorted(c["jti"] for c in good)  # each acknowledged exactly once
    assert list(errors) == [bad["jti"]] and errors[bad["jti"]]["err"] == "invalid_issuer"
    assert env.store.watermark(USER) == max(c["iat"] for c in good)


async def test_background_poll_long_polls_and_backs_off(env: Env) -> None:
    sleeps: list[float] = []

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)
        await asyncio.sleep(0)

    env.stub.fail_polls = 2
    client = env.poller(sleep=fake_sleep, backoff_initial=0.1)
    client.start()
    claims = set_claims(env.stub.issuer, event_type=CAEP.SESSION_REVOKED)
    env.stub.queue[claims["jti"]] = sign(claims)
    assert await eventually(lambda: env.store.watermark(USER) is not None)
    await client.stop()
    assert env.store.watermark(USER) == claims["iat"]
    assert len(sleeps) >= 2 and sleeps[1] > sleeps[0] * 1.0  # exponential backoff after 503s
    assert any(p["returnImmediately"] is False for p in env.stub.polls)  # long poll
    assert env.stub.queue == {}  # the stop() flush acknowledged it


async def test_background_poll_survives_a_failed_token_acquisition(env: Env) -> None:
    calls: list[int] = []

    def flaky_token() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise TokenAcquisitionError("identity provider unreachable")
        return "poll-token"

    async def no_sleep(delay: float) -> None:
        await asyncio.sleep(0)

    client = PollClient(
        env.receiver, f"{env.stub.base_url}/poll", http=env.http, auth=flaky_token, sleep=no_sleep
    )
    claims = set_claims(env.stub.issuer, event_type=CAEP.SESSION_REVOKED)
    env.stub.queue[claims["jti"]] = sign(claims)
    task = client.start()
    try:
        assert await eventually(lambda: env.store.watermark(USER) is not None or task.done())
        assert not task.done()  # the failed acquisition was retried, not the loop's end
        assert client.failures == 0 and len(calls) >= 2
    finally:
        await client.stop()


async def test_poll_with_wrong_credentials_raises(env: Env) -> None:
    client = PollClient(env.receiver, f"{env.stub.base_url}/poll", http=env.http, auth="nope")
    with pytest.raises(EventSourceError) as refused:
        await client.poll_once(return_immediately=True)
    assert refused.value.status == 401


async def test_stream_lifecycle_and_push_verification(env: Env) -> None:
    streams = StreamClient(env.stub.issuer, http=env.http, auth="mgmt-token")
    async with running(PushReceiverApp(env.receiver, authorization="Bearer push-1")) as push_url:
        stream = await streams.create(
            push_delivery(push_url, "Bearer push-1"), [RISC.ACCOUNT_DISABLED]
        )
        stream_id = stream["stream_id"]
        assert (await streams.get(stream_id))["delivery"]["endpoint_url"] == push_url
        assert await streams.verify(stream_id, env.receiver.verification, timeout=5)
        updated = await streams.update(stream_id, {"description": "cae"})
        assert updated["description"] == "cae"
        replaced = await streams.replace(
            stream_id, {"delivery": poll_delivery(), "events_requested": []}
        )
        assert replaced["delivery"]["method"] == "urn:ietf:rfc:8936"
        assert (await streams.set_status(stream_id, "paused"))["status"] == "paused"
        assert (await streams.status(stream_id))["status"] == "paused"
        subject = {"format": "iss_sub", "iss": env.stub.issuer, "sub": USER_OID}
        await streams.add_subject(stream_id, subject)
        assert env.stub.subjects[stream_id] == [subject]
        await streams.remove_subject(stream_id, subject)
        assert env.stub.subjects[stream_id] == []
        assert len(await streams.list_streams()) == 1
        await streams.delete(stream_id)
        with pytest.raises(EventSourceError) as info:
            await streams.get(stream_id)
        assert info.value.status == 404
        with pytest.raises(ConfigurationError):
            await streams.set_status(stream_id, "sleeping")


async def test_poll_verification_and_auth_failures(env: Env) -> None:
    streams = StreamClient(env.stub.issuer, http=env.http, auth="mgmt-token")
    stream = await streams.create(poll_delivery(), [RISC.ACCOUNT_DISABLED])
    waiter = asyncio.create_task(
        streams.verify(stream["stream_id"], env.receiver.verification, timeout=5)
    )
    await asyncio.sleep(0.05)
    await env.poller().poll_once(return_immediately=True)
    assert await waiter
    denied = StreamClient(env.stub.issuer, http=env.http, auth="wrong")
    with pytest.raises(EventSourceError) as info:
        await denied.list_streams()
    assert info.value.status == 401 and info.value.code == "access_denied"
    mismatched = StreamClient(
        env.stub.issuer + "/x",
        http=env.http,
        auth="mgmt-token",
        configuration_url=f"{env.stub.base_url}/.well-known/ssf-configuration",
    )
    with pytest.raises(ConfigurationError):
        await mismatched.discover()


async def test_non_string_set_is_refused_not_left_pending(env: Env) -> None:
    env.stub.queue["weird"] = 42  # type: ignore[assignment]
    client = env.poller()
    result = await client.poll_once(return_immediately=True)
    assert result.refused == {"weird": ("invalid_request", "SET is not a compact JWS string")}
    await client.flush()
    assert env.stub.queue == {}
