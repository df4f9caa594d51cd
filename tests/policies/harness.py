"""One request through the three ways the SDK decides policies: the library
(``evaluate``), ``cae whatif --json``, and the live middleware (``CAEMiddleware`` over ASGI with
a real signed token). Each answers ``Seen(outcome, claims, undecided policy ids)``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt

from cae_sdk.core import find_claims_challenge
from cae_sdk.core.decisions import Decision, Outcome
from cae_sdk.core.locations import CountryNamedLocation, NamedLocation, load_named_locations
from cae_sdk.core.policies import PolicyContext, PolicyOptions, evaluate, load_policies
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.core.tokens import TokenClaims
from cae_sdk.events import InMemoryEventStore
from cae_sdk.resource import AccessRecord, CAEMiddleware, CAESettings, TokenValidator

from ..resource.helpers import SigningKeys, sign
from .vectors import (
    API,
    OTHER_V2_ISSUER,
    SP_OID,
    TENANT,
    V1_ISSUER,
    V2_ISSUER,
    Request,
    user_claims,
)


@dataclass(frozen=True)
class Seen:
    outcome: str
    """``allow``, ``challenge`` or ``block`` (any 403 refusal)."""
    claims: Any
    undecided: frozenset[str]

    @property
    def expectation(self) -> str:
        """The vectors' vocabulary: ``undecided`` is an allow with undecided policies."""
        return "undecided" if self.outcome == "allow" and self.undecided else self.outcome


def token_claims(request: Request) -> dict[str, Any]:
    now = int(time.time())
    times = {"aud": f"api://{API}", "iat": now - 5, "nbf": now - 5, "exp": now + 3600}
    return times | user_claims(request)


def geolocation(country: str | None) -> Any:
    if country is None:
        return None
    return lambda _ip: None if country == "none" else country


def _seen(decision: Decision) -> Seen:
    outcome = {Outcome.CHALLENGE: "challenge", Outcome.DENY: "block"}.get(decision.outcome, "allow")
    undecided = frozenset(decision.details.get("undecided", {}))
    return Seen(outcome, decision.claims, undecided)


def library(policies: list[Any], locations: tuple[Any, ...], request: Request) -> Seen:
    # The library as a caller writes it by hand: PolicyContext, member by member.
    context = PolicyContext(
        claims=TokenClaims(token_claims(request)),
        client_ip=request.ip,
        user_agent=request.user_agent,
        app_ids=frozenset({request.app_id.lower()}),
        named_locations=load_named_locations(list(locations)),
        user_risk=request.user_risk,
        service_principal_risk=request.sp_risk,
        mfa_auth_context=request.mfa_auth_context,
        geolocation=geolocation(request.country),
        groups_claim_complete=request.groups_claim_complete,
        tenant_id=request.tenant_id,
        strict_locations=request.strict_locations,
    )
    return _seen(evaluate(load_policies(policies), context).decision)


def whatif(
    policies: list[Any], locations: tuple[Any, ...], request: Request, tmp_path: Path, cae: Any
) -> Seen:
    policy_file = tmp_path / "policies.json"
    policy_file.write_text(json.dumps({"value": policies}))
    location_file = tmp_path / "locations.json"
    location_file.write_text(json.dumps({"value": list(locations)}))
    token = jwt.encode(token_claims(request), "k" * 32, algorithm="HS256")
    argv = ["whatif", "--policies", str(policy_file), "--token", token, "--json"]
    argv += ["--locations", str(location_file), "--ip", request.ip]
    argv += ["--user-agent", request.user_agent, "--app-id", request.app_id]
    argv += ["--user-risk", request.user_risk, "--sp-risk", request.sp_risk]
    if request.country is not None:
        argv += ["--country", request.country]
    if request.mfa_auth_context is not None:
        argv += ["--mfa-auth-context", request.mfa_auth_context]
    if request.groups_claim_complete:
        argv += ["--groups-claim-complete"]
    if request.tenant_id is not None:
        argv += ["--tenant-id", request.tenant_id]
    if request.strict_locations:
        argv += ["--strict-locations"]
    result = cae(*argv)
    assert result.code == 0, result.err
    decision = result.json()["decision"]
    outcome = {"challenge": "challenge", "deny": "block"}.get(decision["outcome"], "allow")
    return Seen(outcome, decision["claims"], frozenset(decision["undecided"]))


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def middleware(
    policies: list[Any], locations: tuple[Any, ...], request: Request, keys: SigningKeys
) -> Seen:
    named = load_named_locations(list(locations))
    store = InMemoryEventStore()
    if request.user_risk != "none":
        subject = SubjectKey.user(TENANT, user_claims(request)["oid"])
        await store.set_risk(subject, request.user_risk)
    if request.sp_risk != "none":
        await store.set_risk(SubjectKey.service_principal(TENANT, SP_OID), request.sp_risk)
    records: list[AccessRecord] = []
    app = CAEMiddleware(
        _ok,
        validator=TokenValidator(
            issuer=[V1_ISSUER, V2_ISSUER, OTHER_V2_ISSUER],
            audiences=[f"api://{API}"],
            jwks=keys.jwks(),
        ),
        store=store,
        on_decision=[records.append],
        settings=CAESettings(
            # Only the policies decide here: no IP location enforcement, no risk bar.
            location_mode="off",
            risk_challenge_at=None,
            named_locations=[loc for loc in named if isinstance(loc, NamedLocation)],
            policies=load_policies(policies),
            app_ids=[request.app_id],
            policy_options=PolicyOptions(
                mfa_auth_context=request.mfa_auth_context,
                geolocation=geolocation(request.country),
                country_locations=[loc for loc in named if isinstance(loc, CountryNamedLocation)],
                groups_claim_complete=request.groups_claim_complete,
                tenant_id=request.tenant_id,
                strict_locations=request.strict_locations,
            ),
        ),
    )
    token = sign(keys, token_claims(request))
    transport = httpx.ASGITransport(app=app, client=(request.ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        response = await client.get(
            "/data",
            headers={"Authorization": f"Bearer {token}", "User-Agent": request.user_agent},
        )
    (record,) = records
    seen = _seen(record.decision)
    # The response is the decision's: 200, a claims challenge (the token has cp1), or 403.
    if seen.outcome == "challenge":
        assert response.status_code == 401
        challenge = find_claims_challenge(response.headers)
        assert challenge is not None and challenge.claims_dict == seen.claims
    else:
        assert response.status_code == {"allow": 200, "block": 403}[seen.outcome], response.text
    return seen
