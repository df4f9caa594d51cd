"""Property tests over whole adapters: any identity provider answer, any API answer.

* A real ``ConfidentialClientCredential`` (real MSAL, the real HTTP adapter) given any answer
  from the token endpoint returns a usable token or raises a small ``TokenAcquisitionError``:
  never another exception type, never a message carrying the whole answer.
* ``CAEClient`` given any status and ``WWW-Authenticate`` value from an API sends at most two
  requests, asks for at most one claims token, and ends in a response or a ``CAEError``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cae_sdk import CAEClient, CAEError, ConfidentialClientCredential, TokenAcquisitionError
from cae_sdk.client import AccessToken

from .fakes import API, AUTHORITY, AUTHORITY_HOST, SCOPE, TENANT, TOKEN_URL, CountingCredential

_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_MEMBERS = st.sampled_from(
    [
        "access_token",
        "expires_in",
        "refresh_in",
        "token_type",
        "error",
        "error_description",
        "error_codes",
        "correlation_id",
        "refresh_token",
        "id_token",
        "client_info",
        "scope",
    ]
)
_TOKEN_BODIES = (
    st.dictionaries(_MEMBERS, _JSON, max_size=6).map(lambda d: json.dumps(d).encode())
    | st.fixed_dictionaries(
        {"access_token": st.text(min_size=1, max_size=30), "expires_in": _JSON}
    ).map(lambda d: json.dumps(d).encode())
    | st.binary(max_size=300)
    | _JSON.map(lambda v: json.dumps(v).encode())
)
_STATUSES = st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 502, 503])
_HEADERS = st.dictionaries(
    st.sampled_from(["retry-after", "content-type", "www-authenticate", "x-ms-request-id"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    max_size=3,
)


def _discovery(router: respx.MockRouter) -> None:
    router.get(f"{AUTHORITY}/v2.0/.well-known/openid-configuration").respond(
        json={
            "issuer": f"{AUTHORITY}/v2.0",
            "authorization_endpoint": f"{AUTHORITY}/oauth2/v2.0/authorize",
            "token_endpoint": TOKEN_URL,
        }
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(status=_STATUSES, headers=_HEADERS, body=_TOKEN_BODIES)
def test_any_token_endpoint_answer_is_a_token_or_a_typed_error(
    status: int, headers: dict[str, str], body: bytes
) -> None:
    with respx.mock(assert_all_called=False) as router:
        _discovery(router)
        router.post(TOKEN_URL).respond(status, headers=headers, content=body)
        with ConfidentialClientCredential(
            TENANT, "app", client_secret="s", authority_host=AUTHORITY_HOST
        ) as credential:
            try:
                token = credential.get_token([SCOPE])
            except TokenAcquisitionError as exc:
                assert len(str(exc)) < 3000
                assert exc.error
                return
    assert isinstance(token, AccessToken) and isinstance(token.token, str) and token.token
    assert token.expires_on >= 0 and token.refresh_on <= token.expires_on


_CHALLENGE_PARAMS = st.lists(
    st.tuples(
        st.sampled_from(["error", "claims", "realm", "authorization_uri", "Error", "CLAIMS"]),
        st.sampled_from(
            [
                '"insufficient_claims"',
                "insufficient_claims",
                '"eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwidmFsdWUiOiIxIn19fQ=="',
                '"eyJhY2Nlc3NfdG9rZW4iOnt9fQ"',
                '"not base64"',
                '""',
                '"\\"q\\""',
            ]
        ),
    ),
    max_size=4,
)
_WWW_AUTHENTICATE = st.one_of(
    st.text(max_size=60),
    st.tuples(st.sampled_from(["Bearer", "bearer", "PoP", "Basic"]), _CHALLENGE_PARAMS).map(
        lambda t: t[0] + " " + ", ".join(f"{k}={v}" for k, v in t[1])
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    answers=st.lists(
        st.tuples(st.sampled_from([200, 401, 401, 403, 500]), _WWW_AUTHENTICATE),
        min_size=2,
        max_size=2,
    )
)
def test_any_api_answer_ends_in_a_response_or_a_cae_error(
    answers: list[tuple[int, str]],
) -> None:
    sent: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        status, challenge = answers[min(len(sent), 1)]
        sent.append(request.headers["authorization"])
        headers: Any = {}
        try:
            httpx.Headers({"www-authenticate": challenge})
            headers = {"www-authenticate": challenge}
        except Exception:  # a value httpx will not send: no header
            headers = {}
        return httpx.Response(status, headers=headers)

    credential = CountingCredential()
    with respx.mock(assert_all_called=False) as router:
        router.route(host="api.test").mock(side_effect=handle)
        with CAEClient(credential, SCOPE) as client:
            try:
                response = client.get(f"{API}/x")
            except CAEError:
                response = None
    assert 1 <= len(sent) <= 2
    assert len([c for c in credential.calls if c[1] is not None]) <= 1
    if response is not None:
        assert response.status_code == answers[len(sent) - 1][0]


def test_property_helpers_cover_the_error_path() -> None:
    # The strategies above must reach both outcomes; a quick sanity check on one of each.
    with respx.mock(assert_all_called=False) as router:
        _discovery(router)
        router.post(TOKEN_URL).respond(503, content=b"down")
        with (
            ConfidentialClientCredential(
                TENANT, "app", client_secret="s", authority_host=AUTHORITY_HOST
            ) as credential,
            pytest.raises(TokenAcquisitionError),
        ):
            credential.get_token([SCOPE])
