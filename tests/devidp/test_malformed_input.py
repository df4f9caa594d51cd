"""Malformed token requests, assertions, claims, admin, SSF and IMDS calls get Entra-style or RFC
errors, never a 500; secrets never reach the logs."""

from __future__ import annotations

import base64
import json
import logging
import ssl
from collections.abc import Iterator

import httpx
import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cae_sdk.devidp import DevIdentityProvider

pytestmark = pytest.mark.e2e

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(scope="module")
def idp() -> Iterator[DevIdentityProvider]:
    with DevIdentityProvider() as provider:
        yield provider


@pytest.fixture(scope="module")
def client(idp: DevIdentityProvider) -> Iterator[httpx.Client]:
    with httpx.Client(verify=ssl.create_default_context(cafile=idp.ca_bundle), timeout=10) as c:
        yield c


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _assert_entra_error(response: httpx.Response, error: str | None = None) -> dict[str, object]:
    assert response.status_code in (400, 401), response.text
    body = response.json()
    assert isinstance(body["error"], str) and body["error_codes"]
    assert str(body["error_description"]).startswith(f"AADSTS{body['error_codes'][0]}:")
    if error is not None:
        assert body["error"] == error, body
    return dict(body)


def _cases(idp: DevIdentityProvider) -> list[tuple[str, dict[str, str], str]]:
    seed = idp.seed
    secret = {
        "client_id": seed.secret_app.client_id,
        "client_secret": seed.secret_app.client_secret or "",
    }
    cc = {"grant_type": "client_credentials", "scope": seed.api.default_scope}
    cert = {
        "grant_type": "client_credentials",
        "scope": seed.api.default_scope,
        "client_id": seed.cert_app.client_id,
        "client_assertion_type": ASSERTION_TYPE,
    }
    fed = {**cert, "client_id": seed.federated_app.client_id}
    unsigned = f"{_b64({'alg': 'none', 'x5t': 'AAAA'})}.{_b64({'iss': 'x'})}."
    forged_fed = jwt.encode(
        {
            "iss": idp.federation_issuer,
            "sub": seed.federated_subject,
            "aud": "api://AzureADTokenExchange",
            "exp": 9999999999,
        },
        "not-the-key-but-long-enough-for-hs256-0123456789",
        algorithm="HS256",
    )
    return [
        ("no grant type", {}, "invalid_request"),
        (
            "unknown grant",
            {"grant_type": "authorization_code", **secret, "scope": "x"},
            "unsupported_grant_type",
        ),
        ("no client id", {**cc, "client_secret": "x"}, "invalid_request"),
        ("no scope", {"grant_type": "client_credentials", **secret}, "invalid_request"),
        ("no credential", {**cc, "client_id": seed.secret_app.client_id}, "invalid_client"),
        (
            "scope not .default",
            {**cc, **secret, "scope": f"{seed.api.audience}/access_as_user"},
            "invalid_scope",
        ),
        ("unknown resource", {**cc, **secret, "scope": "api://nope/.default"}, "invalid_resource"),
        (
            "two resources",
            {**cc, **secret, "scope": "api://a/.default api://b/.default"},
            "invalid_scope",
        ),
        ("blank scope", {**cc, **secret, "scope": "openid profile"}, "invalid_scope"),
        ("claims not json", {**cc, **secret, "claims": "{not json"}, "invalid_request"),
        ("claims not object", {**cc, **secret, "claims": "[1]"}, "invalid_request"),
        ("claims unknown member", {**cc, **secret, "claims": '{"x": {}}'}, "invalid_request"),
        (
            "claims bad nbf",
            {**cc, **secret, "claims": '{"access_token":{"nbf":{"value":"soon"}}}'},
            "invalid_request",
        ),
        (
            "claims nbf far future",
            {**cc, **secret, "claims": '{"access_token":{"nbf":{"value":"99999999999"}}}'},
            "invalid_request",
        ),
        ("claims deep", {**cc, **secret, "claims": "[" * 5000 + "]" * 5000}, "invalid_request"),
        (
            "assertion type wrong",
            {**cert, "client_assertion_type": "urn:x", "client_assertion": "a.b.c"},
            "invalid_request",
        ),
        ("assertion garbage", {**cert, "client_assertion": "garbage"}, "invalid_client"),
        ("assertion alg none", {**cert, "client_assertion": unsigned}, "invalid_client"),
        ("assertion huge", {**cert, "client_assertion": "a" * 20000}, "invalid_client"),
        ("federated forged", {**fed, "client_assertion": forged_fed}, "invalid_client"),
        (
            "federated unknown issuer",
            {**fed, "client_assertion": jwt.encode({"iss": "https://evil"}, "k" * 32)},
            "invalid_client",
        ),
        (
            "refresh garbage",
            {"grant_type": "refresh_token", **secret, "scope": "openid", "refresh_token": "x"},
            "invalid_grant",
        ),
        (
            "password without username",
            {"grant_type": "password", "client_id": seed.public_app.client_id, "scope": "x"},
            "invalid_request",
        ),
        (
            "device code unknown",
            {
                "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "client_id": seed.public_app.client_id,
                "device_code": "nope",
            },
            "invalid_grant",
        ),
    ]


