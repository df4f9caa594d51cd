"""``cae_sdk.client.requests``: CAERequestsAuth and CAESession.

Unit tests run real ``requests`` sessions over a transport adapter that answers like a CAE
resource (no sockets, so property tests can run many exchanges); end-to-end tests run the dev
identity provider and a live ``CAEMiddleware`` API over HTTPS.
"""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest, Response
from requests.structures import CaseInsensitiveDict

from cae_sdk import build_claims_challenge
from cae_sdk.client.requests import CAERequestsAuth, CAESession
from cae_sdk.core.errors import (
    CAEError,
    ClaimsChallengeFailed,
    ClaimsChallengeLoop,
    ConfigurationError,
    RequestNotReplayable,
)

from .fakes import NBF_CLAIMS, SCOPE, CountingCredential

API = "https://api.test"
CHALLENGE = build_claims_challenge(NBF_CLAIMS, authorization_uri="https://login.test/authorize")


def _read(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, bytes):
        return body
    if hasattr(body, "read"):
        return bytes(body.read())
    return b"".join(part if isinstance(part, bytes) else part.encode() for part in body)


class FakeApi(HTTPAdapter):
    """Transport adapter answering like a CAE resource: tokens in ``revoked`` (every token with
    ``always``) get a claims challenge; ``script`` (status, WWW-Authenticate) pairs, when set,
    answer the next sends instead. Records (token, body) per send."""

    def __init__(self) -> None:
        super().__init__()
        self.revoked: set[str] = set()
        self.always = False
        self.script: list[tuple[int, str | None]] = []
        self.seen: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        token = str(request.headers.get("Authorization", "")).removeprefix("Bearer ")
        body = _read(request.body)
        with self._lock:
            self.seen.append((token, body))
            scripted = self.script.pop(0) if self.script else None
        location = None
        if scripted is not None:
            status, header = scripted
        elif request.path_url.startswith("/redirect?to="):
            status, header = 302, None
            location = requests.utils.unquote(request.path_url.split("=", 1)[1])
        elif self.always or token in self.revoked:
            status, header = 401, CHALLENGE
        else:
            status, header = 200, None
        response = Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict({"WWW-Authenticate": header} if header else {})
        if location:
            response.headers["Location"] = location
        response._content = body if status == 200 else b'{"error":"challenged"}'
        response.raw = io.BytesIO(response._content)
        response.url = str(request.url)
        response.request = request
        response.connection = self
        return response


def _session(api: FakeApi, auth: CAERequestsAuth) -> requests.Session:
    session = requests.Session()
    session.mount(API, api)
    session.auth = auth
    return session


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


def test_requests_carry_the_cp1_token(api: FakeApi) -> None:
    credential = CountingCredential()
    with _session(api, CAERequestsAuth(credential, SCOPE)) as session:
        assert session.get(f"{API}/a").status_code == 200
        assert session.get(f"{API}/b").status_code == 200
    assert [token for token, _ in api.seen] == ["tok-1", "tok-1"]
    assert credential.calls == [((SCOPE,), None, None)]


@pytest.mark.parametrize(
    "body",
    [
        {"json": {"n": 1}},
        {"data": {"field": "value"}},
        {"data": b"raw bytes"},
        {"files": {"upload": ("a.txt", b"file content")}},
    ],
)
def test_challenge_is_answered_once_with_the_body(api: FakeApi, body: dict[str, Any]) -> None:
    credential = CountingCredential()
    api.revoked.add("tok-1")
    with _session(api, CAERequestsAuth(credential, SCOPE)) as session:
        response = session.post(f"{API}/data", **body)
    assert response.status_code == 200
    assert [token for token, _ in api.seen] == ["tok-1", "tok-2"]
    assert api.seen[0][1] == api.seen[1][1] != b""  # the same body, sent twice
    assert [r.status_code for r in response.history] == [401]
    assert credential.calls[1] == ((SCOPE,), json.dumps(NBF_CLAIMS, separators=(",", ":")), "tok-1")


