"""An API that challenges in hostile ways (issue 13 items 5 and 7), against real servers.

* A storm of distinct challenges must not become a storm of token requests: ``nbf`` challenges
  are answered by any token issued after the newest ``nbf`` (one fresh token answers them all),
  and the loop breaker bounds claims acquisitions per scopes, across claims (default: 3 per
  5 minutes).
* A challenge from another origin than the one the request was sent to (after a cross-origin
  redirect) is returned to the caller, never acted on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from cae_sdk import CAEError, ConfidentialClientCredential
from cae_sdk.client import AsyncCAEClient, CAEClient
from cae_sdk.core.claims import nbf_claims
from cae_sdk.errors import ClaimsChallengeFailed, ClaimsChallengeLoop

from .faulty_servers import SCOPE, ChallengingApi, FaultyIdP

pytestmark = pytest.mark.e2e

Build = Callable[..., ConfidentialClientCredential]
StartApi = Callable[..., ChallengingApi]
STORM = 100


def _index(path: str) -> int:
    return int(path.rsplit("/", 1)[-1])


def _past_nbf_storm(api_for: StartApi) -> ChallengingApi:
    """Every plain token is challenged, each request with its own nbf, all in the past."""
    base = int(time.time()) - 500

    def decide(path: str, claims: dict[str, Any] | None) -> Any:
        if claims is not None and claims["claims"] is None:
            return nbf_claims(base + _index(path))
        return None

    return api_for(decide)


async def test_async_storm_of_distinct_nbf_challenges_costs_one_token_request(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi
) -> None:
    api = _past_nbf_storm(api_for)
    async with AsyncCAEClient(credential_for(), SCOPE) as client:
        answers = await asyncio.gather(*(client.get(f"{api.url}/{i}") for i in range(STORM)))
    assert [a.status_code for a in answers] == [200] * STORM
    assert len(faulty_idp.claims_requests()) == 1
    assert len(faulty_idp.token_requests) == 2  # the plain token, then one for every challenge


def test_threaded_storm_of_distinct_nbf_challenges_costs_one_token_request(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi
) -> None:
    api = _past_nbf_storm(api_for)
    with CAEClient(credential_for(), SCOPE) as client, ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda i: client.get(f"{api.url}/{i}"), range(STORM)))
    assert [a.status_code for a in answers] == [200] * STORM
    assert len(faulty_idp.claims_requests()) == 1


def test_newest_nbf_is_asked_for(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi
) -> None:
    """Challenges that arrive while a token is being fetched are folded into the next request:
    the claims sent carry the newest nbf, and the token covers every waiting request."""
    api = _past_nbf_storm(api_for)
    faulty_idp.fault("token", "slow", delay=0.5, only_claims=True, times=1)
    with CAEClient(credential_for(), SCOPE) as client, ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda i: client.get(f"{api.url}/{i}"), range(16)))
    assert [a.status_code for a in answers] == [200] * 16
    assert 1 <= len(faulty_idp.claims_requests()) <= 2  # at most one more for late arrivals


def _hostile(api_for: StartApi, shape: str) -> ChallengingApi:
    """Challenges every token, each request with claims no token satisfies."""
    future = int(time.time()) + 10_000

    def decide(path: str, claims: dict[str, Any] | None) -> Any:
        i = _index(path)
        if shape == "nbf":
            return nbf_claims(future + i)  # nbf in the future: no token is ever late enough
        return {"access_token": {"xms_caeerror": {"value": str(10000 + i)}}}

    return api_for(decide)


@pytest.mark.parametrize("shape", ["nbf", "distinct-members"])
async def test_async_hostile_storm_is_bounded_by_the_loop_breaker(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi, shape: str
) -> None:
    api = _hostile(api_for, shape)
    async with AsyncCAEClient(credential_for(), SCOPE) as client:
        outcomes = await asyncio.gather(
            *(client.get(f"{api.url}/{i}") for i in range(STORM)), return_exceptions=True
        )
    assert all(isinstance(o, ClaimsChallengeFailed | ClaimsChallengeLoop) for o in outcomes)
    if shape == "nbf":
        # One shape: requests join the flight in progress (and one more for late arrivals);
        # whatever the timing, never more than the loop breaker's budget.
        assert len(faulty_idp.claims_requests()) <= 3
    else:
        # A shape per request: the loop breaker stops the storm after 3 token requests.
        assert any(isinstance(o, ClaimsChallengeLoop) for o in outcomes)
        assert len(faulty_idp.claims_requests()) <= 3  # LoopBreaker(max_attempts=3), per scopes


def test_hostile_storm_is_bounded_in_threads(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi
) -> None:
    api = _hostile(api_for, "distinct-members")

    def call(i: int) -> object:
        try:
            return client.get(f"{api.url}/{i}")
        except CAEError as exc:
            return exc

    with CAEClient(credential_for(), SCOPE) as client, ThreadPoolExecutor(32) as pool:
        outcomes = list(pool.map(call, range(STORM)))
    assert all(isinstance(o, ClaimsChallengeFailed | ClaimsChallengeLoop) for o in outcomes)
    assert len(faulty_idp.claims_requests()) <= 3


def _outcome(call: Callable[[], object]) -> object:
    try:
        return call()
    except CAEError as exc:
        return exc


@pytest.mark.parametrize("shape", ["nbf", "distinct-members"])
def test_storm_is_bounded_per_credential_whatever_the_number_of_adapters(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi, shape: str
) -> None:
    """A client built per call (or an Azure SDK adapter per call) starts with a fresh token
    state: the budget lives with the credential, where the token requests are made."""
    api = _hostile(api_for, shape)
    credential = credential_for()

    def per_call_client(i: int) -> object:
        with CAEClient(credential, SCOPE) as client:
            return client.get(f"{api.url}/{i}")

    outcomes = [_outcome(lambda: per_call_client(i)) for i in range(12)]
    azure = pytest.importorskip("cae_sdk.client.azure")
    claims = json.dumps(nbf_claims(int(time.time()) + 10_000))
    outcomes += [
        _outcome(lambda: azure.AzureSDKCredential(credential).get_token(SCOPE, claims=claims))
        for _ in range(4)
    ]
    assert any(isinstance(o, ClaimsChallengeLoop) for o in outcomes)
    assert len(faulty_idp.claims_requests()) <= 3  # LoopBreaker(max_attempts=3) per scopes


def test_an_unsatisfiable_nbf_challenge_costs_one_token_request(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi
) -> None:
    """A flight that asked for the challenge's nbf is its answer, even when the identity
    provider's token is older than that nbf: asking again would only get the same."""
    api = _hostile(api_for, "nbf")
    with CAEClient(credential_for(), SCOPE) as client, pytest.raises(ClaimsChallengeFailed):
        client.get(f"{api.url}/1")
    assert len(faulty_idp.claims_requests()) == 1


