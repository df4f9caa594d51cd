"""A SET is acknowledged only once its effect is durable in the store. With Redis away, a
store in queue mode enforces the event at once on this replica and keeps the write in memory
until Redis is back: acknowledging then (202 / ack) made the transmitter forget a SET that a
process restart would lose. It is answered "deliver again" instead; once Redis is back and the
store healthy, the redelivery is acknowledged."""

from __future__ import annotations

import pytest
from _redis_helpers import ThrowawayRedis, eventually, free_port
from _ssf_helpers import AUDIENCE, RSA_KEY, TENANT, USER_OID, set_claims, sign

from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events.redis import RedisEventStore
from cae_sdk.events.ssf import DirectorySubjectResolver, SetReceiver

pytestmark = pytest.mark.redis
ISSUER = "https://transmitter.example"


async def test_no_ack_while_the_write_waits_in_memory_then_ack_once_durable() -> None:
    port = free_port()
    store = RedisEventStore(
        f"redis://127.0.0.1:{port}/0", prefix="durable:", startup_timeout=0.2, reconnect_delay=0.05
    )
    receiver = SetReceiver.for_transmitter(
        ISSUER, AUDIENCE, store, jwks={"keys": [RSA_KEY.jwk()]},
        resolver=DirectorySubjectResolver(tenant_id=TENANT),
    )  # fmt: skip
    token = sign(set_claims(ISSUER))
    try:
        await store.start()  # Redis is not there (yet)
        delivery = await receiver.deliver(token)
        assert not delivery.accepted and not delivery.refused  # deliver again
        assert store.watermark(SubjectKey.user(TENANT, USER_OID)) is not None  # enforced here
        server = ThrowawayRedis(port=port)
        server.start()
        try:
            assert await eventually(lambda: store.healthy, 10)
            assert (await receiver.deliver(token)).accepted  # the redelivery, now durable
        finally:
            server.cleanup()
    finally:
        await store.close()
