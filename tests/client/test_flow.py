"""The transport-neutral challenge flow (client/_flow.py) driven without any HTTP library."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from cae_sdk import build_claims_challenge
from cae_sdk.client._flow import PLAIN_TOKEN, ChallengeFlow, FlowRequest, TokenNeeded
from cae_sdk.errors import ClaimsChallengeFailed, RequestNotReplayable

from .fakes import API, NBF_CLAIMS, SCOPE, CountingCredential

CHALLENGE = build_claims_challenge(NBF_CLAIMS, authorization_uri="https://login.test/authorize")


@dataclass
class Request:
    method: str = "POST"
    url: str = f"{API}/x"
    body_replayable: bool = True
    authorization: str | None = None

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
