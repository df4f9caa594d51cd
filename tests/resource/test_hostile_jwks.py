"""A slow or hostile JWKS endpoint never holds a request past its bound (issue 10 item 8).

A real server on 127.0.0.1 stays silent, trickles one byte every half second, or streams 48 MB.
Every fetch has one overall deadline (not a per-read timeout), the size cap is enforced while
the body streams, an unknown ``kid`` waits at most a second, and a cold start is answered
``keys_unavailable`` (the middleware: 503 ``temporarily_unavailable``) within ``fetch_timeout``.
Time bounds asserted here are the code's own deadlines, with generous slack.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cae_sdk.core.errors import TokenValidationError
from cae_sdk.events import InMemoryEventStore
from cae_sdk.keys._source import KeyFetchError
from cae_sdk.resource import CAEMiddleware, TokenValidator

from .helpers import APP_ID, SigningKeys, claims, sign
from .hostile_jwks import HUGE_BYTES, HostileJWKS

ISSUER = "https://issuer.test/v2.0"


@pytest.fixture
async def hostile(keys: SigningKeys) -> AsyncIterator[HostileJWKS]:
    async with HostileJWKS(keys.jwks()).running() as server:
        yield server


def _validator(server: HostileJWKS, **options: Any) -> TokenValidator:
    return TokenValidator(
        issuer=ISSUER, audiences=[f"api://{APP_ID}"], jwks_uri=server.url, **options
    )


async def _refusal(validator: TokenValidator, token: str) -> tuple[str, float, float | None]:
    started = time.monotonic()
    with pytest.raises(TokenValidationError) as caught:
        await validator.validate(token)
    return caught.value.reason, time.monotonic() - started, caught.value.retry_after


@pytest.mark.parametrize("mode", ["silent", "trickle"])
async def test_cold_start_is_keys_unavailable_within_fetch_timeout(
    hostile: HostileJWKS, keys: SigningKeys, mode: str
) -> None:
    hostile.mode = mode
    validator = _validator(hostile, fetch_timeout=1.0)
    reason, elapsed, retry_after = await _refusal(validator, sign(keys, claims(ISSUER)))
    assert reason == "keys_unavailable"
    assert elapsed < 3.0  # fetch_timeout is 1 s: a trickle cannot stretch it
    assert retry_after is not None and retry_after >= 1
    assert isinstance(validator.keys.last_error, KeyFetchError)
    await validator.aclose()


@pytest.mark.parametrize("mode", ["silent", "trickle"])
async def test_unknown_kid_waits_at_most_a_second(
    hostile: HostileJWKS, keys: SigningKeys, mode: str
) -> None:
    validator = _validator(hostile, unknown_kid_cooldown=0)  # fetch_timeout: the default 5 s
    assert await validator.validate(sign(keys, claims(ISSUER)))
    hostile.mode = mode
    rotated = sign(SigningKeys(), claims(ISSUER, sub="new key"))
    reason, elapsed, retry_after = await _refusal(validator, rotated)
    assert reason == "keys_unavailable" and retry_after is not None
    assert elapsed < 2.5  # unknown_kid_wait is 1 s; the 5 s fetch goes on in the background
    # Meanwhile tokens signed with known keys are served without waiting for the fetch.
    started = time.monotonic()
    assert await validator.validate(sign(keys, claims(ISSUER, sub="known key")))
    assert time.monotonic() - started < 1.0
    await validator.aclose()


@pytest.mark.parametrize("mode", ["huge", "huge-declared"])
async def test_huge_document_is_refused_while_it_streams(
    hostile: HostileJWKS, keys: SigningKeys, mode: str
) -> None:
    hostile.mode = mode
    validator = _validator(hostile, fetch_timeout=3.0)
    reason, _, _ = await _refusal(validator, sign(keys, claims(ISSUER)))
    assert reason == "keys_unavailable"
    assert isinstance(validator.keys.last_error, KeyFetchError)
    assert "oversized" in str(validator.keys.last_error)
    await validator.aclose()
    await asyncio.sleep(0.1)
    # The body was dropped at the cap (512 KiB), not buffered whole: what the server got out
    # before the connection closed is what the socket buffers held, far below 48 MB.
    assert hostile.bytes_sent < HUGE_BYTES // 4


@pytest.mark.parametrize("mode", ["silent", "trickle"])
async def test_middleware_answers_503_within_fetch_timeout_on_a_cold_start(
    hostile: HostileJWKS, keys: SigningKeys, mode: str
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("no request may reach the app without keys")

    hostile.mode = mode
    validator = _validator(hostile, fetch_timeout=1.0)
    middleware = CAEMiddleware(app, validator=validator, store=InMemoryEventStore())
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        token = sign(keys, claims(ISSUER))
        started = time.monotonic()
        responses = await asyncio.gather(
            *(client.get("/", headers={"Authorization": f"Bearer {token}"}) for _ in range(5))
        )
        assert time.monotonic() - started < 3.0
    assert {r.status_code for r in responses} == {503}
    assert {r.json()["error"] for r in responses} == {"temporarily_unavailable"}
    assert hostile.hits == 1  # five requests, one fetch in flight
    await validator.aclose()
