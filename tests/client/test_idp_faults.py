"""The client under a failing identity provider: real MSAL, a real HTTPS IdP with fault switches.

Issue 13 items 1 (a valid token keeps serving), 2 (typed errors), 3 (an overall deadline),
4 (bounded answers) and 6 (Retry-After honoured, not a lock-out), sync and async. Deadlines are
the code's own and are asserted with generous bounds; nothing here measures performance.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cae_sdk import (
    CAEAuth,
    ConfidentialClientCredential,
    PublicClientCredential,
    TokenAcquisitionError,
)
from cae_sdk.client import AsyncCAEClient, CAEClient
from cae_sdk.core.claims import nbf_claims
from cae_sdk.errors import ClaimsChallengeLoop

from .faulty_servers import SCOPE, TENANT, ChallengingApi, FaultyIdP, read_claims

pytestmark = pytest.mark.e2e

Build = Callable[..., ConfidentialClientCredential]
StartApi = Callable[..., ChallengingApi]

# -- item 2 and 4: every failed acquisition is a TokenAcquisitionError, small ------------------

TYPED = [
    # (endpoint, fault options, error, status)
    ("token", {"kind": "5xx", "status": 503}, "temporarily_unavailable", 503),
    ("token", {"kind": "5xx", "status": 500}, "server_error", 500),
    ("token", {"kind": "garbage"}, "invalid_response", 200),
    ("token", {"kind": "truncated"}, "invalid_response", 200),
    ("token", {"kind": "huge"}, "invalid_response", 200),
    ("token", {"kind": "429", "retry_after": "7"}, "temporarily_unavailable", 429),
    ("token", {"kind": "down"}, "network_error", None),
    ("discovery", {"kind": "garbage"}, "invalid_response", 200),
    ("discovery", {"kind": "truncated"}, "invalid_response", 200),
    ("discovery", {"kind": "5xx", "status": 502}, "server_error", 502),
    ("discovery", {"kind": "huge"}, "invalid_response", 200),
]


@pytest.mark.parametrize(("endpoint", "fault", "error", "status"), TYPED)
def test_every_failure_is_a_typed_error(
    faulty_idp: FaultyIdP,
    credential_for: Build,
    endpoint: str,
    fault: dict[str, Any],
    error: str,
    status: int | None,
) -> None:
    faulty_idp.fault(endpoint, **fault)
    with pytest.raises(TokenAcquisitionError) as caught:
        credential_for().get_token([SCOPE])
    exc = caught.value
    assert exc.error == error
    assert exc.status == status
    assert exc.reached_identity_provider is (status is not None)
    assert exc.remediation.kind.value == "retry"
    assert len(str(exc)) < 2000  # never a whole answer in the message
    if fault["kind"] == "429":
        assert exc.retry_after == 7


def test_huge_error_description_is_cut(faulty_idp: FaultyIdP, credential_for: Build) -> None:
    faulty_idp.fault("token", "huge_error", size=500_000)  # under the answer cap
    with pytest.raises(TokenAcquisitionError) as caught:
        credential_for().get_token([SCOPE])
    exc = caught.value
    assert exc.error == "invalid_request" and exc.status == 400
    assert exc.error_description is not None and len(exc.error_description) < 1100
    assert "more characters cut" in exc.error_description
    assert len(str(exc)) < 2200


def test_answer_over_the_cap_is_not_read(faulty_idp: FaultyIdP, credential_for: Build) -> None:
    faulty_idp.fault("token", "huge_error", size=100_000)
    with pytest.raises(TokenAcquisitionError) as caught:
        credential_for(max_answer_bytes=10_000).get_token([SCOPE])
    assert caught.value.error == "invalid_response"
    assert "larger than 10000 bytes" in str(caught.value)


# -- item 3: an overall deadline the client enforces itself -----------------------------------

DEADLINE = 1.0
BOUND = DEADLINE + 4.0  # generous: the machine is shared


@pytest.mark.parametrize("endpoint", ["token", "discovery"])
def test_trickling_answer_stops_at_the_deadline(
    faulty_idp: FaultyIdP, credential_for: Build, endpoint: str
) -> None:
    # One byte every 0.2 s, status line and headers included: a per-read timeout never fires.
    faulty_idp.fault(endpoint, "trickle", delay=0.2)
    started = time.monotonic()
    with pytest.raises(TokenAcquisitionError) as caught:
        credential_for(timeout=DEADLINE).get_token([SCOPE])
    assert time.monotonic() - started < BOUND
    assert caught.value.error == "timeout"


def test_deadline_covers_the_whole_acquisition(
    faulty_idp: FaultyIdP, credential_for: Build
) -> None:
    """Discovery and the token request share one deadline: each alone fits, both do not."""
    faulty_idp.fault("discovery", "slow", delay=0.7)
    faulty_idp.fault("token", "slow", delay=0.7)
    started = time.monotonic()
    with pytest.raises(TokenAcquisitionError) as caught:
        credential_for(timeout=DEADLINE).get_token([SCOPE])
    assert time.monotonic() - started < BOUND
    assert caught.value.error == "timeout"


async def test_async_client_request_is_bounded_by_the_deadline(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi
) -> None:
    api = api_for(lambda path, claims: None)
    faulty_idp.fault("token", "trickle", delay=0.2)
    async with AsyncCAEClient(credential_for(timeout=DEADLINE), SCOPE) as client:
        started = time.monotonic()
        with pytest.raises(TokenAcquisitionError) as caught:
            await client.get(f"{api.url}/data")
    assert time.monotonic() - started < BOUND
    assert caught.value.error == "timeout"
    assert api.seen == []  # nothing went to the API without a token


class _WrappingTransport(httpx.BaseTransport):
    """A transport of the application's own (logging, metrics...) around httpx's: cae-sdk
    cannot reach the sockets below it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_deadline_holds_for_an_application_client_with_its_own_transport(
    faulty_idp: FaultyIdP,
) -> None:
    context = ssl.create_default_context(cafile=faulty_idp.tls.ca_path)
    client = httpx.Client(transport=_WrappingTransport(httpx.HTTPTransport(verify=context)))
    credential = ConfidentialClientCredential(
        TENANT,
        "faulty-app",
        client_secret="s",
        authority=faulty_idp.authority,
        http_client=client,
        timeout=DEADLINE,
    )
    faulty_idp.fault("token", "trickle", delay=0.2)
    outcome: list[object] = []

    def acquire() -> None:
        try:
            outcome.append(credential.get_token([SCOPE]))
        except Exception as exc:
            outcome.append(exc)

    worker = threading.Thread(target=acquire, daemon=True)
    worker.start()
    worker.join(BOUND)
    finished = not worker.is_alive()
    faulty_idp.close()  # ends the trickle (and a hung worker of the old code)
    _no_call_left_hung()
    client.close()
    assert finished, "the token request ran past its deadline"
    assert isinstance(outcome[0], TokenAcquisitionError) and outcome[0].error == "timeout"


