"""Property over the whole poll adapter, loop included (RFC 8936): whatever a transmitter
answers round after round (SETs valid and invalid, HTTP errors, garbage, dropped connections)
and however often the store fails, the loop never ends, never acknowledges a SET it did not
apply, never refuses a valid one, and in the end applies and acknowledges every valid SET."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from _redis_helpers import eventually
from _ssf_helpers import AUDIENCE, RSA_KEY, RSA_KEY_2, TENANT, set_claims, sign
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cae_sdk.core.errors import StoreUnavailable
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import InMemoryEventStore
from cae_sdk.events._model import Event
from cae_sdk.events.ssf import DirectorySubjectResolver, PollClient, SetReceiver

ISSUER = "https://transmitter.example"


class FlakyStore(InMemoryEventStore):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def apply(self, event: Event) -> bool:
        if self.failures > 0:
            self.failures -= 1
            raise StoreUnavailable("flaky")
        return await super().apply(event)


answers = st.sampled_from(["sets", "sets", "sets", "500", "garbage", "list", "drop", "401"])
kinds = st.sampled_from(["valid", "valid", "bad-signature", "other-issuer", "not-a-string"])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sets=st.lists(kinds, min_size=1, max_size=8),
    script=st.lists(answers, max_size=12),
    failures=st.integers(0, 4),
    max_events=st.integers(1, 4),
)
async def test_the_poll_loop_applies_every_valid_set_and_acks_nothing_else(
    sets: list[str], script: list[str], failures: int, max_events: int
) -> None:
    queue: dict[str, Any] = {}
    valid: dict[str, SubjectKey] = {}
    for i, kind in enumerate(sets):
        oid = f"00000000-0000-0000-0000-{i:012d}"
        claims = set_claims(ISSUER, oid=oid, jti=f"jti-{i}")
        if kind == "valid":
            queue[claims["jti"]] = sign(claims)
            valid[claims["jti"]] = SubjectKey.user(TENANT, oid)
        elif kind == "bad-signature":
            queue[claims["jti"]] = sign(claims, RSA_KEY_2)  # a kid the transmitter never had
        elif kind == "other-issuer":
            queue[claims["jti"]] = sign({**claims, "iss": "https://evil.example"})
        else:
            queue[claims["jti"]] = {"not": "a SET"}
    acked: list[str] = []
    refused: list[str] = []
    pending = list(script)
    store = FlakyStore(failures)

    def transmitter(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        for jti in body.get("ack", []):
            acked.append(jti)
            queue.pop(jti, None)
        for jti in body.get("setErrs", {}):
            refused.append(jti)
            queue.pop(jti, None)
        answer = pending.pop(0) if pending else "sets"
        if answer == "drop":
            raise httpx.ReadError("connection dropped", request=request)
        if answer in ("500", "401"):
            return httpx.Response(int(answer))
        if answer == "garbage":
            return httpx.Response(200, content=b"{not json")
        if answer == "list":
            return httpx.Response(200, json=[1, 2])
        batch = dict(list(queue.items())[: body.get("maxEvents", 100)])
        return httpx.Response(200, json={"sets": batch, "moreAvailable": len(queue) > len(batch)})

    async def no_wait(delay: float) -> None:
        assert delay >= 0
        await asyncio.sleep(0)

    receiver = SetReceiver.for_transmitter(
        ISSUER, AUDIENCE, store, jwks={"keys": [RSA_KEY.jwk()]},
        resolver=DirectorySubjectResolver(tenant_id=TENANT),
    )  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.MockTransport(transmitter)) as http:
        client = PollClient(
            receiver, f"{ISSUER}/poll", http=http, auth="t", max_events=max_events,
            long_poll=False, sleep=no_wait,
        )  # fmt: skip
        task = client.start()
        try:
            assert await eventually(lambda: not queue or task.done(), 10)
            assert not task.done()  # the loop outlived every answer
        finally:
            await client.stop()
    assert not queue  # every SET answered in the end
    assert set(acked) == set(valid)  # every valid SET acknowledged, nothing else
    assert not set(refused) & set(valid)  # no valid SET refused
    assert set(refused) == set(jti for jti in (f"jti-{i}" for i in range(len(sets)))) - set(valid)
    for subject in valid.values():
        assert store.watermark(subject) is not None  # acknowledged only once applied
