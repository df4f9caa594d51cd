"""The transport-neutral challenge flow (client/_flow.py) driven without any HTTP library."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from cae_sdk import build_claims_challenge
from cae_sdk.client._flow import PLAIN_TOKEN, ChallengeFlow, FlowRequest, TokenNeeded
from cae_sdk.errors import ClaimsChallengeFailed, RequestNotReplayable, TokenAcquisitionError

from .fakes import API, NBF_CLAIMS, SCOPE, CountingCredential

CHALLENGE = build_claims_challenge(NBF_CLAIMS, authorization_uri="https://login.test/authorize")


@dataclass
class Request:
    method: str = "POST"
    url: str = f"{API}/x"
    body_replayable: bool = True
    authorization: str | None = None

    @property
    def scheme(self) -> str:
        return self.url.partition(":")[0].lower()

    def set_authorization(self, value: str) -> None:
        self.authorization = value

    def replayable(self) -> bool:
        return self.body_replayable


@dataclass
class Response:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    url: str = f"{API}/x"
    native: Any = None


class Api:
    """Challenges every token in ``revoked``; records the Authorization headers it saw."""

    def __init__(self, *revoked: str) -> None:
        self.revoked = set(revoked)
        self.seen: list[str | None] = []

    def __call__(self, request: FlowRequest) -> Response:
        assert isinstance(request, Request)
        self.seen.append(request.authorization)
        token = (request.authorization or "").removeprefix("Bearer ")
        if token in self.revoked:
            return Response(401, {"WWW-Authenticate": CHALLENGE}, native="native 401")
        return Response(200, native="native 200")

    async def asend(self, request: FlowRequest) -> Response:
        return self(request)


def test_generator_steps_spell_out_the_protocol() -> None:
    state = ChallengeFlow(CountingCredential(), SCOPE)
    request = Request()
    flow = state.flow(request)
    assert next(flow) is PLAIN_TOKEN
    assert flow.send(state.token(PLAIN_TOKEN)) is request
    assert request.authorization == "Bearer tok-1"
    need = flow.send(Response(401, {"WWW-Authenticate": CHALLENGE}))
    assert isinstance(need, TokenNeeded) and need.challenged_token == "tok-1"
    assert json.loads(need.claims or "") == NBF_CLAIMS
    assert flow.send(state.token(need)) is request
    assert request.authorization == "Bearer tok-2"
    with pytest.raises(StopIteration):
        flow.send(Response(200))
    # The next request finds a valid token at hand: no token step, the request comes first.
    again = Request()
    assert next(state.flow(again)) is again
    assert again.authorization == "Bearer tok-2"


def test_run_replays_once_and_returns_the_final_response() -> None:
    api = Api("tok-1")
    final = ChallengeFlow(CountingCredential(), SCOPE).run(Request(), api)
    assert final.status_code == 200 and final.native == "native 200"
    assert api.seen == ["Bearer tok-1", "Bearer tok-2"]


async def test_arun_second_challenge_carries_the_native_response() -> None:
    api = Api("tok-1", "tok-2")
    with pytest.raises(ClaimsChallengeFailed) as caught:
        await ChallengeFlow(CountingCredential(), SCOPE).arun(Request(), api.asend)
    assert caught.value.response == "native 401"
    assert len(api.seen) == 2


def test_one_shot_body_is_not_replayed() -> None:
    api = Api("tok-1")
    credential = CountingCredential()
    with pytest.raises(RequestNotReplayable) as caught:
        ChallengeFlow(credential, SCOPE).run(Request(body_replayable=False), api)
    assert caught.value.response == "native 401"
    assert len(api.seen) == 1 and len(credential.calls) == 1


# -- token state: refresh backoff, nbf sharing, loop breaker across claims ---------------------


class _FailingCredential(CountingCredential):
    def __init__(self, clock: Any, *, retry_after: float | None = None) -> None:
        super().__init__(expires_in=7200, refresh_in=600, clock=clock)
        self.retry_after = retry_after

    def get_token(self, scopes: Any, **kwargs: Any) -> Any:
        if self.calls:  # the first token is fine, every refresh fails
            self.calls.append((tuple(scopes), None, None))
            raise RuntimeError("not even a CAEError")
        return super().get_token(scopes, **kwargs)


def test_refresh_backoff_grows_with_jitter_and_any_failure_keeps_the_token() -> None:
    now = [1000.0]
    credential = _FailingCredential(lambda: now[0])
    state = ChallengeFlow(credential, SCOPE, clock=lambda: now[0], jitter=lambda: 0.0)
    first = state.token(PLAIN_TOKEN)
    now[0] += 601  # refresh due
    delays = []
    for _ in range(7):
        assert state.token(PLAIN_TOKEN) is first  # never fails while the token is valid
        delays.append(state._refresh_retry_at - now[0])
        now[0] = state._refresh_retry_at
    # Half of 10, 20, 40... s with the lowest jitter; capped at half of 300 s.
    assert delays == [5.0, 10.0, 20.0, 40.0, 80.0, 150.0, 150.0]
    assert len(credential.calls) == 1 + 7  # one attempt per backoff, none in between
    state._jitter = lambda: 1.0
    state.token(PLAIN_TOKEN)
    assert state._refresh_retry_at - now[0] == 300.0


def test_refresh_backoff_is_never_shorter_than_retry_after() -> None:
    now = [1000.0]
    credential = CountingCredential(expires_in=7200, refresh_in=600, clock=lambda: now[0])
    state = ChallengeFlow(credential, SCOPE, clock=lambda: now[0], jitter=lambda: 0.0)
    first = state.token(PLAIN_TOKEN)
    now[0] += 601
    credential.fail = TokenAcquisitionError("429", error="temporarily_unavailable", retry_after=90)
    assert state.token(PLAIN_TOKEN) is first
    assert state._refresh_retry_at - now[0] == 90.0


def test_expired_token_is_never_served_even_during_backoff() -> None:
    now = [1000.0]
    credential = _FailingCredential(lambda: now[0])
    state = ChallengeFlow(credential, SCOPE, clock=lambda: now[0])
    state.token(PLAIN_TOKEN)
    now[0] += 601
    state.token(PLAIN_TOKEN)  # failed refresh, backing off
    now[0] += 7200  # expired
    with pytest.raises(RuntimeError):
        state.token(PLAIN_TOKEN)


def _nbf_need(nbf: int, challenged: str) -> TokenNeeded:
    return TokenNeeded(
        json.dumps({"access_token": {"nbf": {"essential": True, "value": str(nbf)}}}), challenged
    )


def test_one_token_answers_every_older_nbf_challenge() -> None:
    credential = CountingCredential()
    state = ChallengeFlow(credential, SCOPE)
    plain = state.token(PLAIN_TOKEN)
    fresh = state.token(_nbf_need(200, plain.token))
    # tok-N is not a JWT: its coverage is the nbf it was requested with.
    for nbf in (100, 150, 200):
        assert state.token(_nbf_need(nbf, plain.token)) is fresh
    newer = state.token(_nbf_need(201, plain.token))
    assert newer is not fresh
    assert [json.loads(c[1] or "null") for c in credential.calls[1:]] == [
        {"access_token": {"nbf": {"essential": True, "value": "200"}}},
        {"access_token": {"nbf": {"essential": True, "value": "201"}}},
    ]


def test_loop_breaker_counts_per_scopes_across_claims_and_refunds_unsent() -> None:
    from cae_sdk.client import LoopBreaker
    from cae_sdk.errors import ClaimsChallengeLoop

    credential = CountingCredential()
    state = ChallengeFlow(credential, SCOPE, loop_breaker=LoopBreaker(max_attempts=2))
    plain = state.token(PLAIN_TOKEN)

    def shaped(i: int) -> TokenNeeded:
        return TokenNeeded(
            json.dumps({"access_token": {"xms_caeerror": {"value": str(i)}}}), plain.token
        )

    credential.fail = TokenAcquisitionError("throttled", reached_identity_provider=False)
    for i in range(5):  # answered from a throttle cache: never counted
        with pytest.raises(TokenAcquisitionError):
            state.token(shaped(i))
    credential.fail = None
    state.token(shaped(10))
    state.token(shaped(11))
    with pytest.raises(ClaimsChallengeLoop):
        state.token(shaped(12))  # a third distinct challenge: the budget is per scopes
