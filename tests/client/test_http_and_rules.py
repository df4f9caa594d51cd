"""The MSAL HTTP adapter, the loop breaker and the replay rules in isolation."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
import requests
import respx
from hypothesis import given
from hypothesis import strategies as st

from cae_sdk.client import (
    ConfidentialClientCredential,
    HttpSettings,
    LoopBreaker,
    MsalHttpClient,
    ensure_replayable,
)
from cae_sdk.client._token import AccessToken
from cae_sdk.core.claims import CP1, merge_claims
from cae_sdk.errors import ClaimsChallengeLoop, RequestNotReplayable, TokenAcquisitionError

from .fakes import AUTHORITY_HOST, SCOPE, TENANT, TOKEN_URL, FakeIdentityProvider


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def test_adapter_get_and_post_shape(router: respx.MockRouter) -> None:
    get = router.get("https://idp.test/meta").respond(200, json={"ok": True})
    post = router.post("https://idp.test/token").respond(400, json={"error": "invalid_grant"})
    client = MsalHttpClient(HttpSettings(timeout=3))
    response = client.get(
        "https://idp.test/meta", params={"a": "1", "skip": None}, headers={"X": "y"}
    )
    assert response.status_code == 200 and response.text == '{"ok":true}'
    assert dict(get.calls.last.request.url.params) == {"a": "1"}
    assert get.calls.last.request.headers["x"] == "y"
    response = client.post(
        "https://idp.test/token",
        data={"grant_type": "client_credentials", "client_assertion": b"a.b.c", "claims": None},
    )
    assert response.status_code == 400
    with pytest.raises(httpx.HTTPStatusError):
        response.raise_for_status()
    form = dict(parse_qsl(post.calls.last.request.content.decode()))
    assert form == {"grant_type": "client_credentials", "client_assertion": "a.b.c"}
    client.post("https://idp.test/token", data="raw=1")
    assert post.calls.last.request.content == b"raw=1"
    client.close()


def test_adapter_maps_transport_errors_to_requests_errors(router: respx.MockRouter) -> None:
    router.get("https://idp.test/down").mock(side_effect=httpx.ConnectError("no route"))
    router.get("https://idp.test/slow").mock(side_effect=httpx.ReadTimeout("slow"))
    client = MsalHttpClient()
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        client.get("https://idp.test/down?code=secret")
    assert "secret" not in str(caught.value)
    with pytest.raises(requests.exceptions.Timeout):
        client.get("https://idp.test/slow")


def test_undecodable_token_response_is_a_token_error(router: respx.MockRouter) -> None:
    """An identity provider answering with a body httpx cannot decode (a broken gzip from a
    proxy) gives a TokenAcquisitionError, not a raw httpx exception out of the client."""
    FakeIdentityProvider(router)
    router.post(TOKEN_URL).mock(
        return_value=httpx.Response(
            200, headers={"content-encoding": "gzip"}, stream=httpx.ByteStream(b"not gzip")
        )
    )
    credential = ConfidentialClientCredential(
        TENANT, "app-id", client_secret="s", authority_host=AUTHORITY_HOST
    )
    with pytest.raises(TokenAcquisitionError) as caught:
        credential.get_token([SCOPE])
    assert caught.value.error == "invalid_response"  # answered, but unreadable
    credential.close()


def test_loop_breaker_window_slides() -> None:
    breaker = LoopBreaker(max_attempts=2, window=10)
    breaker.admit("k", 0)
    breaker.admit("k", 1)
    with pytest.raises(ClaimsChallengeLoop) as caught:
        breaker.admit("k", 5)
    assert caught.value.retry_after == pytest.approx(5)
    breaker.admit("other", 5)  # keys are independent
    breaker.admit("k", 10.5)  # the first attempt left the window
    with pytest.raises(ValueError):
        LoopBreaker(max_attempts=0)


def test_loop_breaker_bounds_memory() -> None:
    breaker = LoopBreaker(max_attempts=1, window=100, max_keys=3)
    for i in range(10):
        breaker.admit(i, float(i))
    assert len(breaker._attempts) == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"content": b"x"},
        {"json": {"a": 1}},
        {"data": {"a": "1"}},
        {"files": {"f": ("a", io.BytesIO(b"x"))}},
        {"files": {"f": ("a", b"x")}, "data": {"k": "v"}},
    ],
)
def test_replayable_bodies(kwargs: dict[str, object]) -> None:
    ensure_replayable(httpx.Request("POST", "https://api.test/", **kwargs))  # type: ignore[arg-type]


def test_generator_body_is_not_replayable() -> None:
    request = httpx.Request("POST", "https://api.test/p?secret=1", content=iter([b"a"]))
    with pytest.raises(RequestNotReplayable) as caught:
        ensure_replayable(request)
    assert "secret" not in str(caught.value)
    request.read()  # buffered by the caller: now it can be replayed
    ensure_replayable(request)


async def test_async_generator_body_is_replayable_once_read() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"a"

    request = httpx.Request("POST", "https://api.test/p", content=chunks())
    with pytest.raises(RequestNotReplayable):
        ensure_replayable(request)
    assert await request.aread() == b"a"
    ensure_replayable(request)


def test_access_token_hides_token_and_computes_refresh() -> None:
    token = AccessToken.from_result({"access_token": "secret-token", "expires_in": 3600}, now=0)
    assert "secret-token" not in repr(token)
    assert token.refresh_on == 3600 - 300
    assert not token.needs_refresh(3299) and token.needs_refresh(3300)
    hinted = AccessToken.from_result(
        {"access_token": "t", "expires_in": 100, "refresh_in": 5000}, now=0
    )
    assert hinted.refresh_on == 100  # never later than expiry


def test_ca_bundle_path_becomes_ssl_context(tmp_path: Path) -> None:
    import ssl

    from cae_sdk.errors import ConfigurationError

    assert HttpSettings().ssl_verify() is True
    with pytest.raises(ConfigurationError, match="CA bundle"):
        HttpSettings(verify=str(tmp_path / "missing.pem")).ssl_verify()
    (tmp_path / "bad.pem").write_text("not a certificate")
    with pytest.raises(ConfigurationError):
        HttpSettings(verify=str(tmp_path / "bad.pem")).ssl_verify()
    assert isinstance(HttpSettings(verify=str(tmp_path)).ssl_verify(), ssl.SSLContext)


def test_credentials_close_only_the_client_they_created() -> None:
    from cae_sdk import ConfidentialClientCredential, ManagedIdentityCredential

    own = httpx.Client()
    with ConfidentialClientCredential(
        "t", "app", client_secret="s", authority_host="login.test", http_client=own
    ):
        pass
    assert not own.is_closed  # the application's client stays the application's
    credential = ManagedIdentityCredential()
    with credential:
        pass
    assert credential._http is not None and credential._http._client.is_closed
    own.close()


# -- cp1 always: whatever claims a challenge asks for, the token request announces cp1 ---------

_CLAIM_REQUEST = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "essential": st.booleans(),
            "value": st.one_of(st.text(max_size=8), st.integers()),
            "values": st.lists(st.text(max_size=8), max_size=3),
        },
    ),
)
_CLAIMS_REQUESTS = st.dictionaries(
    st.sampled_from(["access_token", "id_token"]),
    st.dictionaries(
        st.sampled_from(["xms_cc", "nbf", "acrs", "xms_caeerror", "amr"]),
        _CLAIM_REQUEST,
        max_size=4,
    ),
    max_size=2,
)


@given(_CLAIMS_REQUESTS)
def test_a_merged_claims_request_always_announces_cp1(challenge: dict[str, object]) -> None:
    merged = json.loads(merge_claims(CP1, json.dumps(challenge)))
    values = merged["access_token"]["xms_cc"]["values"]
    assert any(isinstance(v, str) and v.casefold() == "cp1" for v in values)
    for member, requests_ in challenge.items():  # and every member the server asked for
        assert isinstance(requests_, dict)
        assert set(requests_) <= set(merged[member])