def _no_call_left_hung() -> None:
    from cae_sdk.client import _watchdog

    give_up = time.monotonic() + 10
    while _watchdog.abandoned() and time.monotonic() < give_up:
        time.sleep(0.02)
    assert _watchdog.abandoned() == 0


def test_watchdog_refuses_new_calls_while_too_many_are_hung() -> None:
    from cae_sdk.client import _watchdog
    from cae_sdk.client._exchange import AnswerTimeout

    release = threading.Event()
    _no_call_left_hung()
    try:
        for _ in range(_watchdog.MAX_ABANDONED):
            with pytest.raises(AnswerTimeout):
                _watchdog.call_before(time.monotonic() + 0.05, release.wait, what="hung")
        ran: list[int] = []
        with pytest.raises(AnswerTimeout, match="still hung"):
            _watchdog.call_before(time.monotonic() + 5, lambda: ran.append(1), what="next")
        assert ran == []  # refused before starting
    finally:
        release.set()
    _no_call_left_hung()
    assert _watchdog.call_before(time.monotonic() + 5, lambda: 7, what="ok") == 7
    with pytest.raises(ZeroDivisionError):
        _watchdog.call_before(time.monotonic() + 5, lambda: 1 // 0, what="error")


# -- item 1: a valid token keeps serving through any failure ----------------------------------

OUTAGES = [
    {"kind": "5xx", "status": 503},
    {"kind": "5xx", "status": 500, "retry_after": "2"},
    {"kind": "garbage"},
    {"kind": "truncated"},
    {"kind": "429", "retry_after": "3"},
    {"kind": "down"},
    {"kind": "trickle", "delay": 0.2},
    {"kind": "slow", "delay": 3.0},
    {"kind": "huge"},
]


class _Clock:
    """The flow's clock: real time plus a jump (MSAL keeps real time for its own cache)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def _ids(fault: dict[str, Any]) -> str:
    return "-".join(str(v) for v in fault.values())


@pytest.mark.parametrize("fault", OUTAGES, ids=_ids)
def test_outage_during_refresh_keeps_serving_the_valid_token(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi, fault: dict[str, Any]
) -> None:
    faulty_idp.refresh_in = 0  # MSAL and the flow both want a refresh right away
    faulty_idp.expires_in = 86400  # the clock jumps below stay well within the token's life
    api = api_for(lambda path, claims: None)
    clock = _Clock()
    auth = CAEAuth(credential_for(timeout=DEADLINE), SCOPE, clock=clock)
    with httpx.Client(auth=auth) as client:
        first = client.get(f"{api.url}/first").json()["n"]
        faulty_idp.fault("token", **fault)
        clock.offset += 60  # past the flow's first backoff: the next request refreshes
        before = len(faulty_idp.token_requests)
        started = time.monotonic()
        answers = [client.get(f"{api.url}/{i}") for i in range(20)]
        assert time.monotonic() - started < BOUND + 5
        assert [a.status_code for a in answers] == [200] * 20
        assert {a.json()["n"] for a in answers} == {first}
        # One refresh attempt reached the IdP; the others were spaced out by the backoff.
        assert len(faulty_idp.token_requests) - before <= 1
        faulty_idp.clear()
        # Refreshed at last, once MSAL's own throttling of a 5xx/429 (real time) is over.
        give_up = time.monotonic() + 10
        while time.monotonic() < give_up:
            clock.offset += 600  # past the longest backoff
            if client.get(f"{api.url}/after").json()["n"] != first:
                break
            time.sleep(0.5)
        else:
            pytest.fail("the token was never refreshed after the outage")


@pytest.mark.parametrize("fault", OUTAGES[:4] + OUTAGES[6:7], ids=_ids)
async def test_async_outage_during_refresh_keeps_serving(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi, fault: dict[str, Any]
) -> None:
    faulty_idp.refresh_in = 0
    api = api_for(lambda path, claims: None)
    clock = _Clock()
    auth = CAEAuth(credential_for(timeout=DEADLINE), SCOPE, clock=clock)
    async with httpx.AsyncClient(auth=auth) as client:
        first = (await client.get(f"{api.url}/first")).json()["n"]
        faulty_idp.fault("token", **fault)
        clock.offset += 60
        before = len(faulty_idp.token_requests)
        answers = await asyncio.gather(*(client.get(f"{api.url}/{i}") for i in range(20)))
        assert [a.status_code for a in answers] == [200] * 20
        assert {a.json()["n"] for a in answers} == {first}
        assert len(faulty_idp.token_requests) - before <= 1


@pytest.mark.parametrize("expires_in", [0, 1])
def test_a_refresh_answered_with_a_token_already_due_keeps_the_valid_one(
    faulty_idp: FaultyIdP,
    credential_for: Build,
    api_for: StartApi,
    expires_in: int,
) -> None:
    """A broken identity provider answering ``expires_in: 0`` replaced a token valid for a day:
    every request then asked for a new token and sent an expired one."""
    faulty_idp.refresh_in = 0
    faulty_idp.expires_in = 86400
    api = api_for(lambda path, claims: None)
    clock = _Clock()
    auth = CAEAuth(credential_for(timeout=DEADLINE), SCOPE, clock=clock)
    with httpx.Client(auth=auth) as client:
        first = client.get(f"{api.url}/first").json()["n"]
        faulty_idp.expires_in = expires_in
        clock.offset += 60
        before = len(faulty_idp.token_requests)
        seen = {client.get(f"{api.url}/{i}").json()["n"] for i in range(10)}
    assert seen == {first}
    assert len(faulty_idp.token_requests) - before == 1  # then backed off


# -- item 6: 429 + Retry-After is honoured as sent, never a lock-out --------------------------

RETRY_AFTER = 3


def _revoking_api(api_for: StartApi, faulty_idp: FaultyIdP) -> tuple[ChallengingApi, list[int]]:
    """Challenges tokens issued before ``cutoff[0]`` with an nbf challenge."""
    cutoff = [0]

    def decide(path: str, claims: dict[str, Any] | None) -> Any:
        if claims is not None and claims["iat"] < cutoff[0]:
            return nbf_claims(cutoff[0])
        return None

    return api_for(decide), cutoff


def _revoke(faulty_idp: FaultyIdP, cutoff: list[int]) -> None:
    cutoff[0] = int(time.time()) + 1
    faulty_idp.min_iat = cutoff[0]  # tokens issued from now on satisfy the challenge


def test_429_on_a_claims_request_is_waited_out_not_a_lockout(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi
) -> None:
    api, cutoff = _revoking_api(api_for, faulty_idp)
    with CAEClient(credential_for(), SCOPE) as client:
        assert client.get(f"{api.url}/a").status_code == 200
        _revoke(faulty_idp, cutoff)
        faulty_idp.fault("token", "429", retry_after=str(RETRY_AFTER), times=1, only_claims=True)
        started = time.monotonic()
        with pytest.raises(TokenAcquisitionError) as caught:
            client.get(f"{api.url}/b")
        assert caught.value.status == 429 and caught.value.retry_after == RETRY_AFTER
        # Within the window, MSAL answers from its throttle cache: typed, not counted (the old
        # loop breaker refused everything for 5 minutes after 3 such attempts).
        for _ in range(4):
            with pytest.raises(TokenAcquisitionError) as throttled:
                client.get(f"{api.url}/c")
            assert not isinstance(throttled.value, ClaimsChallengeLoop)
            assert throttled.value.reached_identity_provider is False
            left = throttled.value.retry_after
            assert left is not None and 0 < left <= RETRY_AFTER
        assert time.monotonic() - started < RETRY_AFTER  # all of it inside the window
        time.sleep(max(0.0, started + RETRY_AFTER + 0.3 - time.monotonic()))
        answer = client.get(f"{api.url}/d")
    assert answer.status_code == 200
    assert len(faulty_idp.claims_requests()) == 2  # the 429, then the token


async def test_async_429_on_a_claims_request_is_waited_out(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi
) -> None:
    api, cutoff = _revoking_api(api_for, faulty_idp)
    async with AsyncCAEClient(credential_for(), SCOPE) as client:
        assert (await client.get(f"{api.url}/a")).status_code == 200
        _revoke(faulty_idp, cutoff)
        faulty_idp.fault("token", "429", retry_after=str(RETRY_AFTER), times=1, only_claims=True)
        started = time.monotonic()
        for _ in range(5):
            with pytest.raises(TokenAcquisitionError) as caught:
                await client.get(f"{api.url}/b")
            assert not isinstance(caught.value, ClaimsChallengeLoop)
        assert time.monotonic() - started < RETRY_AFTER  # all of it inside the window
        await asyncio.sleep(max(0.0, started + RETRY_AFTER + 0.3 - time.monotonic()))
        answer = await client.get(f"{api.url}/c")
    assert answer.status_code == 200
    claims = read_claims(answer.request.headers["authorization"][7:])
    assert json.dumps(claims["claims"]["nbf"]["value"]) == json.dumps(str(cutoff[0]))
    assert len(faulty_idp.claims_requests()) == 2


async def test_async_requests_do_not_wait_for_a_slow_refresh(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi
) -> None:
    """One request refreshes; the others keep using the valid token instead of joining it (had
    they waited, they would all carry the new token)."""
    faulty_idp.refresh_in = 0
    api = api_for(lambda path, claims: None)
    clock = _Clock()
    auth = CAEAuth(credential_for(timeout=5.0), SCOPE, clock=clock)
    async with httpx.AsyncClient(auth=auth) as client:
        first = (await client.get(f"{api.url}/first")).json()["n"]
        faulty_idp.fault("token", "slow", delay=1.0, times=1)  # slow, then a fresh token
        clock.offset += 60
        answers = await asyncio.gather(*(client.get(f"{api.url}/{i}") for i in range(20)))
    tokens = [a.json()["n"] for a in answers]
    assert tokens.count(first) == 19
    assert len(set(tokens)) == 2


def test_threads_do_not_wait_for_a_slow_refresh(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    faulty_idp.refresh_in = 0
    api = api_for(lambda path, claims: None)
    clock = _Clock()
    auth = CAEAuth(credential_for(timeout=5.0), SCOPE, clock=clock)
    with httpx.Client(auth=auth) as client, ThreadPoolExecutor(1) as pool:
        first = client.get(f"{api.url}/first").json()["n"]
        faulty_idp.fault("token", "slow", delay=2.0, times=1)
        clock.offset += 60
        refreshing = pool.submit(client.get, f"{api.url}/refresh")
        give_up = time.monotonic() + 10
        while len(faulty_idp.token_requests) < 2 and time.monotonic() < give_up:
            time.sleep(0.01)  # until the IdP holds the refresh (for two seconds)
        others = [client.get(f"{api.url}/{i}").json()["n"] for i in range(5)]
        assert others == [first] * 5
        assert refreshing.result(timeout=10).json()["n"] != first


# -- device code: the wait for the user ends, whatever the identity provider says -------------


def test_device_code_polling_ends_when_the_code_expires(faulty_idp: FaultyIdP) -> None:
    """``interval: 0`` made MSAL poll in a tight loop and never look at the code's expiry: a
    user who never confirms held the call (and hammered the identity provider) forever."""
    faulty_idp.device_expires_in = 2
    faulty_idp.fault("token", "pending")
    credential = PublicClientCredential(
        "public-app",
        tenant_id=TENANT,
        authority=faulty_idp.authority,
        ca_bundle=faulty_idp.tls.ca_path,
        prompt_callback=lambda message: None,
        timeout=DEADLINE,
    )
    outcome: list[object] = []

    def sign_in() -> None:
        try:
            outcome.append(credential.get_token([SCOPE]))
        except Exception as exc:
            outcome.append(exc)

    worker = threading.Thread(target=sign_in, daemon=True)
    worker.start()
    worker.join(15)  # the code expires after 2 s
    finished = not worker.is_alive()
    faulty_idp.close()  # ends the old tight loop too (its next poll fails)
    worker.join(10)
    credential.close()
    assert finished, "the device code sign-in did not end when its code expired"
    assert isinstance(outcome[0], TokenAcquisitionError)
    assert outcome[0].error == "authorization_pending"
    assert len(faulty_idp.token_requests) <= 5  # about one poll a second, not a storm


def test_device_flow_bounds_are_enforced() -> None:
    from cae_sdk.client._credentials.public import MAX_DEVICE_CODE_WAIT, _bound_device_flow

    flow: dict[str, Any] = {"interval": 0, "expires_at": 1e12}
    _bound_device_flow(flow, now=1000.0)
    assert flow == {"interval": 1, "expires_at": 1000.0 + MAX_DEVICE_CODE_WAIT}
    flow = {"interval": "soon", "expires_at": float("nan")}
    _bound_device_flow(flow, now=1000.0)
    assert flow == {"interval": 5, "expires_at": 1000.0 + MAX_DEVICE_CODE_WAIT}
    flow = {"interval": 7, "expires_at": 1200.0}
    _bound_device_flow(flow, now=1000.0)
    assert flow == {"interval": 7, "expires_at": 1200.0}
