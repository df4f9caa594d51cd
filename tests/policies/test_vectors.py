"""Microsoft's documented policies (``vectors.py``): the library, ``cae whatif`` and the live
middleware (``CAEMiddleware`` over ASGI, with a real signed token) reach the decision
Microsoft's documentation implies, and agree with each other, on every vector."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from cae_sdk.core import find_claims_challenge
from cae_sdk.core.decisions import Decision, Outcome
from cae_sdk.core.locations import CountryNamedLocation, NamedLocation, load_named_locations
from cae_sdk.core.policies import PolicyContext, PolicyOptions, evaluate, load_policies
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.core.tokens import TokenClaims
from cae_sdk.events import InMemoryEventStore
from cae_sdk.resource import AccessRecord, CAEMiddleware, CAESettings, TokenValidator

from ..resource.helpers import SigningKeys, sign
from .vectors import API, SP_OID, TENANT, V1_ISSUER, V2_ISSUER, VECTORS, Vector, user_claims


def _claims(vector: Vector) -> dict[str, Any]:
    now = int(time.time())
    return {"aud": f"api://{API}", "iat": now - 5, "nbf": now - 5, "exp": now + 3600} | (
        user_claims(vector.request)
    )


def _geolocation(country: str | None) -> Any:
    if country is None:
        return None
    return lambda _ip: None if country == "none" else country


def _expected(decision: Decision, policy_id: str) -> str:
    if decision.outcome is Outcome.CHALLENGE:
        return "challenge"
    if decision.outcome is Outcome.DENY:
        return "block"
    return "undecided" if policy_id in decision.details.get("undecided", {}) else "allow"


def library(vector: Vector) -> tuple[str, Any]:
    request = vector.request
    context = PolicyContext(
        claims=TokenClaims(_claims(vector)),
        client_ip=request.ip,
        user_agent=request.user_agent,
        app_ids=frozenset({request.app_id.lower()}),
        named_locations=load_named_locations(list(vector.locations)),
        user_risk=request.user_risk,
        service_principal_risk=request.sp_risk,
        mfa_auth_context=request.mfa_auth_context,
        geolocation=_geolocation(request.country),
    )
    decision = evaluate(load_policies([vector.policy]), context).decision
    return _expected(decision, vector.policy["id"]), decision.claims


def whatif(vector: Vector, tmp_path: Path, cae: Any) -> tuple[str, Any]:
    request = vector.request
    policies = tmp_path / "policies.json"
    policies.write_text(json.dumps({"value": [vector.policy]}))
    locations = tmp_path / "locations.json"
    locations.write_text(json.dumps({"value": list(vector.locations)}))
    token = jwt.encode(_claims(vector), "k" * 32, algorithm="HS256")
    argv = ["whatif", "--policies", str(policies), "--token", token, "--json"]
    argv += ["--locations", str(locations), "--ip", request.ip, "--user-agent", request.user_agent]
    argv += ["--app-id", request.app_id, "--user-risk", request.user_risk]
    argv += ["--sp-risk", request.sp_risk]
    if request.country is not None:
        argv += ["--country", request.country]
    if request.mfa_auth_context is not None:
        argv += ["--mfa-auth-context", request.mfa_auth_context]
    result = cae(*argv)
    assert result.code == 0, result.err
    decision = result.json()["decision"]
    outcome = {"challenge": "challenge", "deny": "block"}.get(decision["outcome"])
    if outcome is None:
        outcome = "undecided" if vector.policy["id"] in decision["undecided"] else "allow"
    return outcome, decision["claims"]


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def middleware(vector: Vector, keys: SigningKeys) -> tuple[str, Any]:
    request = vector.request
    locations = load_named_locations(list(vector.locations))
    store = InMemoryEventStore()
    if request.user_risk != "none":
        await store.set_risk(
            SubjectKey.user(TENANT, user_claims(request)["oid"]), request.user_risk
        )
    if request.sp_risk != "none":
        await store.set_risk(SubjectKey.service_principal(TENANT, SP_OID), request.sp_risk)
    records: list[AccessRecord] = []
    app = CAEMiddleware(
        _ok,
        validator=TokenValidator(
            issuer=[V1_ISSUER, V2_ISSUER], audiences=[f"api://{API}"], jwks=keys.jwks()
        ),
        store=store,
        on_decision=[records.append],
        settings=CAESettings(
            # Only the policies decide here: no IP location enforcement, no risk bar.
            location_mode="off",
            risk_challenge_at=None,
            named_locations=[loc for loc in locations if isinstance(loc, NamedLocation)],
            policies=load_policies([vector.policy]),
            app_ids=[request.app_id],
            policy_options=PolicyOptions(
                mfa_auth_context=request.mfa_auth_context,
                geolocation=_geolocation(request.country),
                country_locations=[
                    loc for loc in locations if isinstance(loc, CountryNamedLocation)
                ],
            ),
        ),
    )
    token = sign(keys, _claims(vector))
    transport = httpx.ASGITransport(app=app, client=(request.ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        response = await client.get(
            "/data",
            headers={"Authorization": f"Bearer {token}", "User-Agent": request.user_agent},
        )
    if response.status_code == 401:
        challenge = find_claims_challenge(response.headers)
        assert challenge is not None, response.headers
        return "challenge", challenge.claims_dict
    if response.status_code == 403:
        return "block", None
    assert response.status_code == 200, (response.status_code, response.text)
    (record,) = records
    return _expected(record.decision, vector.policy["id"]), None


@pytest.mark.parametrize("vector", VECTORS, ids=[v.name for v in VECTORS])
async def test_library_whatif_and_middleware_agree_with_microsoft(
    vector: Vector, tmp_path: Path, cae: Any, keys: SigningKeys
) -> None:
    expected = (vector.expect, vector.claims)
    assert library(vector) == expected, vector.why
    assert whatif(vector, tmp_path, cae) == expected, vector.why
    assert await middleware(vector, keys) == expected, vector.why


@pytest.fixture(scope="module")
def keys() -> SigningKeys:
    return SigningKeys()