@pytest.mark.parametrize("fault", ["slow", "down"])
def test_claims_requests_that_went_out_count_even_unanswered(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi, fault: str
) -> None:
    """A timed-out or reset token request still reached the identity provider: a hostile API
    cannot turn a struggling identity provider into a stream of claims requests."""
    api = _hostile(api_for, "distinct-members")
    faulty_idp.fault("token", fault, delay=1.0, only_claims=True)
    with CAEClient(credential_for(timeout=0.3), SCOPE) as client:
        outcomes = [_outcome(lambda: client.get(f"{api.url}/{i}")) for i in range(6)]
    assert isinstance(outcomes[-1], ClaimsChallengeLoop)
    assert len(faulty_idp.claims_requests()) == 3


def test_a_burst_over_many_adapters_is_one_attempt(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi
) -> None:
    """The same revocation seen by many adapters of one credential is one token request, and
    one attempt of the budget: no false lock-out."""
    cutoff = int(time.time()) - 100

    def decide(path: str, claims: dict[str, Any] | None) -> Any:
        return nbf_claims(cutoff) if claims is not None and claims["claims"] is None else None

    api = api_for(decide)
    credential = credential_for()
    credential.get_token([SCOPE])  # every adapter starts from the cached plain token

    def call(i: int) -> object:
        with CAEClient(credential, SCOPE) as client:
            return _outcome(lambda: client.get(f"{api.url}/{i}"))

    for _ in range(2):
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(call, range(8)))
        assert all(getattr(o, "status_code", None) == 200 for o in outcomes), outcomes
    assert len(faulty_idp.claims_requests()) <= 2


