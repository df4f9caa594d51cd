"""``cae_sdk.client.aiohttp``: CAEClientMiddleware in real ``aiohttp.ClientSession`` s.

Unit tests talk to an aiohttp web server on 127.0.0.1 that answers like a CAE resource;
end-to-end tests run the dev identity provider and a live ``CAEMiddleware`` API over HTTPS.
Async tests carry a loop-lag probe: MSAL must never run on the event loop.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cae_sdk import build_claims_challenge
from cae_sdk.core.errors import (
    CAEError,
    ClaimsChallengeFailed,
    ClaimsChallengeLoop,
    ConfigurationError,
    RequestNotReplayable,
)

aiohttp = pytest.importorskip("aiohttp")

from aiohttp import web  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402

from cae_sdk.client.aiohttp import CAEClientMiddleware  # noqa: E402

from ._live_api import LoopLag  # noqa: E402
from .fakes import NBF_CLAIMS, SCOPE, CountingCredential  # noqa: E402

CHALLENGE = build_claims_challenge(NBF_CLAIMS, authorization_uri="https://login.test/authorize")


class FakeApi:
    """An aiohttp web app answering like a CAE resource: tokens in ``revoked`` (every token
    with ``always``) get a claims challenge; ``script`` (status, WWW-Authenticate) pairs, when
    set, answer the next requests instead. Records (token, body) per request."""

    def __init__(self) -> None:
        self.revoked: set[str] = set()
        self.always = False
        self.script: list[tuple[int, str | None]] = []
        self.seen: list[tuple[str, bytes]] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        body = await request.read()
        self.seen.append((token, body))
        if self.script:
            status, header = self.script.pop(0)
        elif self.always or token in self.revoked:
            status, header = 401, CHALLENGE
        else:
            status, header = 200, None
        headers = {"WWW-Authenticate": header} if header else {}
        return web.Response(status=status, body=body if status == 200 else b"{}", headers=headers)


@pytest.fixture
async def api() -> AsyncIterator[tuple[FakeApi, str]]:
    fake = FakeApi()
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    yield fake, str(server.make_url(""))
    await server.close()


def _session(middleware: CAEClientMiddleware) -> Any:
    return aiohttp.ClientSession(middlewares=[middleware])


async def test_requests_carry_the_cp1_token(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    credential = CountingCredential()
    async with _session(CAEClientMiddleware(credential, SCOPE)) as session:
        for path in ("/a", "/b"):
            async with session.get(url + path) as response:
                assert response.status == 200
    assert [token for token, _ in fake.seen] == ["tok-1", "tok-1"]
    assert len(credential.calls) == 1


async def test_cleartext_verdicts_hold_on_every_request(api: tuple[FakeApi, str]) -> None:
    """The loopback check is remembered per URL and host: the API on 127.0.0.1 gets the token
    every time, a plain-http URL elsewhere is refused every time, nothing sent."""
    fake, url = api
    async with _session(CAEClientMiddleware(CountingCredential(), SCOPE)) as session:
        for _ in range(2):
            async with session.get(url + "/a") as response:
                assert response.status == 200
            for other in ("http://10.0.0.7:9/x", "http://127.0.0.1.example.test/x"):
                with pytest.raises(ConfigurationError, match="https"):
                    await session.get(other)
    assert [token for token, _ in fake.seen] == ["tok-1", "tok-1"]


@pytest.mark.parametrize(
    "body",
    [
        {"json": {"n": 1}},
        {"data": {"field": "value"}},
        {"data": b"raw bytes"},
        {"data": io.BytesIO(b"file-like body")},
    ],
    ids=["json", "form", "bytes", "file"],
)
async def test_challenge_is_answered_once_with_the_body(
    api: tuple[FakeApi, str], body: dict[str, Any]
) -> None:
    fake, url = api
    fake.revoked.add("tok-1")
    credential = CountingCredential()
    async with (
        _session(CAEClientMiddleware(credential, SCOPE)) as session,
        session.post(url + "/data", **body) as response,
    ):
        assert response.status == 200
        echoed = await response.read()
    assert [token for token, _ in fake.seen] == ["tok-1", "tok-2"]
    assert fake.seen[0][1] == fake.seen[1][1] == echoed != b""
    assert credential.calls[1][2] == "tok-1"  # the claims request names the refused token


async def test_one_shot_body_is_not_replayed(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    fake.revoked.add("tok-1")
    credential = CountingCredential()

    async def stream() -> AsyncIterator[bytes]:
        yield b"one "
        yield b"shot"

    async with _session(CAEClientMiddleware(credential, SCOPE)) as session:
        with pytest.raises(RequestNotReplayable) as caught:
            await session.post(url + "/data", data=stream())
        caught.value.response.release()
    assert caught.value.response.status == 401
    assert len(fake.seen) == 1 and len(credential.calls) == 1


async def test_second_challenge_fails_cleanly(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    fake.always = True
    credential = CountingCredential()
    async with _session(CAEClientMiddleware(credential, SCOPE)) as session:
        with pytest.raises(ClaimsChallengeFailed) as caught:
            await session.get(url + "/data")
        caught.value.response.release()
    assert caught.value.response.status == 401
    assert len(fake.seen) == 2 and len(credential.calls) == 2


async def test_plain_401_is_returned_untouched(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    fake.script = [(401, 'Bearer error="invalid_token"')]
    credential = CountingCredential()
    async with (
        _session(CAEClientMiddleware(credential, SCOPE)) as session,
        session.get(url + "/data") as response,
    ):
        assert response.status == 401
    assert len(fake.seen) == 1 and len(credential.calls) == 1


async def test_loop_breaker_stops_a_resource_that_keeps_challenging(
    api: tuple[FakeApi, str],
) -> None:
    fake, url = api
    fake.always = True
    credential = CountingCredential()
    async with _session(CAEClientMiddleware(credential, SCOPE)) as session:
        for _ in range(3):
            with pytest.raises(ClaimsChallengeFailed) as caught:
                await session.get(url + "/data")
            caught.value.response.release()
        calls = len(credential.calls)
        with pytest.raises(ClaimsChallengeLoop):
            await session.get(url + "/data")
    assert len(credential.calls) == calls


async def test_burst_of_challenges_one_token_request_no_blocking(
    api: tuple[FakeApi, str],
) -> None:
    fake, url = api

    class SlowCredential(CountingCredential):
        def get_token(self, scopes: Any, **kwargs: Any) -> Any:
            time.sleep(0.5)  # a blocking MSAL call
            return super().get_token(scopes, **kwargs)

    credential = SlowCredential()
    async with _session(CAEClientMiddleware(credential, SCOPE)) as session:
        async with session.get(url + "/warm") as warm:
            assert warm.status == 200
        fake.revoked.add("tok-1")

        async def call() -> int:
            async with session.get(url + "/data") as response:
                return response.status

        async with LoopLag() as lag:
            statuses = await asyncio.gather(*(call() for _ in range(20)))
    assert statuses == [200] * 20
    assert len(credential.calls) == 2  # the plain token, then one for the whole burst
    assert lag.worst < 0.3  # 0.5 s of blocking would show


async def test_token_does_not_follow_a_redirect_to_another_origin(
    api: tuple[FakeApi, str],
) -> None:
    """aiohttp calls middlewares for every redirect hop; the token stays with its origin and a
    challenge from the other origin is returned, not answered."""
    fake, url = api
    fake.always = True  # the other origin challenges whatever it is shown
    seen_at_origin: list[tuple[str, str]] = []

    async def redirect(request: web.Request) -> web.Response:
        seen_at_origin.append((request.path, request.headers.get("Authorization", "")))
        if request.path == "/redirect":
            raise web.HTTPFound(request.query["to"])
        return web.Response(text="here")

    app = web.Application()
    app.router.add_get("/{name}", redirect)
    origin = TestServer(app, host="127.0.0.1")
    await origin.start_server()
    credential = CountingCredential()
    try:
        async with _session(CAEClientMiddleware(credential, SCOPE)) as session:
            away = origin.make_url("/redirect").with_query(to=f"{url}/elsewhere")
            async with session.get(away) as response:
                assert response.status == 401  # the other origin's challenge, untouched
            home = origin.make_url("/redirect").with_query(to=str(origin.make_url("/home")))
            async with session.get(home) as response:
                assert await response.text() == "here"
    finally:
        await origin.close()
    assert fake.seen == [("", b"")]  # no token crossed over, no replay there
    assert len(credential.calls) == 1  # no token was fetched for the stranger's challenge
    assert seen_at_origin == [
        ("/redirect", "Bearer tok-1"),
        ("/redirect", "Bearer tok-1"),
        ("/home", "Bearer tok-1"),  # a same-origin redirect keeps it
    ]


async def _wait_for_middleware(request: Any, handler: Any) -> Any:
    """An outer middleware that runs the rest of the chain in a task of its own (as
    ``asyncio.wait_for`` does before Python 3.12): nothing the inner one sets in its context
    survives to the next hop."""
    return await asyncio.create_task(handler(request))


@pytest.mark.parametrize("outer", [[], [_wait_for_middleware]], ids=["alone", "task-hop"])
async def test_redirect_hop_to_another_origin_never_gets_the_token(
    api: tuple[FakeApi, str], outer: list[Any]
) -> None:
    fake, url = api

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{url}/stolen")

    app = web.Application()
    app.router.add_get("/{name}", redirect)
    origin = TestServer(app, host="127.0.0.1")
    await origin.start_server()
    middleware = CAEClientMiddleware(CountingCredential(), SCOPE)
    try:
        async with aiohttp.ClientSession(middlewares=[*outer, middleware]) as session:
            for _ in range(2):
                async with session.get(origin.make_url("/redirect")) as response:
                    assert response.status == 200
    finally:
        await origin.close()
    assert fake.seen == [("", b""), ("", b"")]


async def test_a_redirect_not_followed_leaves_other_origins_alone(
    api: tuple[FakeApi, str],
) -> None:
    """``allow_redirects=False``: the caller gets the redirect; its next request to another
    origin is a request of its own, with the token."""
    fake, url = api

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("https://elsewhere.test/next")

    app = web.Application()
    app.router.add_get("/{name}", redirect)
    origin = TestServer(app, host="127.0.0.1")
    await origin.start_server()
    try:
        async with _session(CAEClientMiddleware(CountingCredential(), SCOPE)) as session:
            async with session.get(origin.make_url("/r"), allow_redirects=False) as response:
                assert response.status == 302
            async with session.get(f"{url}/mine") as response:
                assert response.status == 200
    finally:
        await origin.close()
    assert fake.seen == [("tok-1", b"")]


_HEADERS = st.sampled_from(
    [
        CHALLENGE,
        'Bearer error="invalid_token"',
        'Bearer claims="not base64", error="insufficient_claims"',
        'Bearer error="insufficient_claims", claims="ey',
        None,
    ]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    script=st.lists(st.tuples(st.sampled_from([200, 401, 500]), _HEADERS), min_size=1, max_size=3),
    body=st.sampled_from(["bytes", "json", "stream", None]),
)
def test_any_resource_behaviour_gives_a_response_or_a_typed_error(
    script: list[tuple[int, str | None]], body: str | None
) -> None:
    """Whole-adapter property: an answer or a CAEError; at most one replay, with the same body
    and a new token; a one-shot body is never replayed."""

    async def scenario() -> tuple[FakeApi, int | None, int]:
        fake = FakeApi()
        fake.script = list(script)
        credential = CountingCredential()
        server = TestServer(fake.app, host="127.0.0.1")
        await server.start_server()

        async def stream() -> AsyncIterator[bytes]:
            yield b"pay"
            yield b"load"

        kwargs: dict[str, Any] = {
            "bytes": {"data": b"payload"},
            "json": {"json": {"k": "v"}},
            "stream": {"data": stream()},
            None: {},
        }[body]
        status: int | None = None
        try:
            async with _session(CAEClientMiddleware(credential, SCOPE)) as session:
                try:
                    async with session.post(str(server.make_url("/x")), **kwargs) as response:
                        status = response.status
                except CAEError as error:
                    assert isinstance(error, (ClaimsChallengeFailed, RequestNotReplayable))
                    error.response.release()  # type: ignore[attr-defined]
        finally:
            await server.close()
        return fake, status, len(credential.calls)

    fake, status, calls = asyncio.run(scenario())
    assert 1 <= len(fake.seen) <= 2
    assert calls == len(fake.seen)
    if len(fake.seen) == 2:
        assert script[0] == (401, CHALLENGE) and body != "stream"
        (first_token, first_body), (second_token, second_body) = fake.seen
        assert first_body == second_body and first_token != second_token
    if status is not None:
        last = len(fake.seen) - 1
        assert status == (script[last][0] if last < len(script) else 200)


# -- end to end: the dev identity provider and a live CAEMiddleware API over HTTPS -----------

pytest.importorskip("uvicorn")


@pytest.fixture
def idp(cae_idp_session: Any) -> Any:
    return cae_idp_session  # the plugin's provider, shared by the session


@pytest.mark.e2e
async def test_session_answers_a_revocation_without_blocking(idp: Any) -> None:
    from ._live_api import (
        TokenRequests,
        live_api,
        merged_nbf_claims,
        secret_credential,
        tls_context,
    )

    recorder = TokenRequests(idp)
    credential = secret_credential(idp, recorder)
    middleware = CAEClientMiddleware(credential, f"{idp.seed.api.audience}/.default")
    connector = aiohttp.TCPConnector(ssl=tls_context(idp))
    with live_api(idp) as live:
        async with aiohttp.ClientSession(middlewares=[middleware], connector=connector) as session:
            async with session.get(f"{live.url}/data") as first:
                assert first.status == 200
            # A watermark ahead of the clock: the identity provider holds the claims token
            # request ~3 s; on the event loop that would block it as long.
            watermark = int(time.time()) + 3
            live.revoke_app(idp.seed.secret_app.client_id, watermark)
            before = len(recorder.token_requests)
            async with LoopLag() as lag:
                started = time.monotonic()
                async with session.post(f"{live.url}/data", json={"n": 2}) as replayed:
                    assert replayed.status == 200
                    answer = await replayed.json()
                took = time.monotonic() - started
            assert answer["iat"] == watermark and json.loads(answer["echo"]) == {"n": 2}
            assert [r.claims for r in recorder.token_requests[before:]] == [
                merged_nbf_claims(watermark)
            ]
            assert took >= 1.5 and lag.worst < 1.0
            assert [h.status for h in live.hits if h.path == "/data"] == [200, 401, 200]
            with pytest.raises(ClaimsChallengeFailed) as caught:
                await session.get(f"{live.url}/always")
            caught.value.response.release()
            assert [h.status for h in live.hits if h.path == "/always"] == [401, 401]
    await asyncio.to_thread(credential.close)
    recorder.close()
