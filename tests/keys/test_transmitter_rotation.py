"""A freshly rotated transmitter key never gets a final ``400 invalid_key`` (issue 11 item 5).

A real transmitter (configuration + JWKS) on 127.0.0.1 publishes a new key and signs with it at
once. The decoder refreshes at once; when the per-source limit holds the refresh back, it
answers a retryable error (push: 503 + Retry-After) and runs the refresh itself, so the
redelivery is accepted. ``invalid_key`` is only for a key that a fetch started after the SET
arrived does not hold.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cae_sdk.core.errors import EventSourceError, EventValidationError
from cae_sdk.core.secevents import CAEP, SECEVENT_CONTENT_TYPE
from cae_sdk.events import InMemoryEventStore
from cae_sdk.events.ssf import (
    DirectorySubjectResolver,
    PushReceiverApp,
    SetDecoder,
    SetReceiver,
    SetValidationConfig,
    TransmitterKeys,
)

from ..resource.helpers import serve

AUDIENCE = "https://receiver.example/ssf"
TENANT = "11111111-2222-3333-4444-555555555555"


class Key:
    def __init__(self) -> None:
        self.kid = "k-" + uuid.uuid4().hex[:8]
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        data: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(
            self.private.public_key(), as_dict=True
        )
        return {**data, "kid": self.kid, "use": "sig", "alg": "RS256"}


class Transmitter:
    def __init__(self) -> None:
        self.keys = [Key()]
        self.fetches = 0
        self.down = False
        self.url = ""

        async def configuration(request: Request) -> Response:
            return JSONResponse({"issuer": self.url, "jwks_uri": f"{self.url}/jwks"})

        async def jwks(request: Request) -> Response:
            self.fetches += 1
            if self.down:
                return Response(status_code=503)
            return JSONResponse({"keys": [k.jwk() for k in self.keys]})

        self.app = Starlette(
            routes=[
                Route("/.well-known/ssf-configuration", configuration),
                Route("/jwks", jwks),
            ]
        )

    def rotate(self) -> Key:
        key = Key()
        self.keys = [key, *self.keys]
        return key

    def sign(self, key: Key | None = None, kid: str | None = None) -> str:
        key = key or self.keys[0]
        claims = {
            "iss": self.url,
            "aud": AUDIENCE,
            "iat": int(time.time()),
            "jti": uuid.uuid4().hex,
            "sub_id": {"format": "opaque", "id": "session-1"},
            "events": {CAEP.SESSION_REVOKED: {}},
        }
        headers = {"typ": "secevent+jwt", "kid": kid or key.kid}
        return jwt.encode(claims, key.private, "RS256", headers=headers)


@dataclass
class Env:
    transmitter: Transmitter
    http: httpx.AsyncClient

    def decoder(self, **options: Any) -> SetDecoder:
        keys = TransmitterKeys(self.transmitter.url, http=self.http, **options)
        config = SetValidationConfig(issuer=self.transmitter.url, audiences=(AUDIENCE,))
        return SetDecoder(config, keys)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    transmitter = Transmitter()
    with serve(transmitter.app) as url:
        transmitter.url = url
        async with httpx.AsyncClient() as http:
            yield Env(transmitter, http)


async def _until(condition: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_a_key_published_within_the_wait_is_fetched_and_accepted(env: Env) -> None:
    decoder = env.decoder(refresh_cooldown_seconds=0.3, unknown_key_wait=1.0)
    assert await decoder.decode(env.transmitter.sign())
    rotated = env.transmitter.rotate()
    # Unknown kid right after a fetch: the refresh waits out the 0.3 s limit, within the wait.
    event = await decoder.decode(env.transmitter.sign(rotated))
    assert event.issuer == env.transmitter.url
    assert env.transmitter.fetches == 2


async def _loaded_and_refreshed(env: Env, decoder: SetDecoder) -> None:
    """First load, then one unknown-kid refresh (the first load does not start the limit)."""
    assert await decoder.decode(env.transmitter.sign())
    assert await decoder.decode(env.transmitter.sign(env.transmitter.rotate()))
    assert env.transmitter.fetches == 2


async def test_a_rate_limited_refresh_is_retryable_and_runs_by_itself(env: Env) -> None:
    decoder = env.decoder(refresh_cooldown_seconds=1.5, unknown_key_wait=0.2)
    await _loaded_and_refreshed(env, decoder)
    token = env.transmitter.sign(env.transmitter.rotate())
    with pytest.raises(EventSourceError) as caught:  # never a final EventValidationError
        await decoder.decode(token)
    assert caught.value.retry_after is not None and 1 <= caught.value.retry_after <= 3
    assert env.transmitter.fetches == 2
    # The deferred refresh runs without another SET asking for it ...
    await _until(lambda: env.transmitter.fetches == 3)
    await asyncio.sleep(0.1)
    # ... so the redelivery is accepted, without a further fetch.
    assert (await decoder.decode(token)).issuer == env.transmitter.url
    assert env.transmitter.fetches == 3


async def test_only_a_fetch_after_arrival_may_declare_a_key_unknown(env: Env) -> None:
    decoder = env.decoder(refresh_cooldown_seconds=0.0)
    assert await decoder.decode(env.transmitter.sign())
    bogus = env.transmitter.sign(kid="never-published")
    with pytest.raises(EventValidationError) as caught:
        await decoder.decode(bogus)
    assert caught.value.err == "invalid_key"
    assert env.transmitter.fetches == 2  # the verdict came from a fetch after the SET arrived


async def test_bogus_kids_cause_no_fetch_storm(env: Env) -> None:
    decoder = env.decoder(refresh_cooldown_seconds=2.0, unknown_key_wait=0.2)
    await _loaded_and_refreshed(env, decoder)
    tokens = [env.transmitter.sign(kid=f"bogus-{n}") for n in range(20)]
    results = await asyncio.gather(*(decoder.decode(t) for t in tokens), return_exceptions=True)
    assert all(isinstance(r, EventSourceError) for r in results)
    await asyncio.sleep(0.3)
    assert env.transmitter.fetches == 2  # the one deferred refresh has not run yet


async def test_a_key_endpoint_that_fails_is_retryable(env: Env) -> None:
    decoder = env.decoder(refresh_cooldown_seconds=0.0)
    assert await decoder.decode(env.transmitter.sign())
    rotated = env.transmitter.rotate()
    env.transmitter.down = True
    with pytest.raises(EventSourceError) as caught:
        await decoder.decode(env.transmitter.sign(rotated))
    assert caught.value.retry_after is not None
    env.transmitter.down = False
    assert await decoder.decode(env.transmitter.sign(rotated))


async def test_push_receiver_answers_503_then_accepts_the_redelivery(env: Env) -> None:
    keys = TransmitterKeys(
        env.transmitter.url, http=env.http, refresh_cooldown_seconds=1.5, unknown_key_wait=0.2
    )
    config = SetValidationConfig(issuer=env.transmitter.url, audiences=(AUDIENCE,))
    store = InMemoryEventStore()
    receiver = SetReceiver(
        SetDecoder(config, keys),
        store,
        DirectorySubjectResolver(tenant_for_issuer={env.transmitter.url: TENANT}),
        replay_window_seconds=config.replay_window_seconds,
    )
    push = PushReceiverApp(receiver, authorization="Bearer push")
    transport = httpx.ASGITransport(app=push)
    headers = {"authorization": "Bearer push", "content-type": SECEVENT_CONTENT_TYPE}
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        for _ in range(2):  # first load, then one unknown-kid refresh
            sent = await client.post("/", content=env.transmitter.sign(), headers=headers)
            assert sent.status_code == 202
            env.transmitter.rotate()
        token = env.transmitter.sign()  # signed with a key published a moment ago
        retry = await client.post("/", content=token, headers=headers)
        assert retry.status_code == 503 and retry.headers["retry-after"]
        await _until(lambda: env.transmitter.fetches == 3)
        await asyncio.sleep(0.1)
        assert (await client.post("/", content=token, headers=headers)).status_code == 202
    await keys.source.aclose()