def test_seekable_file_body_is_rewound_for_the_replay(api: FakeApi) -> None:
    api.revoked.add("tok-1")
    payload = io.BytesIO(b"prefix|file body")
    payload.seek(len(b"prefix|"))  # requests sends from where the file stands
    with _session(api, CAERequestsAuth(CountingCredential(), SCOPE)) as session:
        assert session.put(f"{API}/data", data=payload).status_code == 200
    assert [body for _, body in api.seen] == [b"file body", b"file body"]


def test_one_shot_body_is_not_replayed(api: FakeApi) -> None:
    credential = CountingCredential()
    api.revoked.add("tok-1")
    with (
        _session(api, CAERequestsAuth(credential, SCOPE)) as session,
        pytest.raises(RequestNotReplayable) as caught,
    ):
        session.post(f"{API}/data", data=(chunk for chunk in [b"one ", b"shot"]))
    assert caught.value.response.status_code == 401
    assert len(api.seen) == 1 and len(credential.calls) == 1  # no token asked for nothing


def test_second_challenge_fails_cleanly(api: FakeApi) -> None:
    credential = CountingCredential()
    api.always = True
    with (
        _session(api, CAERequestsAuth(credential, SCOPE)) as session,
        pytest.raises(ClaimsChallengeFailed) as caught,
    ):
        session.get(f"{API}/data")
    assert caught.value.response.status_code == 401
    assert len(api.seen) == 2 and len(credential.calls) == 2


def test_token_does_not_follow_a_redirect_to_another_origin(api: FakeApi) -> None:
    """requests drops Authorization on a redirect to another host and the auth is not applied
    again: the other origin sees no token, and its challenge is returned, not answered."""
    other = FakeApi()
    other.always = True
    credential = CountingCredential()
    with _session(api, CAERequestsAuth(credential, SCOPE)) as session:
        session.mount("https://other.test", other)
        response = session.get(f"{API}/redirect?to=https://other.test/x")
        assert response.status_code == 401
        assert session.get(f"{API}/redirect?to={API}/home").status_code == 200
    assert other.seen == [("", b"")]
    assert [token for token, _ in api.seen] == ["tok-1", "tok-1", "tok-1"]  # same origin: kept
    assert len(credential.calls) == 1


def test_a_replay_that_is_redirected_carries_the_new_token(api: FakeApi) -> None:
    """The replay's answer is a same-origin redirect: requests follows it from the request the
    caller made, which must carry the token that answered the challenge, not the refused one."""
    credential = CountingCredential()
    api.revoked.add("tok-1")
    api.script = [(401, CHALLENGE)]  # the first send is challenged; the replay is redirected
    with _session(api, CAERequestsAuth(credential, SCOPE)) as session:
        response = session.get(f"{API}/redirect?to={API}/moved")
    assert response.status_code == 200
    assert [token for token, _ in api.seen] == ["tok-1", "tok-2", "tok-2"]
    assert len(credential.calls) == 2


def test_plain_401_is_returned_untouched(api: FakeApi) -> None:
    credential = CountingCredential()
    api.script = [(401, 'Bearer error="invalid_token", error_description="expired"')]
    with _session(api, CAERequestsAuth(credential, SCOPE)) as session:
        assert session.get(f"{API}/data").status_code == 401
    assert len(api.seen) == 1 and len(credential.calls) == 1


def test_loop_breaker_stops_a_resource_that_keeps_challenging(api: FakeApi) -> None:
    credential = CountingCredential()
    api.always = True
    with _session(api, CAERequestsAuth(credential, SCOPE)) as session:
        for _ in range(3):
            with pytest.raises(ClaimsChallengeFailed):
                session.get(f"{API}/data")
        calls = len(credential.calls)
        with pytest.raises(ClaimsChallengeLoop):
            session.get(f"{API}/data")
    assert len(credential.calls) == calls  # the identity provider was left alone


def test_concurrent_challenges_cost_one_token_request(api: FakeApi) -> None:
    credential = CountingCredential()
    auth = CAERequestsAuth(credential, SCOPE)
    with _session(api, auth) as session:
        assert session.get(f"{API}/warm").status_code == 200
        api.revoked.add("tok-1")
        statuses: list[int] = []
        start = threading.Barrier(8)

        def call() -> None:
            start.wait(5)
            statuses.append(session.get(f"{API}/data").status_code)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert statuses == [200] * 8
    assert len(credential.calls) == 2  # the plain token, then one for the whole burst


