"""Bursts of challenged requests cost one token request (real MSAL, respx endpoints)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import respx

from cae_sdk import AsyncCAEClient, CAEAuth, CAEClient, ConfidentialClientCredential
from cae_sdk.client import LoopBreaker, SingleFlight
from cae_sdk.errors import TokenAcquisitionError

from .fakes import (
    API,
    AUTHORITY_HOST,
    SCOPE,
    TENANT,
    TOKEN_URL,
    FakeIdentityProvider,
    FakeResource,
)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def _credential() -> ConfidentialClientCredential:
    return ConfidentialClientCredential(
        TENANT, "app-id", client_secret="s", authority_host=AUTHORITY_HOST
    )


async def test_200_concurrent_async_challenges_one_token_request(router: respx.MockRouter) -> None:
    idp = FakeIdentityProvider(router)
    resource = FakeResource(router)
    async with AsyncCAEClient(_credential(), SCOPE) as client:
        assert (await client.get(f"{API}/warm")).status_code == 200
        assert idp.count == 1
        resource.revoked.add("token-1")
        responses = await asyncio.gather(*(client.get(f"{API}/r/{i}") for i in range(200)))
    assert all(r.status_code == 200 for r in responses)
    assert idp.count == 2  # exactly one token request for the whole burst
    assert json.loads(idp.requests[1]["claims"])["access_token"]["nbf"]["value"] == "1700000000"
    replays = [token for token, _ in resource.seen if token == "token-2"]
    assert len(replays) == 200


def test_threads_challenged_together_one_token_request(router: respx.MockRouter) -> None:
    idp = FakeIdentityProvider(router)
    resource = FakeResource(router)
    with CAEClient(_credential(), SCOPE) as client:
        client.get(f"{API}/warm")
        resource.revoked.add("token-1")
        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = list(pool.map(lambda i: client.get(f"{API}/t/{i}").status_code, range(64)))
    assert statuses == [200] * 64
    assert idp.count == 2


async def test_challenged_burst_counts_once_against_the_loop_breaker(
    router: respx.MockRouter,
) -> None:
    """A burst answering one challenge is one acquisition for the loop breaker, even while the
    token request is slow enough for every request of the burst to be waiting on it."""
    idp = FakeIdentityProvider(router)
    resource = FakeResource(router)
    issue = idp._token

    def slow_token(request: httpx.Request) -> httpx.Response:
        time.sleep(0.2)
        return issue(request)

    breaker = LoopBreaker(max_attempts=1, window=60)
    async with AsyncCAEClient(_credential(), SCOPE, loop_breaker=breaker) as client:
        assert (await client.get(f"{API}/warm")).status_code == 200
        router.post(TOKEN_URL).mock(side_effect=slow_token)
        resource.revoked.add("token-1")
        responses = await asyncio.gather(*(client.get(f"{API}/b/{i}") for i in range(20)))
    assert all(r.status_code == 200 for r in responses)
    assert idp.count == 2


async def test_cold_start_burst_one_token_request(router: respx.MockRouter) -> None:
    idp = FakeIdentityProvider(router)
    FakeResource(router)
    auth = CAEAuth(_credential(), SCOPE)
    async with httpx.AsyncClient(auth=auth) as client:
        await asyncio.gather(*(client.get(f"{API}/c/{i}") for i in range(50)))
    assert idp.count == 1


def test_single_flight_threads_share_result_and_error() -> None:
    flight: SingleFlight[int] = SingleFlight()
    gate = threading.Event()
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        gate.wait(5)
        return 42

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(flight.call, "k", slow) for _ in range(8)]
        while not calls:
            pass
        gate.set()
        assert [f.result() for f in futures] == [42] * 8
    assert len(calls) == 1

    def boom() -> int:
        raise ValueError("x")

    with pytest.raises(ValueError):
        flight.call("k", boom)
    assert flight.call("k", lambda: 7) == 7  # a failed flight is not remembered


async def test_single_flight_async_error_reaches_every_waiter() -> None:
    flight: SingleFlight[int] = SingleFlight()
    started = threading.Event()

    def boom() -> int:
        started.set()
        raise RuntimeError("idp down")

    results = await asyncio.gather(
        *(flight.acall("k", boom) for _ in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await flight.acall("k", lambda: 3) == 3


@pytest.mark.parametrize("cancelled", ["leader", "waiter"])
async def test_single_flight_cancelled_caller_does_not_cancel_the_flight(cancelled: str) -> None:
    flight: SingleFlight[int] = SingleFlight()
    release = threading.Event()
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        release.wait(5)
        return 5

    leader = asyncio.create_task(flight.acall("k", slow))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(flight.acall("k", slow))
    await asyncio.sleep(0)
    gone, stays = (leader, waiter) if cancelled == "leader" else (waiter, leader)
    gone.cancel()
    await asyncio.sleep(0)
    release.set()
    assert await stays == 5
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert calls == [1]


async def test_clients_sharing_a_credential_cause_one_token_request(
    router: respx.MockRouter,
) -> None:
    """Single flight is per (credential, scopes, claims), not per client: a sync and an async
    client (each with its own CAEAuth) challenged together share one acquisition."""
    idp = FakeIdentityProvider(router)
    resource = FakeResource(router)
    issue = idp._token

    def slow_token(request: httpx.Request) -> httpx.Response:
        time.sleep(0.3)  # keep the flight open while the other client's acquisition arrives
        return issue(request)

    credential = _credential()
    with CAEClient(credential, SCOPE) as sync_client:
        async with AsyncCAEClient(credential, SCOPE) as async_client:
            assert (await async_client.get(f"{API}/warm")).status_code == 200
            assert sync_client.get(f"{API}/warm").status_code == 200
            assert idp.count == 1  # the second client found the token in MSAL's cache
            router.post(TOKEN_URL).mock(side_effect=slow_token)
            resource.revoked.add("token-1")
            sync_burst = asyncio.to_thread(
                lambda: [sync_client.get(f"{API}/s/{i}").status_code for i in range(5)]
            )
            async_burst = asyncio.gather(*(async_client.get(f"{API}/a/{i}") for i in range(50)))
            sync_statuses, async_responses = await asyncio.gather(sync_burst, async_burst)
    assert sync_statuses == [200] * 5
    assert all(r.status_code == 200 for r in async_responses)
    assert idp.count == 2  # one claims request for both clients


async def test_async_acquisitions_do_not_queue_behind_the_loops_default_executor() -> None:
    """An application's blocking work in the loop's default executor (and the loop's own
    getaddrinfo) and token acquisitions never wait for each other."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(1))
    release = threading.Event()
    blocker = loop.run_in_executor(None, release.wait, 10)  # the only default worker, busy
    try:
        value = await asyncio.wait_for(SingleFlight[int]().acall("k", lambda: 42), 5)
        assert value == 42
        assert not blocker.done()
    finally:
        release.set()
        await blocker