def test_a_challenge_answered_already_costs_no_request_and_no_budget(
    faulty_idp: FaultyIdP, credential_for: Build
) -> None:
    """Adapters that sent the refused token and see the challenge after another adapter
    answered it (a client per call, threads that lag) get that answer from the credential:
    no token request, and no attempt of the loop breaker's budget."""
    credential = credential_for()
    first = credential.get_token([SCOPE])
    claims = json.dumps(nbf_claims(int(time.time()) - 100))
    answer = credential.get_token([SCOPE], claims=claims, challenged_token=first.token)
    for _ in range(5):
        late = credential.get_token([SCOPE], claims=claims, challenged_token=first.token)
        assert late.token == answer.token
    assert len(faulty_idp.claims_requests()) == 1
    # The answer itself refused with the same claims: asked again.
    again = credential.get_token([SCOPE], claims=claims, challenged_token=answer.token)
    assert again.token != answer.token
    assert len(faulty_idp.claims_requests()) == 2


# -- item 7: answer only the origin the token was meant for -----------------------------------


def _redirecting_pair(api_for: StartApi) -> tuple[ChallengingApi, ChallengingApi]:
    other = api_for(lambda path, claims: nbf_claims(int(time.time())))  # challenges anyone
    home = api_for(lambda path, claims: ("redirect", f"{other.url}/elsewhere"))
    return home, other


def test_challenge_from_another_origin_is_returned_not_answered(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi
) -> None:
    home, other = _redirecting_pair(api_for)
    with CAEClient(credential_for(), SCOPE, follow_redirects=True) as client:
        answer = client.get(f"{home.url}/start")
    assert answer.status_code == 401
    assert str(answer.url).startswith(other.url)
    assert faulty_idp.claims_requests() == []  # no token fetched on the other origin's say-so
    assert len(faulty_idp.token_requests) == 1
    assert other.seen == [("/elsewhere", None)]  # and our token never went there


async def test_async_challenge_from_another_origin_is_returned(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi
) -> None:
    home, _ = _redirecting_pair(api_for)
    async with AsyncCAEClient(credential_for(), SCOPE, follow_redirects=True) as client:
        answer = await client.get(f"{home.url}/start")
    assert answer.status_code == 401
    assert faulty_idp.claims_requests() == []


def test_same_origin_redirect_challenge_is_still_answered(
    faulty_idp: FaultyIdP, credential_for: Build, api_for: StartApi
) -> None:
    cutoff = int(time.time()) + 1
    faulty_idp.min_iat = cutoff  # tokens from now on satisfy the challenge

    def decide(path: str, claims: dict[str, Any] | None) -> Any:
        if path == "/start":
            return ("redirect", "/moved")
        if claims is not None and claims["claims"] is None:
            return nbf_claims(cutoff)
        return None

    api = api_for(decide)
    with CAEClient(credential_for(), SCOPE, follow_redirects=True) as client:
        answer = client.get(f"{api.url}/start")
    assert answer.status_code == 200
    assert len(faulty_idp.claims_requests()) == 1


def test_origin_compares_scheme_host_and_port() -> None:
    from cae_sdk.core._urls import origin

    assert origin("https://API.test/x") == origin("https://api.test:443/y?q")
    assert origin("http://api.test/") == ("http", "api.test", 80)
    assert origin("https://api.test:8443/") != origin("https://api.test/")
    assert origin("http://api.test/") != origin("https://api.test/")
    assert origin("https://user:pw@api.test./") == ("https", "api.test", 443)
    for bad in ("ftp://api.test/", "https:///nohost", "https://api.test:99999/", "", "nonsense"):
        assert origin(bad) is None
