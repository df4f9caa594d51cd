"""RFC 8935 push receiver over real uvicorn, with a real transmitter stub serving its JWKS."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from _ssf_helpers import (
    AUDIENCE,
    RSA_KEY,
    RSA_KEY_2,
    TENANT,
    USER_OID,
    TransmitterStub,
    running,
    set_claims,
    sign,
)

from cae_sdk.core.secevents import CAEP, SECEVENT_CONTENT_TYPE, SSF
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import InMemoryEventStore, RiskLevel
from cae_sdk.events.ssf import (
    DirectorySubjectResolver,
    PushReceiverApp,
    SetDecoder,
    SetReceiver,
    SetValidationConfig,
    TransmitterKeys,
)

AUTH = "Bearer push-secret"
USER = SubjectKey.user(TENANT, USER_OID)


@dataclass
class Env:
    stub: TransmitterStub
    store: InMemoryEventStore
    receiver: SetReceiver
    url: str
    http: httpx.AsyncClient

    async def post(
        self, token: str, *, auth: str | None = AUTH, ctype: str = SECEVENT_CONTENT_TYPE
    ) -> httpx.Response:
        headers = {"content-type": ctype}
        if auth is not None:
            headers["authorization"] = auth
        return await self.http.post(self.url, content=token, headers=headers)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    stub = TransmitterStub()
    async with running(stub.app) as stub_url, httpx.AsyncClient() as http:
        stub.base_url = stub_url
        config = SetValidationConfig(issuer=stub_url, audiences=(AUDIENCE,))
        keys = TransmitterKeys(stub_url, http=http, refresh_cooldown_seconds=60)
        store = InMemoryEventStore()
        receiver = SetReceiver(
            SetDecoder(config, keys),
            store,
            DirectorySubjectResolver(tenant_for_issuer={stub_url: TENANT}),
            replay_window_seconds=config.replay_window_seconds,
            allowed_tenants=[TENANT],
        )
        async with running(PushReceiverApp(receiver, authorization=AUTH)) as url:
            yield Env(stub, store, receiver, url, http)


def _set(env: Env, **kw: object) -> str:
    return sign(set_claims(env.stub.issuer, **kw))  # type: ignore[arg-type]


async def test_valid_set_is_accepted_and_applied(env: Env) -> None:
    iat = int(time.time()) - 5
    response = await env.post(_set(env, iat=iat))
    assert response.status_code == 202 and response.content == b""
    assert env.store.watermark(USER) == iat


async def test_redelivered_jti_is_acknowledged_and_applied_once(env: Env) -> None:
    # Reported a second apart: on equal times the more severe level would win (the stores'
    # one tie rule), whatever the order.
    now = int(time.time())
    high = _set(
        env, event_type=CAEP.RISK_LEVEL_CHANGE, payload={"current_level": "high"}, iat=now - 1
    )
    low = _set(env, event_type=CAEP.RISK_LEVEL_CHANGE, payload={"current_level": "low"}, iat=now)
    assert (await env.post(high)).status_code == 202
    assert (await env.post(low)).status_code == 202
    assert (await env.post(high)).status_code == 202  # redelivery: acknowledged again
    assert env.store.risk(USER) is RiskLevel.LOW  # ... but not applied a second time


async def test_reordered_delivery_keeps_the_newest_watermark(env: Env) -> None:
    now = int(time.time())
    assert (await env.post(_set(env, iat=now - 1))).status_code == 202
    assert (await env.post(_set(env, iat=now - 100))).status_code == 202
    assert env.store.watermark(USER) == now - 1


@pytest.mark.parametrize(
    ("auth", "ctype", "err"),
    [
        (None, SECEVENT_CONTENT_TYPE, "authentication_failed"),
        ("Bearer wrong", SECEVENT_CONTENT_TYPE, "authentication_failed"),
        (AUTH, "application/json", "invalid_request"),
    ],
)
async def test_request_level_errors(env: Env, auth: str | None, ctype: str, err: str) -> None:
    response = await env.post(_set(env), auth=auth, ctype=ctype)
    assert response.status_code == 400
    assert response.json()["err"] == err and response.json()["description"]
    assert env.store.watermarks() == {}


async def test_only_post_is_allowed_and_oversized_bodies_are_refused(env: Env) -> None:
    assert (await env.http.get(env.url)).status_code == 405
    response = await env.post("x" * 70_000)
    assert response.status_code == 400 and response.json()["err"] == "invalid_request"


async def test_foreign_issuer_and_audience_are_refused_and_not_applied(env: Env) -> None:
    foreign = sign(set_claims("https://evil.example"))
    assert (await env.post(foreign)).json()["err"] == "invalid_issuer"
    other_aud = _set(env, aud="https://someone-else")
    assert (await env.post(other_aud)).json()["err"] == "invalid_audience"
    assert env.store.watermarks() == {}


async def test_event_for_a_tenant_the_transmitter_may_not_speak_for(env: Env) -> None:
    token = _set(
        env,
        sub_id={
            "format": "complex",
            "tenant": {"format": "opaque", "id": "other-tenant"},
            "user": {"format": "opaque", "id": USER_OID},
        },
    )
    response = await env.post(token)
    assert response.json()["err"] == "access_denied"


async def test_jwks_rotation_during_delivery(env: Env) -> None:
    assert (await env.post(_set(env))).status_code == 202
    fetches = env.stub.jwks_fetches
    env.stub.keys = [RSA_KEY_2]  # the transmitter rotates its key
    rotated = sign(set_claims(env.stub.issuer), RSA_KEY_2)
    assert (await env.post(rotated)).status_code == 202  # unknown kid -> one refresh
    assert env.stub.jwks_fetches == fetches + 1
    # The retired key: only a fetch after the SET arrived may call it unknown (a final 400), and
    # the cooldown defers that fetch, so the SET is retryable; bogus kids cause no fetch storm.
    for _ in range(3):
        stale = sign(set_claims(env.stub.issuer), RSA_KEY)
        response = await env.post(stale)
        assert response.status_code == 503 and response.headers["retry-after"]
    assert env.stub.jwks_fetches == fetches + 1


async def test_verification_event_state(env: Env) -> None:
    env.receiver.verification.expect("state-1")
    wrong = _set(
        env,
        event_type=SSF.VERIFICATION,
        payload={"state": "state-2"},
        sub_id={"format": "opaque", "id": "stream-1"},
    )
    assert (await env.post(wrong)).json()["err"] == "invalid_state"
    right = _set(
        env,
        event_type=SSF.VERIFICATION,
        payload={"state": "state-1"},
        sub_id={"format": "opaque", "id": "stream-1"},
    )
    assert (await env.post(right)).status_code == 202
    assert await env.receiver.verification.wait("state-1", 0.1)
    assert env.store.watermarks() == {}


async def test_a_verification_given_up_on_is_forgotten(env: Env) -> None:
    states = env.receiver.verification
    states.expect("late")
    assert not await states.wait("late", 0.01)
    late = _set(
        env,
        event_type=SSF.VERIFICATION,
        payload={"state": "late"},
        sub_id={"format": "opaque", "id": "stream-1"},
    )
    # Nobody waits for it any more: the state was dropped, not kept for ever.
    assert (await env.post(late)).json()["err"] == "invalid_state"


async def test_redelivered_verification_event_is_acknowledged_again(env: Env) -> None:
    env.receiver.verification.expect("state-1")
    verification = _set(
        env,
        event_type=SSF.VERIFICATION,
        payload={"state": "state-1"},
        sub_id={"format": "opaque", "id": "stream-1"},
    )
    assert (await env.post(verification)).status_code == 202
    assert await env.receiver.verification.wait("state-1", 0.1)
    # The transmitter lost our 202 and delivers the same SET again: a duplicate jti is
    # acknowledged (RFC 8935 section 2.3), not refused for a state that was already confirmed.
    assert (await env.post(verification)).status_code == 202


async def test_discovery_issuer_mismatch_fails_closed() -> None:
    stub = TransmitterStub()
    async with running(stub.app) as url, httpx.AsyncClient() as http:
        stub.base_url = url
        stub.issuer_override = url + "/other"
        keys = TransmitterKeys(url, http=http)
        decoder = SetDecoder(SetValidationConfig(issuer=url, audiences=(AUDIENCE,)), keys)
        with pytest.raises(Exception) as info:
            await decoder.decode(sign(set_claims(url)))
        assert getattr(info.value, "err", None) == "invalid_key"


async def test_unstored_event_is_503_and_applied_on_redelivery(env: Env) -> None:
    from cae_sdk.core.errors import StoreUnavailable

    class Flaky(InMemoryEventStore):
        failures = 1

        async def apply(self, event):  # type: ignore[no-untyped-def]
            if self.failures:
                self.failures -= 1
                raise StoreUnavailable("down")
            return await super().apply(event)

    flaky = Flaky()
    env.receiver.store = flaky
    token = _set(env)
    response = await env.post(token)
    assert response.status_code == 503 and response.headers["retry-after"]
    assert (await env.post(token)).status_code == 202  # redelivery is not taken for a duplicate
    assert flaky.watermark(USER) is not None


async def test_unreachable_key_endpoint_is_503_not_a_refusal(env: Env) -> None:
    env.stub.fail_jwks = True
    token = _set(env)
    response = await env.post(token)
    assert response.status_code == 503  # the transmitter keeps the SET and delivers it again
    env.stub.fail_jwks = False
    assert (await env.post(token)).status_code == 202
    assert env.store.watermark(USER) is not None


async def test_retryable_errors_carry_the_sources_retry_after(env: Env) -> None:
    from cae_sdk.core.errors import EventSourceError

    async def refuse(token: str) -> object:
        raise EventSourceError("key refresh deferred", status=503, retry_after=12.2)

    env.receiver.receive = refuse  # type: ignore[method-assign]
    response = await env.post(_set(env))
    assert response.status_code == 503 and response.headers["retry-after"] == "13"