def test_table_of_malformed_token_requests(idp: DevIdentityProvider, client: httpx.Client) -> None:
    for name, form, error in _cases(idp):
        response = client.post(idp.token_endpoint, data=form)
        body = _assert_entra_error(response, error)
        assert name and body["trace_id"]


def test_malformed_bodies_and_paths(idp: DevIdentityProvider, client: httpx.Client) -> None:
    url = idp.token_endpoint
    _assert_entra_error(
        client.post(
            url, content=b"\xff\xfe", headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
    )
    _assert_entra_error(client.post(url, json={"grant_type": "client_credentials"}))
    _assert_entra_error(
        client.post(
            url,
            content=b"grant_type=a&grant_type=b",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    )
    _assert_entra_error(
        client.post(
            url,
            content=b"a=" + b"x" * 300_000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    )
    unknown_tenant = client.post(
        f"{idp.base_url}/not-a-tenant/oauth2/v2.0/token", data={"grant_type": "x"}
    )
    assert _assert_entra_error(unknown_tenant)["error_codes"] == [90002]
    assert (
        client.get(f"{idp.base_url}/nope/v2.0/.well-known/openid-configuration").status_code == 400
    )
    assert client.get(f"{idp.base_url}/no/such/path").status_code == 404
    assert client.get(url).status_code == 405
    devicecode = client.post(
        f"{idp.authority}/oauth2/v2.0/devicecode", data={"client_id": "x", "scope": "y"}
    )
    _assert_entra_error(devicecode)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    form=st.dictionaries(
        st.sampled_from(
            [
                "grant_type",
                "client_id",
                "client_secret",
                "scope",
                "claims",
                "client_assertion",
                "client_assertion_type",
                "refresh_token",
                "device_code",
                "x",
            ]
        ),
        st.one_of(
            st.text(max_size=60),
            st.sampled_from(
                [
                    "client_credentials",
                    "refresh_token",
                    ASSERTION_TYPE,
                    "{}",
                    "null",
                    '{"access_token":{"nbf":{"value":"1"}}}',
                    "api://x/.default",
                ]
            ),
        ),
    )
)
def test_fuzzed_token_form_never_500(
    idp: DevIdentityProvider, client: httpx.Client, form: dict[str, str]
) -> None:
    response = client.post(idp.token_endpoint, data=form)
    assert response.status_code in (200, 400, 401), response.text
    if response.status_code != 200:
        _assert_entra_error(response)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=300))