def test_session_takes_a_credential_or_a_ready_auth() -> None:
    credential = CountingCredential()
    auth = CAERequestsAuth(credential, SCOPE)
    assert CAESession(auth).auth is auth
    assert isinstance(CAESession(credential, SCOPE).auth, CAERequestsAuth)
    with pytest.raises(ConfigurationError):
        CAESession(auth, SCOPE)
    with pytest.raises(ConfigurationError):
        CAESession(credential)


_HEADERS = st.sampled_from(
    [
        CHALLENGE,
        'Bearer error="invalid_token"',
        'Bearer claims="not base64", error="insufficient_claims"',
        "Basic realm=x",
        'Bearer error="insufficient_claims", claims="ey',
        None,
    ]
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    script=st.lists(
        st.tuples(st.sampled_from([200, 401, 403, 500]), _HEADERS), min_size=1, max_size=4
    ),
    body=st.sampled_from(["bytes", "json", "generator", "file", None]),
)
def test_any_resource_behaviour_gives_a_response_or_a_typed_error(
    script: list[tuple[int, str | None]], body: str | None
) -> None:
    """Whole-adapter property: an answer or a CAEError; at most one replay; the replay carries
    the same body and a new token; a one-shot body is never replayed."""
    api = FakeApi()
    api.script = list(script)
    credential = CountingCredential()
    kwargs: dict[str, Any] = {
        "bytes": {"data": b"payload"},
        "json": {"json": {"k": "v"}},
        "generator": {"data": (part for part in [b"pay", b"load"])},
        "file": {"data": io.BytesIO(b"payload")},
        None: {},
    }[body]
    with _session(api, CAERequestsAuth(credential, SCOPE)) as session:
        try:
            response = session.post(f"{API}/x", **kwargs)
        except CAEError as error:
            assert isinstance(error, (ClaimsChallengeFailed, RequestNotReplayable))
            response = None
    assert 1 <= len(api.seen) <= 2
    assert len(credential.calls) == len(api.seen)
    if len(api.seen) == 2:
        assert script[0] == (401, CHALLENGE) and body != "generator"
        (first_token, first_body), (second_token, second_body) = api.seen
        assert first_body == second_body and first_token != second_token
    if response is not None:
        last = len(api.seen) - 1
        assert response.status_code == (script[last][0] if last < len(script) else 200)


# -- end to end: the dev identity provider and a live CAEMiddleware API over HTTPS -----------

pytest.importorskip("uvicorn")


@pytest.fixture
def idp(cae_idp_session: Any) -> Any:
    return cae_idp_session  # the plugin's provider, shared by the session


@pytest.mark.e2e
def test_session_answers_a_revocation_once(idp: Any) -> None:
    from ._live_api import TokenRequests, live_api, merged_nbf_claims, secret_credential

    recorder = TokenRequests(idp)
    credential = secret_credential(idp, recorder)
    with live_api(idp) as live, CAESession(credential, live.scope) as session:
        session.verify = idp.ca_bundle
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        first = session.get(f"{live.url}/data")
        assert first.status_code == 200
        watermark = first.json()["iat"] + 1
        live.revoke_app(idp.seed.secret_app.client_id, watermark)
        before = len(recorder.token_requests)
        replayed = session.post(f"{live.url}/data", json={"n": 2})
        assert replayed.status_code == 200
        assert replayed.json()["iat"] >= watermark
        assert json.loads(replayed.json()["echo"]) == {"n": 2}
        assert [r.claims for r in recorder.token_requests[before:]] == [
            merged_nbf_claims(watermark)
        ]
        assert [h.status for h in live.hits if h.path == "/data"] == [200, 401, 200]
        with pytest.raises(ClaimsChallengeFailed) as caught:
            session.get(f"{live.url}/always")
        assert caught.value.response.status_code == 401
        caught.value.response.close()
        assert [h.status for h in live.hits if h.path == "/always"] == [401, 401]
    credential.close()
    recorder.close()
