"""Real uvicorn servers on 127.0.0.1: a Starlette and a FastAPI app behind CAEMiddleware, keys
from a local JWKS server, tokens signed with the test's own keys."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cae_sdk.core import decode_claims, find_claims_challenge, parse_www_authenticate
from cae_sdk.core.locations import NamedLocation
from cae_sdk.events import InMemoryEventStore
from cae_sdk.resource import AccessRecord, CAEMiddleware, LocationMode, TokenValidator

from .apps import fastapi_app, starlette_app
from .helpers import (
    APP_ID,
    TENANT,
    USER_OID,
    JWKSServer,
    SigningKeys,
    assert_revocation_challenge,
    claims,
    serve,
    sign,
)


def _validator(idp: JWKSServer) -> TokenValidator:
    return TokenValidator(
        issuer=idp.issuer,
        audiences=[f"api://{APP_ID}", APP_ID],
        openid_configuration_url=idp.discovery_url,
    )


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore()


@pytest.fixture
def records() -> list[AccessRecord]:
    return []


@pytest.fixture
def starlette_url(
    idp: JWKSServer, store: InMemoryEventStore, records: list[AccessRecord]
) -> Iterator[str]:
    app = starlette_app(
        validator=_validator(idp),
        store=store,
        exclude_paths=["/health"],
        auth_contexts={"/admin/": "c1"},
        on_decision=[records.append],
        authorization_uri=f"{idp.base_url}/{{tenantid}}/oauth2/authorize",
    )
    with serve(app) as url:
        yield url


def _get(url: str, token: str | None = None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(url, headers=headers, timeout=10)


def test_valid_token_reaches_the_app_with_user_auth_and_decision(
    starlette_url: str, idp: JWKSServer, keys: SigningKeys, records: list[AccessRecord]
) -> None:
    response = _get(f"{starlette_url}/me", sign(keys, claims(idp.issuer)))
    assert response.status_code == 200
    assert response.json() == {
        "oid": USER_OID,
        "scopes": ["authenticated", "access_as_user"],  # as Starlette's AuthenticationMiddleware
        "decision": "allow",
    }
    assert records[-1].decision.allowed and records[-1].claims is not None
    scoped = _get(f"{starlette_url}/scoped", sign(keys, claims(idp.issuer)))
    assert scoped.status_code == 200


def test_excluded_path_needs_no_token(starlette_url: str) -> None:
    assert _get(f"{starlette_url}/health").text == "ok"


def test_missing_token_is_401_without_error_code(starlette_url: str) -> None:
    response = _get(f"{starlette_url}/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["reason"] == "MissingToken"


def test_revoked_user_gets_nbf_claims_challenge_with_tenant_authorization_uri(
    starlette_url: str,
    idp: JWKSServer,
    keys: SigningKeys,
    store: InMemoryEventStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = sign(keys, claims(idp.issuer))
    assert _get(f"{starlette_url}/me", token).status_code == 200
    watermark = int(time.time())
    asyncio.run(store.revoke_user(TENANT, USER_OID, at=watermark))
    with caplog.at_level(logging.INFO, logger="cae_sdk.resource"):
        response = _get(f"{starlette_url}/me", token)
    assert_revocation_challenge(
        response,
        watermark=watermark,
        authorization_uri=f"{idp.base_url}/{TENANT}/oauth2/authorize",
    )
    assert "TokenIssuedBeforeRevocationTimestamp" in caplog.text
    assert token not in caplog.text
    # A token issued at or after the watermark passes.
    fresh = sign(keys, claims(idp.issuer, iat=watermark, nbf=watermark))
    assert _get(f"{starlette_url}/me", fresh).status_code == 200


@pytest.mark.parametrize("xms_cc", [None, ["cp2"], "other"])
def test_revoked_non_cp1_client_gets_invalid_token(
    starlette_url: str, idp: JWKSServer, keys: SigningKeys, store: InMemoryEventStore, xms_cc: Any
) -> None:
    token = sign(keys, claims(idp.issuer, xms_cc=xms_cc))
    asyncio.run(store.revoke_user(TENANT, USER_OID, at=int(time.time()) + 5))
    response = _get(f"{starlette_url}/me", token)
    assert response.status_code == 401
    [challenge] = parse_www_authenticate(response.headers["www-authenticate"])
    assert challenge.params["error"] == "invalid_token"
    assert "claims" not in challenge.params
    assert response.json()["error"] == "invalid_token"


def test_cp1_as_string_and_upper_case_is_challenged(
    starlette_url: str, idp: JWKSServer, keys: SigningKeys, store: InMemoryEventStore
) -> None:
    asyncio.run(store.revoke_session(TENANT, "sess-1", at=int(time.time()) + 5))
    token = sign(keys, claims(idp.issuer, xms_cc="CP1", sid="sess-1"))
    response = _get(f"{starlette_url}/me", token)
    assert find_claims_challenge(response.headers) is not None


def test_auth_context_route_challenges_for_acrs(
    starlette_url: str, idp: JWKSServer, keys: SigningKeys
) -> None:
    response = _get(f"{starlette_url}/admin/secret", sign(keys, claims(idp.issuer)))
    challenge = find_claims_challenge(response.headers)
    assert challenge is not None
    assert challenge.claims_dict == {"access_token": {"acrs": {"essential": True, "value": "c1"}}}
    assert challenge.params["cc_type"] == "authcontext"
    ok = _get(f"{starlette_url}/admin/secret", sign(keys, claims(idp.issuer, acrs=["c1"])))
    assert ok.status_code == 200
    app_only = claims(idp.issuer, idtyp="app", scp=None, roles=["Data.Read"])
    assert _get(f"{starlette_url}/admin/secret", sign(keys, app_only)).status_code == 403


def test_strict_and_standard_location_modes_change_at_run_time(
    idp: JWKSServer, keys: SigningKeys, store: InMemoryEventStore
) -> None:
    middleware_holder: list[CAEMiddleware] = []

    def capture(app: Any, **kwargs: Any) -> CAEMiddleware:
        middleware = CAEMiddleware(app, **kwargs)
        middleware_holder.append(middleware)
        return middleware

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def ok(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[Route("/", ok)],
        middleware=[Middleware(capture, validator=_validator(idp), store=store)],  # type: ignore[arg-type]
    )
    elsewhere = [
        NamedLocation.from_cidrs("hq", "HQ", ["203.0.113.0/24", "2001:db8::/32"], trusted=True)
    ]
    token_from_hq = sign(keys, claims(idp.issuer, ipaddr="203.0.113.7"))
    token_unknown = sign(keys, claims(idp.issuer, ipaddr="198.51.100.1"))
    with serve(app) as url:
        assert _get(url + "/", token_unknown).status_code == 200  # no locations yet
        asyncio.run(store.set_named_locations(elsewhere))
        # Standard mode: the client (127.0.0.1) is outside, but the token came from HQ.
        assert _get(url + "/", token_from_hq).status_code == 200
        refused = _get(url + "/", token_unknown)
        assert refused.status_code == 401
        assert refused.json()["reason"] == "LocationConditionViolation"
        middleware_holder[0].settings.location_mode = LocationMode.STRICT
        assert _get(url + "/", token_from_hq).status_code == 401
        loopback = [
            NamedLocation.from_cidrs("lo", "Loopback", ["127.0.0.0/8", "::1/128"], trusted=True)
        ]
        asyncio.run(store.set_named_locations(loopback))
        assert _get(url + "/", token_unknown).status_code == 200


@pytest.fixture
def fastapi_url(idp: JWKSServer, store: InMemoryEventStore) -> Iterator[str]:
    app = fastapi_app(
        validator=_validator(idp),
        store=store,
        exclude_paths=["/health", "/openapi.json", "/docs"],
        authorization_uri=f"{idp.base_url}/{{tenantid}}/oauth2/authorize",
    )
    with serve(app) as url:
        yield url


def test_fastapi_dependencies(fastapi_url: str, idp: JWKSServer, keys: SigningKeys) -> None:
    user = sign(keys, claims(idp.issuer))
    assert _get(f"{fastapi_url}/me", user).json() == {"oid": USER_OID}
    no_scope = _get(f"{fastapi_url}/me", sign(keys, claims(idp.issuer, scp="other")))
    assert no_scope.status_code == 403
    assert 'error="insufficient_scope"' in no_scope.headers["www-authenticate"]
    assert no_scope.json()["reason"] == "InsufficientScope"
    assert _get(f"{fastapi_url}/data", user).status_code == 403
    app_token = sign(keys, claims(idp.issuer, idtyp="app", scp=None, roles=["Data.Read"]))
    assert _get(f"{fastapi_url}/data", app_token).status_code == 200
    step_up = _get(f"{fastapi_url}/sensitive", user)
    assert step_up.status_code == 401
    challenge = find_claims_challenge(step_up.headers)
    assert challenge is not None
    assert decode_claims(step_up.headers["www-authenticate"].split('claims="')[1].split('"')[0])
    assert challenge.authorization_uri == f"{idp.base_url}/{TENANT}/oauth2/authorize"
    assert challenge.params["cc_type"] == "authcontext"  # an authentication-context step-up
    assert step_up.json()["error"] == "insufficient_claims"
    assert _get(f"{fastapi_url}/sensitive", sign(keys, claims(idp.issuer, acrs="c1"))).json() == {
        "secret": 42
    }
    assert _get(f"{fastapi_url}/health").json() == {"status": "ok"}


def test_fastapi_openapi_documents_bearer_and_refusals(fastapi_url: str) -> None:
    schema = _get(f"{fastapi_url}/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    me = schema["paths"]["/me"]["get"]
    assert {"401", "403"} <= set(me["responses"])
    assert {"HTTPBearer": []} in me["security"]