def test_fuzzed_raw_bodies_never_500(
    idp: DevIdentityProvider, client: httpx.Client, raw: bytes
) -> None:
    response = client.post(
        idp.token_endpoint,
        content=raw,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code in (400, 401)


def test_malformed_admin_calls(idp: DevIdentityProvider, client: httpx.Client) -> None:
    admin = f"{idp.base_url}/admin"
    auth = {"Authorization": f"Bearer {idp.admin_key}"}
    assert client.post(f"{admin}/keys/rotate").status_code == 401
    assert (
        client.post(f"{admin}/keys/rotate", headers={"Authorization": "Bearer wrong"}).status_code
        == 401
    )
    cases = [
        (f"{admin}/users", b"{not json"),
        (f"{admin}/users", b"[]"),
        (f"{admin}/users", b'{"username": 5}'),
        (f"{admin}/users", b'{"username": "a@b", "mfa_registered": "yes"}'),
        (f"{admin}/users/{idp.seed.user.object_id}/risk", b'{"level": "extreme"}'),
        (f"{admin}/namedLocations", b'{"display_name": "x", "ip_ranges": ["300.1.1.1/8"]}'),
        (f"{admin}/policies", b'{"display_name": "x", "grant": "allow"}'),
        (f"{admin}/applications", b'{"roles": []}'),
        (f"{admin}/applications", b'{"identifier_uris": ["api://v"], "access_token_version": 3}'),
    ]
    for url, body in cases:
        response = client.post(url, content=body, headers=auth)
        assert response.status_code == 400, (url, body, response.text)
        assert response.json()["error"]["code"]
    missing = client.post(
        f"{admin}/users/00000000-0000-0000-0000-000000000000/disable", headers=auth
    )
    assert missing.status_code == 404
    assert client.post(f"{admin}/deviceCodes/NOPE/approve", headers=auth).status_code == 404


def test_malformed_ssf_and_imds_calls(idp: DevIdentityProvider, client: httpx.Client) -> None:
    headers = {"Authorization": f"Bearer {idp.ssf_access_token()}"}
    streams = f"{idp.ssf_issuer}/streams"
    created = client.post(
        streams, json={"delivery": {"method": "urn:ietf:rfc:8936"}}, headers=headers
    ).json()
    poll = created["delivery"]["endpoint_url"]
    for body in (
        [],
        {"maxEvents": "3"},
        {"maxEvents": True},
        {"ack": "x"},
        {"setErrs": {"j": 1}},
        {"returnImmediately": "yes"},
    ):
        response = client.post(poll, json=body, headers=headers)
        assert response.status_code == 400 and response.json()["err"] == "invalid_request", body
    for body in (
        {"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": "ftp://x"}},
        {"delivery": "push"},
        {"events_requested": "all"},
        {"aud": 5},
        {
            "delivery": {
                "method": "urn:ietf:rfc:8935",
                "endpoint_url": "http://x",
                "authorization_header": "a\r\nb",
            }
        },
    ):
        assert client.post(streams, json=body, headers=headers).status_code == 400, body
    subjects = f"{idp.ssf_issuer}/subjects/add"
    bad_subject = client.post(
        subjects, json={"stream_id": created["stream_id"], "subject": "x"}, headers=headers
    )
    assert bad_subject.status_code == 400
    status = client.post(
        f"{idp.ssf_issuer}/status",
        json={"stream_id": created["stream_id"], "status": "x"},
        headers=headers,
    )
    assert status.status_code == 400
    other = jwt.encode({"aud": idp.ssf_issuer, "azp": "x"}, "k" * 32)
    assert (
        client.post(streams, json={}, headers={"Authorization": f"Bearer {other}"}).status_code
        == 401
    )
    imds = f"{idp.imds_url}/metadata/identity/oauth2/token"
    meta = {"Metadata": "true"}
    assert client.get(imds, params={"resource": "x"}, headers=meta).status_code == 400
    assert client.get(imds, params={"api-version": "2018-02-01"}, headers=meta).status_code == 400
    unknown = client.get(
        imds, params={"api-version": "2018-02-01", "resource": "api://nope"}, headers=meta
    )
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_resource"
    wrong_id = client.get(
        imds,
        params={
            "api-version": "2018-02-01",
            "resource": idp.seed.api.audience,
            "client_id": "nope",
        },
        headers=meta,
    )
    assert wrong_id.status_code == 400


def test_secrets_and_tokens_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with DevIdentityProvider() as idp:
        seed = idp.seed
        with httpx.Client(verify=ssl.create_default_context(cafile=idp.ca_bundle)) as client:
            ok = client.post(
                idp.token_endpoint,
                data={
                    "grant_type": "client_credentials",
                    "scope": seed.api.default_scope,
                    "client_id": seed.secret_app.client_id,
                    "client_secret": seed.secret_app.client_secret,
                },
            ).json()
            client.post(
                idp.token_endpoint,
                data={
                    "grant_type": "client_credentials",
                    "scope": seed.api.default_scope,
                    "client_id": seed.secret_app.client_id,
                    "client_secret": "wrong-" + (seed.secret_app.client_secret or ""),
                },
            )
            idp.admin.reset_password(seed.user.object_id, "N3w-Secret-Password")
        text = caplog.text + repr(idp) + repr(idp.seed) + repr(idp.settings)
    for secret in (
        seed.secret_app.client_secret or "",
        ok["access_token"],
        "N3w-Secret-Password",
        seed.cert_app.private_key_pem.splitlines()[1],
        idp.admin_key,
        seed.user.password,
    ):
        assert secret not in text
    assert "DevIdentityProvider(" in text


