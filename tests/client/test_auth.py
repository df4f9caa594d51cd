"""CAEAuth with httpx.Client and httpx.AsyncClient: tokens, challenges, replay, refresh."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx

from cae_sdk import CAEAuth, ClaimsChallengeFailed, TokenAcquisitionError
from cae_sdk.client import AsyncCAEClient, CAEClient, LoopBreaker
from cae_sdk.errors import ClaimsChallengeLoop, RequestNotReplayable

from .fakes import API, NBF_CLAIMS, SCOPE, CountingCredential, FakeResource


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def _clients(auth: CAEAuth) -> tuple[httpx.Client, httpx.AsyncClient]:
    return httpx.Client(auth=auth), httpx.AsyncClient(auth=auth)


BODIES = {
    "bytes": {"content": b"\x00raw bytes\xff"},
    "json": {"json": {"name": "ada", "n": [1, 2]}},
    "form": {"data": {"a": "1", "b": "two words"}},
    "multipart": {"files": {"upload": ("a.txt", io.BytesIO(b"file body"), "text/plain")}},
    "multipart-bytes": {"files": {"upload": ("a.txt", b"in memory", "text/plain")}},
}


def test_sends_bearer_token_and_reuses_it(router: respx.MockRouter) -> None:
    resource = FakeResource(router)
    credential = CountingCredential()
    with CAEClient(credential, SCOPE) as client:
        assert client.get(f"{API}/a").status_code == 200
        assert client.get(f"{API}/b").status_code == 200
    assert [seen[0] for seen in resource.seen] == ["tok-1", "tok-1"]
    assert credential.calls == [((SCOPE,), None, None)]


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_sync_challenge_replays_body(router: respx.MockRouter, kind: str) -> None:
    resource = FakeResource(router)
    resource.revoked.add("tok-1")
    credential = CountingCredential()
    with CAEClient(credential, SCOPE) as client:
        response = client.post(f"{API}/upload", **BODIES[kind])
    assert response.status_code == 200
    first, replay = resource.seen
    assert (first[0], replay[0]) == ("tok-1", "tok-2")
    assert replay[1] == first[1] and first[1]  # the very same, non-empty body
    assert response.content == first[1]
    assert json.loads(credential.calls[1][1] or "") == NBF_CLAIMS
    assert credential.calls[1][2] == "tok-1"  # the challenged token goes to the credential


@pytest.mark.parametrize("kind", sorted(BODIES))
async def test_async_challenge_replays_body(router: respx.MockRouter, kind: str) -> None:
    resource = FakeResource(router)
    resource.revoked.add("tok-1")
    async with AsyncCAEClient(CountingCredential(), SCOPE) as client:
        response = await client.post(f"{API}/upload", **BODIES[kind])
    assert response.status_code == 200
    first, replay = resource.seen
    assert replay[1] == first[1] and first[1]
    assert replay[0] == "tok-2"


def test_sync_streaming_body_is_refused_not_sent_empty(router: respx.MockRouter) -> None:
    resource = FakeResource(router)
    resource.revoked.add("tok-1")

    def chunks() -> Iterator[bytes]:
        yield b"part one "
        yield b"part two"

    credential = CountingCredential()
    with CAEClient(credential, SCOPE) as client, pytest.raises(RequestNotReplayable) as caught:
        client.post(f"{API}/stream", content=chunks())
    # The caller gets what it needs to retry with a fresh body itself.
    assert caught.value.response.status_code == 401
    assert caught.value.challenge.claims_dict["access_token"]["nbf"]["essential"] is True
    assert len(resource.seen) == 1  # never replayed
    assert resource.seen[0][1] == b"part one part two"
    assert len(credential.calls) == 1  # and no token was wasted on it


async def test_async_streaming_body_is_refused(router: respx.MockRouter) -> None:
    resource = FakeResource(router)
    resource.revoked.add("tok-1")

    async def chunks() -> AsyncIterator[bytes]:
        yield b"async body"

    async with AsyncCAEClient(CountingCredential(), SCOPE) as client:
        with pytest.raises(RequestNotReplayable):
            await client.post(f"{API}/stream", content=chunks())
    assert len(resource.seen) == 1


def test_unseekable_multipart_file_is_refused(router: respx.MockRouter) -> None:
    resource = FakeResource(router)
    resource.revoked.add("tok-1")

    class OneShot(io.RawIOBase):
        def __init__(self) -> None:
            self._data = [b"once"]

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def read(self, size: int = -1) -> bytes:
            return self._data.pop() if self._data else b""

    with CAEClient(CountingCredential(), SCOPE) as client, pytest.raises(RequestNotReplayable):
        client.post(f"{API}/up", files={"f": ("f.bin", OneShot(), "application/octet-stream")})


def test_sync_second_challenge_raises_with_both_challenges(router: respx.MockRouter) -> None:
    resource = FakeResource(router)
    resource.always = True
    with (
        CAEClient(CountingCredential(), SCOPE) as client,
        pytest.raises(ClaimsChallengeFailed) as caught,
    ):
        client.get(f"{API}/x")
    error = caught.value
    assert error.first.claims_dict == NBF_CLAIMS
    assert error.second.claims_dict == NBF_CLAIMS
    assert error.response.status_code == 401
    assert len(resource.seen) == 2  # one replay only


def test_url_password_never_in_logs_or_errors(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    resource = FakeResource(router)
    resource.always = True
    caplog.set_level("INFO")
    url = API.replace("://", "://bob:hunter2@") + "/x?code=abc"
    with (
        CAEClient(CountingCredential(), SCOPE) as client,
        pytest.raises(ClaimsChallengeFailed) as caught,
    ):
        client.get(url)
    # Only our own records: httpx itself logs every request URL whole at INFO.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("cae_sdk"))
    assert "claims challenge" in ours and "api.test/x" in str(caught.value)
    for secret in ("hunter2", "code=abc"):
        assert secret not in ours and secret not in str(caught.value)
    with (
        CAEClient(CountingCredential(), SCOPE) as client,
        pytest.raises(RequestNotReplayable) as not_replayable,
    ):
        client.post(url, content=iter([b"a"]))
    assert "hunter2" not in str(not_replayable.value)


async def test_async_second_challenge_raises(router: respx.MockRouter) -> None:
    resource = FakeResource(router)
    resource.always = True
    async with AsyncCAEClient(CountingCredential(), SCOPE) as client:
        with pytest.raises(ClaimsChallengeFailed) as caught:
            await client.get(f"{API}/x")
    assert caught.value.response.status_code == 401
    assert len(resource.seen) == 2


def test_401_without_claims_challenge_is_returned_untouched(router: respx.MockRouter) -> None:
    router.get(f"{API}/plain").respond(
        401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )
    credential = CountingCredential()
    with CAEClient(credential, SCOPE) as client:
        assert client.get(f"{API}/plain").status_code == 401
    assert len(credential.calls) == 1


def test_arm_invalid_token_challenge_needs_opt_in(router: respx.MockRouter) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["authorization"])
        if request.headers["authorization"] == "Bearer tok-1":
            value = 'Bearer error="invalid_token", claims="eyJhY2Nlc3NfdG9rZW4iOnt9fQ=="'
            return httpx.Response(401, headers={"WWW-Authenticate": value})
        return httpx.Response(200)

    router.get(f"{API}/arm").mock(side_effect=handler)
    with CAEClient(CountingCredential(), SCOPE) as client:
        assert client.get(f"{API}/arm").status_code == 401
    with CAEClient(CountingCredential(), SCOPE, accept_invalid_token=True) as client:
        assert client.get(f"{API}/arm").status_code == 200


def test_proactive_refresh_honours_refresh_in(router: respx.MockRouter) -> None:
    FakeResource(router)
    now = [1000.0]
    credential = CountingCredential(expires_in=7200, refresh_in=600, clock=lambda: now[0])
    auth = CAEAuth(credential, [SCOPE], clock=lambda: now[0])
    with httpx.Client(auth=auth) as client:
        client.get(f"{API}/1")
        now[0] += 599
        client.get(f"{API}/2")
        assert len(credential.calls) == 1  # still before refresh_on
        now[0] += 2
        client.get(f"{API}/3")
        assert len(credential.calls) == 2  # refreshed ahead of expiry


def test_failed_refresh_keeps_valid_token_and_backs_off(router: respx.MockRouter) -> None:
    resource = FakeResource(router)
    now = [1000.0]
    credential = CountingCredential(expires_in=7200, refresh_in=600, clock=lambda: now[0])
    auth = CAEAuth(credential, [SCOPE], clock=lambda: now[0])
    with httpx.Client(auth=auth) as client:
        client.get(f"{API}/1")
        credential.fail = TokenAcquisitionError("idp down", error="temporarily_unavailable")
        now[0] += 700
        assert client.get(f"{API}/2").status_code == 200
        assert client.get(f"{API}/3").status_code == 200
        assert len(credential.calls) == 2  # one failed attempt, then a back-off
        now[0] += 31
        client.get(f"{API}/4")
        assert len(credential.calls) == 3
    assert {seen[0] for seen in resource.seen} == {"tok-1"}


def test_expired_token_refresh_failure_raises(router: respx.MockRouter) -> None:
    FakeResource(router)
    now = [1000.0]
    credential = CountingCredential(expires_in=3600, clock=lambda: now[0])
    auth = CAEAuth(credential, [SCOPE], clock=lambda: now[0])
    with httpx.Client(auth=auth) as client:
        client.get(f"{API}/1")
        credential.fail = TokenAcquisitionError("idp down", error="temporarily_unavailable")
        now[0] += 3600
        with pytest.raises(TokenAcquisitionError):
            client.get(f"{API}/2")


def test_loop_breaker_stops_asking_the_idp(router: respx.MockRouter) -> None:
    resource = FakeResource(router)
    resource.always = True
    credential = CountingCredential()
    auth = CAEAuth(credential, SCOPE, loop_breaker=LoopBreaker(max_attempts=2, window=60))
    with httpx.Client(auth=auth) as client:
        for _ in range(2):
            with pytest.raises(ClaimsChallengeFailed):
                client.get(f"{API}/loop")
        with pytest.raises(ClaimsChallengeLoop) as caught:
            client.get(f"{API}/loop")
    assert caught.value.retry_after > 0
    # 1 plain token + 2 claims tokens; the third challenge did not reach the credential.
    assert len(credential.calls) == 3


def test_token_acquisition_error_propagates(router: respx.MockRouter) -> None:
    FakeResource(router)
    credential = CountingCredential()
    credential.fail = TokenAcquisitionError("nope", error="invalid_client")
    with CAEClient(credential, SCOPE) as client, pytest.raises(TokenAcquisitionError):
        client.get(f"{API}/x")


def test_auth_rejects_bad_configuration() -> None:
    from cae_sdk.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        CAEAuth(CountingCredential(), [])
    with pytest.raises(ConfigurationError):
        CAEAuth(object(), SCOPE)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        CAEClient(CountingCredential())
    auth = CAEAuth(CountingCredential(), SCOPE)
    for settings in (
        {"scopes": "other/.default"},
        {"loop_breaker": LoopBreaker()},
        {"accept_invalid_token": True},
    ):
        with pytest.raises(ConfigurationError):  # not silently ignored
            CAEClient(auth, **settings)  # type: ignore[arg-type]


def test_clients_can_share_one_auth(router: respx.MockRouter) -> None:
    FakeResource(router)
    credential = CountingCredential()
    auth = CAEAuth(credential, SCOPE)
    with CAEClient(auth) as one, CAEClient(auth) as two:
        one.get(f"{API}/1")
        two.get(f"{API}/2")
    assert len(credential.calls) == 1


def test_token_never_in_repr_or_logs(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    resource = FakeResource(router)
    resource.revoked.add("tok-1")
    caplog.set_level("DEBUG")
    credential = CountingCredential()
    with CAEClient(credential, SCOPE) as client:
        client.get(f"{API}/secret?code=abc")
    assert "tok-1" not in caplog.text and "tok-2" not in caplog.text
    assert "claims challenge" in caplog.text
    held = client.cae_auth.flow._held
    assert held is not None and held.token.token == "tok-2"  # the repr below is of a real token
    assert "tok-2" not in repr(held)


# -- the same branches through httpx.AsyncClient -----------------------------------------------


async def test_async_401_without_claims_and_token_reuse(router: respx.MockRouter) -> None:
    router.get(f"{API}/plain").respond(401, headers={"WWW-Authenticate": "Bearer"})
    credential = CountingCredential()
    async with AsyncCAEClient(credential, SCOPE) as client:
        assert (await client.get(f"{API}/plain")).status_code == 401
        assert (await client.get(f"{API}/plain")).status_code == 401
    assert len(credential.calls) == 1


async def test_async_loop_breaker(router: respx.MockRouter) -> None:
    resource = FakeResource(router)
    resource.always = True
    credential = CountingCredential()
    breaker = LoopBreaker(max_attempts=1, window=60)
    async with AsyncCAEClient(credential, SCOPE, loop_breaker=breaker) as client:
        with pytest.raises(ClaimsChallengeFailed):
            await client.get(f"{API}/loop")
        with pytest.raises(ClaimsChallengeLoop):
            await client.get(f"{API}/loop")
    assert len(credential.calls) == 2


async def test_async_proactive_refresh_and_failure(router: respx.MockRouter) -> None:
    FakeResource(router)
    now = [1000.0]
    credential = CountingCredential(expires_in=7200, refresh_in=600, clock=lambda: now[0])
    async with AsyncCAEClient(CAEAuth(credential, SCOPE, clock=lambda: now[0])) as client:
        await client.get(f"{API}/1")
        now[0] += 601
        await client.get(f"{API}/2")
        assert len(credential.calls) == 2
        credential.fail = TokenAcquisitionError("down", error="temporarily_unavailable")
        now[0] += 7200
        with pytest.raises(TokenAcquisitionError):
            await client.get(f"{API}/3")


# -- a bearer token goes over TLS only (RFC 6750 section 5.3) ----------------------------------

CLEARTEXT = ["http://api.test/x", "HTTP://api.test/x", "http://10.0.0.7:8080/x"]
LOOPBACK = ["http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]:9/x"]


@pytest.mark.parametrize("url", CLEARTEXT)
def test_no_token_is_sent_over_cleartext_http(router: respx.MockRouter, url: str) -> None:
    from cae_sdk.errors import ConfigurationError

    route = router.route().respond(200)
    credential = CountingCredential()
    with CAEClient(credential, SCOPE) as client, pytest.raises(ConfigurationError, match="https"):
        client.get(url)
    assert not route.called and credential.calls == []  # nothing sent, no token fetched


@pytest.mark.parametrize("url", LOOPBACK)
async def test_loopback_and_opt_in_may_use_http(router: respx.MockRouter, url: str) -> None:
    route = router.route().respond(200)
    async with AsyncCAEClient(CountingCredential(), SCOPE) as client:
        assert (await client.get(url)).status_code == 200
    with CAEClient(CountingCredential(), SCOPE, allow_http=True) as client:
        assert client.get(CLEARTEXT[0]).status_code == 200
    assert route.calls.last.request.headers["authorization"] == "Bearer tok-1"


def test_requests_and_aiohttp_adapters_refuse_cleartext_too() -> None:
    from cae_sdk.client.requests import CAESession
    from cae_sdk.errors import ConfigurationError

    with CAESession(CountingCredential(), SCOPE) as session, pytest.raises(ConfigurationError):
        session.get("http://api.test/x")
    aiohttp = pytest.importorskip("aiohttp")
    from cae_sdk.client.aiohttp import CAEClientMiddleware

    async def call() -> None:
        middleware = CAEClientMiddleware(CountingCredential(), SCOPE)
        async with aiohttp.ClientSession(middlewares=[middleware]) as session:
            await session.get("http://api.test/x")

    import asyncio

    with pytest.raises(ConfigurationError):
        asyncio.run(call())