def _depth(error: BaseException) -> int:
    depth, tb = 0, error.__traceback__
    while tb is not None:
        depth, tb = depth + 1, tb.tb_next
    return depth


def test_waiters_raise_their_own_copy_of_the_flights_error() -> None:
    """One exception object raised in every waiting thread collected every waiter's frames in
    its traceback (and kept their locals alive)."""
    flight: SingleFlight[int] = SingleFlight()
    started = threading.Event()

    def fail() -> int:
        started.set()
        time.sleep(0.3)
        raise TokenAcquisitionError("down", error="server_error", status=503)

    def wait() -> BaseException:
        try:
            flight.call("k", fail)
        except TokenAcquisitionError as exc:
            return exc
        raise AssertionError("no error")

    with ThreadPoolExecutor(40) as pool:
        errors = list(pool.map(lambda _: wait(), range(40)))
    assert len({id(e) for e in errors}) == len(errors)
    assert {(type(e), str(e), e.status) for e in errors} == {
        (TokenAcquisitionError, str(errors[0]), 503)
    }
    assert max(_depth(e) for e in errors) < 10


async def test_async_waiters_raise_their_own_copy_of_the_flights_error() -> None:
    flight: SingleFlight[int] = SingleFlight()

    def fail() -> int:
        time.sleep(0.2)
        raise TokenAcquisitionError("down", error="server_error")

    errors = await asyncio.gather(
        *(flight.acall("k", fail) for _ in range(30)), return_exceptions=True
    )
    assert all(isinstance(e, TokenAcquisitionError) for e in errors)
    assert len({id(e) for e in errors}) == len(errors)
    assert max(_depth(e) for e in errors if isinstance(e, BaseException)) < 10
