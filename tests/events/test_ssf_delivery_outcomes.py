"""Whatever goes wrong while a SET is processed, push and poll tell the transmitter the same
thing: applied (202 / ack), refused (400 / setErrs) or "deliver it again" (503 + Retry-After /
neither). An unexpected failure (a resolver's bug, a store's surprise) is "again", never a 500,
never the end of the poll loop; and a round with SETs to deliver again backs off before the
next poll instead of spinning on a transmitter that hands them straight back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from _redis_helpers import eventually
from _ssf_helpers import AUDIENCE, RSA_KEY, TENANT, USER_OID, set_claims, sign

from cae_sdk.core.errors import StoreUnavailable
from cae_sdk.core.secevents import SECEVENT_CONTENT_TYPE
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import InMemoryEventStore
from cae_sdk.events._model import Event
from cae_sdk.events.ssf import (
    DirectorySubjectResolver,
    PollClient,
    PushReceiverApp,
    Resolution,
    SetReceiver,
)

ISSUER = "https://transmitter.example"
POISON = "44444444-0000-0000-0000-000000000000"


class BuggyResolver:
    """The operator's directory lookup, which crashes on one user."""

    def __init__(self) -> None:
        self._inner = DirectorySubjectResolver(tenant_id=TENANT)

    def resolve(
        self, subject: Mapping[str, Any], *, event_type: str = "", issuer: str = ""
    ) -> Resolution:
        if POISON in json.dumps(subject):
            raise KeyError("directory bug")
        return self._inner.resolve(subject, event_type=event_type, issuer=issuer)


class DownStore(InMemoryEventStore):
    async def apply(self, event: Event) -> bool:
        raise StoreUnavailable("down")


def _receiver(store: InMemoryEventStore) -> SetReceiver:
    return SetReceiver.for_transmitter(
        ISSUER, AUDIENCE, store, jwks={"keys": [RSA_KEY.jwk()]}, resolver=BuggyResolver()
    )


async def test_push_answers_503_for_an_unexpected_failure() -> None:
    store = InMemoryEventStore()
    app = PushReceiverApp(_receiver(store), authorization="Bearer p")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"authorization": "Bearer p", "content-type": SECEVENT_CONTENT_TYPE}
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as client:
        poison = await client.post(
            "/", content=sign(set_claims(ISSUER, oid=POISON)), headers=headers
        )
        good = await client.post("/", content=sign(set_claims(ISSUER)), headers=headers)
    assert poison.status_code == 503 and int(poison.headers["retry-after"]) > 0
    assert good.status_code == 202
    assert store.watermark(SubjectKey.user(TENANT, USER_OID)) is not None


async def test_the_poll_loop_survives_an_unexpected_failure_and_never_acks_it() -> None:
    poison, good = set_claims(ISSUER, oid=POISON), set_claims(ISSUER)
    queue = {c["jti"]: sign(c) for c in (poison, good)}
    answered: list[dict[str, Any]] = []

    def transmitter(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        answered.append(body)
        for jti in [*body.get("ack", []), *body.get("setErrs", {})]:
            queue.pop(jti, None)
        return httpx.Response(200, json={"sets": dict(queue), "moreAvailable": False})

    store = InMemoryEventStore()

    async def no_wait(delay: float) -> None:
        await asyncio.sleep(0)

    async with httpx.AsyncClient(transport=httpx.MockTransport(transmitter)) as http:
        client = PollClient(_receiver(store), f"{ISSUER}/poll", http=http, auth="t", sleep=no_wait)
        task = client.start()
        try:
            assert await eventually(lambda: len(answered) >= 4 or task.done())
            assert not task.done()  # the loop carries on
        finally:
            await client.stop()
    assert store.watermark(SubjectKey.user(TENANT, USER_OID)) is not None
    assert good["jti"] not in queue and poison["jti"] in queue  # acked / never answered
    assert all(poison["jti"] not in b.get("setErrs", {}) for b in answered)


async def test_a_round_with_sets_to_deliver_again_backs_off() -> None:
    claims = set_claims(ISSUER)
    polls = 0

    def transmitter(request: httpx.Request) -> httpx.Response:
        nonlocal polls
        polls += 1  # hands the unacknowledged SET straight back, as transmitters do
        return httpx.Response(200, json={"sets": {claims["jti"]: sign(claims)}})

    sleeps: list[float] = []

    async def record(delay: float) -> None:
        sleeps.append(delay)
        await asyncio.sleep(0)

    async with httpx.AsyncClient(transport=httpx.MockTransport(transmitter)) as http:
        client = PollClient(
            _receiver(DownStore()), f"{ISSUER}/poll", http=http, auth="t", sleep=record
        )
        task = client.start()
        try:
            assert await eventually(lambda: polls >= 5 or task.done())
        finally:
            await client.stop()
    assert len(sleeps) >= polls - 2 and all(delay > 0 for delay in sleeps)


async def test_the_poll_loop_outlives_a_night_of_failures() -> None:
    """After about a thousand consecutive failures the backoff's exponent used to overflow
    (OverflowError, outside the handled errors): the loop died for good."""
    polls = 0

    def down(request: httpx.Request) -> httpx.Response:
        nonlocal polls
        polls += 1
        return httpx.Response(503)

    async def no_wait(delay: float) -> None:
        assert 0 < delay <= 30
        await asyncio.sleep(0)

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as http:
        client = PollClient(
            _receiver(InMemoryEventStore()), f"{ISSUER}/poll", http=http, auth="t", sleep=no_wait
        )
        client.failures = 5_000  # a transmitter down since last night
        task = client.start()
        try:
            assert await eventually(lambda: polls >= 3 or task.done())
            assert not task.done()
        finally:
            await client.stop()


async def test_a_verification_request_that_failed_leaves_nothing_pending() -> None:
    """The state of a request the transmitter refused was left pending: a later verification
    event naming it was accepted as an answer to a request never made, and periodic checks
    against a transmitter that is down piled states up."""
    from cae_sdk.core.errors import CAEError, EventValidationError
    from cae_sdk.events.ssf import StreamClient, VerificationStates

    sent: list[str] = []

    def transmitter(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("ssf-configuration"):
            return httpx.Response(
                200, json={"issuer": ISSUER, "verification_endpoint": f"{ISSUER}/v"}
            )
        sent.append(json.loads(request.content)["state"])
        return httpx.Response(503)

    states = VerificationStates()
    async with httpx.AsyncClient(transport=httpx.MockTransport(transmitter)) as http:
        streams = StreamClient(ISSUER, http=http, auth="t")
        with pytest.raises(CAEError):
            await streams.verify("s1", states, timeout=0.1)
    assert len(sent) == 1
    with pytest.raises(EventValidationError) as refused:
        states.confirm(sent[0], "s1")
    assert refused.value.err == "invalid_state"