def test_client_secret_basic(idp: DevIdentityProvider, client: httpx.Client) -> None:
    seed = idp.seed
    form = {"grant_type": "client_credentials", "scope": seed.api.default_scope}
    basic = (seed.secret_app.client_id, seed.secret_app.client_secret or "")
    assert client.post(idp.token_endpoint, data=form, auth=basic).status_code == 200
    both = client.post(idp.token_endpoint, data={**form, "client_secret": "x"}, auth=basic)
    _assert_entra_error(both, "invalid_request")
    garbled = client.post(idp.token_endpoint, data=form, headers={"Authorization": "Basic %%%"})
    _assert_entra_error(garbled, "invalid_request")
    # A non-ASCII byte in the header (Starlette decodes headers as latin-1) is malformed too,
    # not a 500: base64 refuses non-ASCII text with a plain ValueError, not binascii.Error.
    latin1 = client.post(
        idp.token_endpoint, data=form, headers={"Authorization": b"Basic \xe9\xe9\xe9\xe9"}
    )
    _assert_entra_error(latin1, "invalid_request")


def test_ssf_management_needs_the_role(idp: DevIdentityProvider, client: httpx.Client) -> None:
    other = idp.admin.create_application("no ssf role")
    token = client.post(
        idp.token_endpoint,
        data={
            "grant_type": "client_credentials",
            "scope": f"{idp.ssf_issuer}/.default",
            "client_id": other["client_id"],
            "client_secret": other["client_secret"],
        },
    ).json()["access_token"]
    response = client.get(f"{idp.ssf_issuer}/streams", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and response.json()["err"] == "access_denied"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.dictionaries(
        st.sampled_from(["maxEvents", "returnImmediately", "ack", "setErrs", "x"]),
        _JSON,
        max_size=4,
    )
)
def test_fuzzed_poll_and_admin_bodies_never_500(
    idp: DevIdentityProvider, client: httpx.Client, body: dict[str, object]
) -> None:
    headers = {"Authorization": f"Bearer {idp.ssf_access_token()}"}
    stream = client.post(
        f"{idp.ssf_issuer}/streams",
        json={"delivery": {"method": "urn:ietf:rfc:8936"}},
        headers=headers,
    ).json()
    poll = client.post(
        stream["delivery"]["endpoint_url"],
        json={**body, "returnImmediately": True},
        headers=headers,
    )
    assert poll.status_code in (200, 400), poll.text
    admin = client.post(
        f"{idp.base_url}/admin/policies",
        json=body,
        headers={"Authorization": f"Bearer {idp.admin_key}"},
    )
    assert admin.status_code == 400, admin.text
    client.delete(
        f"{idp.ssf_issuer}/streams", params={"stream_id": stream["stream_id"]}, headers=headers
    )


def test_deeply_nested_json_is_a_400_not_a_500(
    idp: DevIdentityProvider, client: httpx.Client
) -> None:
    """json.loads raises RecursionError (not ValueError) for deep nesting; every JSON reader
    of the provider must still answer with its own error body."""
    nested = b"[" * 5000
    admin = client.post(
        f"{idp.base_url}/admin/users",
        content=nested,
        headers={"Authorization": f"Bearer {idp.admin_key}"},
    )
    assert admin.status_code == 400 and admin.json()["error"]["code"] == "invalid_request"
    ssf = client.post(
        f"{idp.ssf_issuer}/streams",
        content=nested,
        headers={"Authorization": f"Bearer {idp.ssf_access_token()}"},
    )
    assert ssf.status_code == 400 and ssf.json()["err"] == "invalid_request"
    token = base64.urlsafe_b64encode(nested).rstrip(b"=").decode()
    graph = client.get(
        f"{idp.graph_base_url}/v1.0/users/delta",
        params={"$deltatoken": token},
        headers={"Authorization": f"Bearer {idp.graph_access_token()}"},
    )
    assert graph.status_code == 400 and graph.json()["error"]["code"] == "BadRequest"
