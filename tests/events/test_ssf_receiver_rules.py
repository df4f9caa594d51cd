"""Receiver rules issue 11 asked for: lose no revocation, widen none.

A backlog after a 25-hour outage, alternative event URIs (SSF 1.0 section 4.2.1), critical
subject members (SSF 1.0 section 3.6), complex subjects as ONE principal (section 3.3.1), and a
failed first write that must still be applied when the SET comes again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from _ssf_helpers import (
    AUDIENCE,
    TENANT,
    USER_OID,
    TransmitterStub,
    running,
    set_claims,
    sign,
    user_subject,
)
from _ssf_transmitter import ConformanceTransmitter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cae_sdk.core.errors import StoreUnavailable
from cae_sdk.core.secevents import CAEP, RISC, SECEVENT_CONTENT_TYPE
from cae_sdk.core.subjects import SubjectKey, SubjectKind
from cae_sdk.events import InMemoryEventStore
from cae_sdk.events.ssf import (
    DirectorySubjectResolver,
    PollClient,
    PushReceiverApp,
    SetReceiver,
    StreamClient,
    poll_delivery,
)

USER = SubjectKey.user(TENANT, USER_OID)
DEVICE_AND_USER = {
    "format": "complex",
    "user": {"format": "opaque", "id": USER_OID},
    "device": {"format": "opaque", "id": "device-1"},
    "tenant": {"format": "opaque", "id": TENANT},
}


@pytest.fixture
async def stub() -> AsyncIterator[tuple[TransmitterStub, httpx.AsyncClient]]:
    transmitter = TransmitterStub()
    async with running(transmitter.app) as url, httpx.AsyncClient() as http:
        transmitter.base_url = url
        yield transmitter, http


def _receiver(issuer: str, http: httpx.AsyncClient, store: Any, **kw: Any) -> SetReceiver:
    return SetReceiver.for_transmitter(
        issuer,
        AUDIENCE,
        store,
        http=http,
        resolver=DirectorySubjectResolver(tenant_id=TENANT),
        **kw,
    )


async def test_poll_after_a_25_hour_outage_applies_every_queued_revocation(
    stub: tuple[TransmitterStub, httpx.AsyncClient],
) -> None:
    transmitter, http = stub
    now = int(time.time())
    store = InMemoryEventStore()
    receiver = _receiver(transmitter.issuer, http, store)
    users = [str(uuid.uuid4()) for _ in range(250)]
    for i, oid in enumerate(users):
        # Spread over the 25 hours the receiver was down, oldest first.
        iat = now - 25 * 3600 + i * 360
        claims = set_claims(
            transmitter.issuer,
            event_type=CAEP.SESSION_REVOKED if i % 2 else RISC.ACCOUNT_DISABLED,
            sub_id=user_subject(oid),
            iat=iat,
        )
        transmitter.queue[claims["jti"]] = sign(claims)
    client = PollClient(receiver, f"{transmitter.base_url}/poll", http=http, auth="poll-token")
    refused: dict[str, Any] = {}
    while True:
        result = await client.poll_once(return_immediately=True)
        refused.update(result.refused)
        assert result.received <= 100  # maxEvents batches (RFC 8936 section 2.1)
        if not result.more_available:
            break
    await client.flush()
    assert refused == {}
    assert transmitter.queue == {}  # every SET acknowledged
    for i, oid in enumerate(users):
        assert store.watermark(SubjectKey.user(TENANT, oid)) == now - 25 * 3600 + i * 360


async def test_alternative_event_uris_are_applied_once(
    stub: tuple[TransmitterStub, httpx.AsyncClient],
) -> None:
    transmitter, http = stub
    store = InMemoryEventStore()
    seen: list[Any] = []
    store.subscribe(seen.append)
    receiver = _receiver(transmitter.issuer, http, store)
    iat = int(time.time()) - 10
    claims = set_claims(transmitter.issuer, event_type=RISC.SESSIONS_REVOKED, iat=iat)
    claims["events"][CAEP.SESSION_REVOKED] = {"event_timestamp": iat - 5}
    result = await receiver.receive(sign(claims))
    assert len(result.mapped.events) == 1 and result.changed == 1
    assert store.watermark(USER) == iat  # the later of the two times, never past iat
    assert len(seen) == 1


@pytest.mark.parametrize(("critical", "applied"), [(None, True), (["device"], False)])
async def test_critical_subject_members_from_the_configuration(
    critical: list[str] | None, applied: bool
) -> None:
    transmitter = ConformanceTransmitter(critical_subject_members=critical)
    async with running(transmitter.app) as base, httpx.AsyncClient() as http:
        transmitter.base_url = base
        store = InMemoryEventStore()
        receiver = _receiver(base, http, store)
        streams = StreamClient(base, http=http, auth=transmitter.issue_token())
        stream = await streams.create(poll_delivery(), [CAEP.SESSION_REVOKED], aud=AUDIENCE)
        jti = transmitter.emit(
            stream["stream_id"], CAEP.SESSION_REVOKED, {}, subject=DEVICE_AND_USER
        )
        poller = PollClient(
            receiver, stream["delivery"]["endpoint_url"], http=http, auth=transmitter.issue_token()
        )
        result = await poller.poll_once(return_immediately=True)
        await poller.flush()
        await transmitter.aclose()
    # SSF 1.0 section 3.6: discarded (and acknowledged), not applied to the other members.
    assert result.acknowledged == [jti]
    assert (store.watermark(USER) is not None) is applied


async def test_a_failed_first_write_is_applied_when_the_set_comes_again(
    stub: tuple[TransmitterStub, httpx.AsyncClient],
) -> None:
    transmitter, http = stub

    class Broken(InMemoryEventStore):
        """apply fails once; forget (the old design's undo) fails always."""

        failures = 1

        async def apply(self, event: Any) -> bool:
            if self.failures:
                self.failures -= 1
                raise StoreUnavailable("down")
            return await super().apply(event)

        async def forget(self, key: str) -> None:
            raise StoreUnavailable("still down")

    store = Broken()
    receiver = _receiver(transmitter.issuer, http, store)
    async with running(PushReceiverApp(receiver, authorization="Bearer p")) as url:
        token = sign(set_claims(transmitter.issuer))
        headers = {"authorization": "Bearer p", "content-type": SECEVENT_CONTENT_TYPE}
        first = await http.post(url, content=token, headers=headers)
        assert first.status_code == 503 and first.headers["retry-after"]
        assert store.watermark(USER) is None
        again = await http.post(url, content=token, headers=headers)
        assert again.status_code == 202
    assert store.watermark(USER) is not None  # applied, not taken for a duplicate


members = st.dictionaries(
    st.sampled_from(["user", "device", "session", "application", "group", "org_unit", "x"]),
    st.fixed_dictionaries(
        {"format": st.sampled_from(["opaque", "email", "iss_sub", "did"])},
        optional={
            "id": st.text(min_size=1, max_size=6),
            "email": st.sampled_from(["a@b.example", "c@d.example"]),
            "iss": st.just("https://idp.example"),
            "sub": st.text(min_size=1, max_size=6),
        },
    ),
    max_size=4,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    named=members,
    with_tenant=st.booleans(),
    event_type=st.sampled_from([CAEP.SESSION_REVOKED, RISC.ACCOUNT_DISABLED]),
)
async def test_complex_subjects_never_widen_to_the_tenant_through_the_push_adapter(
    named: dict[str, Any], with_tenant: bool, event_type: str
) -> None:
    """Property over the whole adapter (HTTP in, store out): a complex subject never yields a
    tenant-wide watermark unless it names the tenant alone, and every answer is 202 or a typed
    400 (SSF 1.0 section 3.3.1)."""
    subject: dict[str, Any] = {"format": "complex", **named}
    if with_tenant:
        subject["tenant"] = {"format": "opaque", "id": TENANT}
    issuer = "https://transmitter.example"
    from _ssf_helpers import RSA_KEY

    store = InMemoryEventStore()
    receiver = SetReceiver.for_transmitter(
        issuer,
        AUDIENCE,
        store,
        jwks={"keys": [RSA_KEY.jwk()]},
        resolver=DirectorySubjectResolver(tenant_id=TENANT, match_email_claims=True),
    )
    app = PushReceiverApp(receiver, authorization="Bearer p")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
        token = sign(set_claims(issuer, event_type=event_type, sub_id=subject))
        response = await client.post(
            "/",
            content=token,
            headers={"authorization": "Bearer p", "content-type": SECEVENT_CONTENT_TYPE},
        )
    assert response.status_code in (202, 400)
    kinds = {key.kind for key in store.watermarks()}
    if SubjectKind.TENANT in kinds:
        assert set(subject) == {"format", "tenant"}
    assert len({key.kind for key in store.watermarks()}) <= 1  # one principal


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
poll_bodies = st.one_of(
    st.fixed_dictionaries(
        {
            "sets": st.dictionaries(
                st.text(min_size=1, max_size=8),
                json_leaf | st.sampled_from(["a.b.c", "not a set"]),
                max_size=5,
            )
        },
        optional={"moreAvailable": json_leaf},
    ),
    st.dictionaries(st.text(max_size=8), json_leaf, max_size=3),
    st.lists(json_leaf, max_size=3),
)


@settings(max_examples=80, deadline=None)
@given(body=poll_bodies)
async def test_every_polled_jti_is_answered_exactly_once_or_the_round_fails_typed(
    body: Any,
) -> None:
    """Property over the poll adapter (RFC 8936 section 2.4): whatever a transmitter answers,
    each delivered jti ends in exactly one of ack, setErrs or "deliver again", or the round
    fails with a typed error; nothing crashes or hangs."""
    from _ssf_helpers import RSA_KEY

    from cae_sdk.core.errors import EventValidationError

    def transmitter(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    receiver = SetReceiver.for_transmitter(
        "https://transmitter.example",
        AUDIENCE,
        InMemoryEventStore(),
        jwks={"keys": [RSA_KEY.jwk()]},
        resolver=DirectorySubjectResolver(tenant_id=TENANT),
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(transmitter)) as http:
        client = PollClient(receiver, "https://transmitter.example/poll", http=http, auth="t")
        try:
            result = await client.poll_once(return_immediately=True)
        except EventValidationError:
            return
    answered = [*result.acknowledged, *result.refused, *result.retry_later]
    assert sorted(answered) == sorted(body.get("sets", {}))


@pytest.mark.redis
async def test_other_idp_subject_kinds_live_in_every_store(tmp_path: Any, redis_url: str) -> None:
    """An email or (iss, sub) watermark survives each store's encoding and reaches a replica
    reading the same backend, where a token carrying that address or pair is challenged."""
    from cae_sdk.core._revocation import evaluate_revocation
    from cae_sdk.core.tokens import TokenClaims
    from cae_sdk.events import RevocationEvent, SQLiteEventStore
    from cae_sdk.events.redis import RedisEventStore

    now = int(time.time())
    email = SubjectKey.email(TENANT, "Alice@Contoso.com")
    pair = SubjectKey.iss_sub(TENANT, "https://login.microsoftonline.com/t/v2.0", "Pairwise:Sub")
    token = TokenClaims(
        {
            "tid": TENANT,
            "oid": USER_OID,
            "iss": "https://login.microsoftonline.com/t/v2.0",
            "sub": "Pairwise:Sub",
            "upn": "alice@contoso.com",
            "scp": "read",
            "iat": now - 60,
        }
    )
    assert email in token.subject_keys() and pair in token.subject_keys()
    prefix = f"i11-kinds-{uuid.uuid4().hex[:8]}:"
    pairs = [
        (SQLiteEventStore(tmp_path / "a.db"), SQLiteEventStore(tmp_path / "a.db")),
        (RedisEventStore(redis_url, prefix=prefix), RedisEventStore(redis_url, prefix=prefix)),
    ]
    for writer, reader in pairs:
        await writer.start()
        await reader.start()
        try:
            for subject in (email, pair):
                await writer.apply(RevocationEvent(subject, now, "sessions_revoked", "ssf"))
            for _ in range(250):  # the SQLite reader polls, the Redis one subscribes
                if reader.watermark(email) == now and reader.watermark(pair) == now:
                    break
                await asyncio.sleep(0.02)
            assert reader.watermark(email) == now and reader.watermark(pair) == now
            assert evaluate_revocation(token, reader.watermark).outcome.value == "challenge"
        finally:
            await writer.close()
            await reader.close()
