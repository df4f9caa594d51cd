"""A FastAPI route dependency's refusal goes through the request path (issue 10): the body, the
log record, the ``on_decision`` hooks and the metrics carry one reason, though the middleware
had allowed the request. A real FastAPI app under uvicorn."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from prometheus_client import CollectorRegistry

from cae_sdk.core import find_claims_challenge
from cae_sdk.core.decisions import ALLOW, Decision, Outcome, Reason
from cae_sdk.core.tokens import TokenClaims
from cae_sdk.observability import PrometheusMetrics
from cae_sdk.resource import AccessRecord, CAEAuthCredentials, CAEMiddleware, TokenValidator
from cae_sdk.resource.fastapi import install_cae_openapi, require_auth_context

from .apps import fastapi_app
from .helpers import APP_ID, TENANT, USER_OID, JWKSServer, SigningKeys, claims, serve, sign


@dataclass
class Api:
    url: str
    records: list[AccessRecord]
    metrics: PrometheusMetrics
    caplog: pytest.LogCaptureFixture
    hook_calls: list[str] = field(default_factory=list)

    def get(self, path: str, token: str) -> httpx.Response:
        self.caplog.clear()
        with self.caplog.at_level(logging.INFO, logger="cae_sdk.resource"):
            return httpx.get(
                self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )

    def refusal_logs(self) -> list[dict[str, Any]]:
        return [
            r.cae for r in self.caplog.records if getattr(r, "cae", {}).get("event") == "refusal"
        ]

    def count(self, outcome: str, reason: str) -> float:
        labels = {"outcome": outcome, "reason": reason}
        return self.metrics.registry.get_sample_value("cae_decisions_total", labels) or 0.0


def _validator(idp: JWKSServer) -> TokenValidator:
    return TokenValidator(
        issuer=idp.issuer, audiences=[f"api://{APP_ID}"], jwks_uri=f"{idp.base_url}/keys"
    )


OWN = "https://login.example/{tenantid}/oauth2/authorize"


@pytest.fixture
def api(idp: JWKSServer, caplog: pytest.LogCaptureFixture) -> Iterator[Api]:
    records: list[AccessRecord] = []
    metrics = PrometheusMetrics(registry=CollectorRegistry())
    state = Api("", records, metrics, caplog)

    async def audit(record: AccessRecord) -> None:  # an async hook, awaited like any other
        await asyncio.sleep(0)
        state.hook_calls.append(record.decision.reason.value)

    app = fastapi_app(
        validator=_validator(idp),
        exclude_paths=["/health", "/openapi.json"],
        authorization_uri=f"{idp.base_url}/{{tenantid}}/oauth2/authorize",
        realm="orders-api",
        on_decision=[records.append, metrics.on_decision, audit],
    )
    with serve(app) as url:
        state.url = url
        yield state


@pytest.mark.parametrize(
    ("path", "token_claims", "status", "reason", "outcome"),
    [
        ("/me", {"scp": "other"}, 403, Reason.INSUFFICIENT_SCOPE, Outcome.DENY),
        ("/data", {}, 403, Reason.INSUFFICIENT_SCOPE, Outcome.DENY),
        ("/sensitive", {}, 401, Reason.AUTH_CONTEXT_REQUIRED, Outcome.CHALLENGE),
        (
            "/sensitive",
            {"idtyp": "app", "scp": None, "roles": ["Data.Read"]},
            403,
            Reason.AUTH_CONTEXT_REQUIRED,
            Outcome.DENY,
        ),
    ],
)
def test_a_route_refusal_carries_one_reason_in_body_log_hook_and_metric(
    api: Api,
    idp: JWKSServer,
    keys: SigningKeys,
    path: str,
    token_claims: dict[str, Any],
    status: int,
    reason: Reason,
    outcome: Outcome,
) -> None:
    token = sign(keys, claims(idp.issuer, **token_claims))
    response = api.get(path, token)
    assert response.status_code == status
    body = response.json()
    assert body["reason"] == reason.value
    # The hooks: the middleware's allow, then the route's refusal with the body's reason.
    allowed, refused = api.records[-2:]
    assert allowed.decision is ALLOW and allowed.path == path
    assert refused.decision.reason is reason and refused.decision.outcome is outcome
    assert refused.path == path and refused.method == "GET" and refused.client_ip == "127.0.0.1"
    assert refused.claims is not None and refused.claims.object_id == USER_OID
    assert api.hook_calls[-2:] == ["ok", reason.value]  # async hooks awaited, in order
    # The log record: once, with the same reason and status, and never the token.
    (logged,) = api.refusal_logs()
    assert logged["reason"] == reason.value and logged["status"] == status
    assert logged["error"] == body["error"] and logged["path"] == path
    assert token not in api.caplog.text
    # The metric's label.
    assert api.count(outcome.value, reason.value) == 1
    assert api.count("allow", "ok") == 1


def test_a_route_challenge_is_the_middleware_s_challenge(
    api: Api, idp: JWKSServer, keys: SigningKeys
) -> None:
    response = api.get("/sensitive", sign(keys, claims(idp.issuer)))
    challenge = find_claims_challenge(response.headers)
    assert challenge is not None
    assert challenge.authorization_uri == f"{idp.base_url}/{TENANT}/oauth2/authorize"
    assert challenge.params["realm"] == "orders-api"  # the middleware's realm, as its own
    assert challenge.params["error_description"] == "AuthenticationContextRequired"
    assert api.metrics.registry.get_sample_value(
        "cae_challenges_total", {"reason": "AuthenticationContextRequired"}
    )
    # A served route adds nothing.
    assert api.get("/me", sign(keys, claims(idp.issuer))).status_code == 200
    assert api.records[-1].decision is ALLOW and not api.refusal_logs()


def test_hooks_that_hang_or_raise_never_hold_a_route_refusal(
    idp: JWKSServer, keys: SigningKeys, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Reason] = []

    async def hangs(record: AccessRecord) -> None:
        if not record.decision.allowed:
            await asyncio.sleep(60)

    def raises(record: AccessRecord) -> None:
        seen.append(record.decision.reason)
        raise RuntimeError("audit sink down")

    app = fastapi_app(validator=_validator(idp), on_decision=[hangs, raises], hook_timeout=0.2)
    with serve(app) as url, caplog.at_level(logging.INFO, logger="cae_sdk.resource"):
        token = sign(keys, claims(idp.issuer, scp="other"))
        response = httpx.get(f"{url}/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["reason"] == "InsufficientScope"
    assert seen == [Reason.OK, Reason.INSUFFICIENT_SCOPE]
    assert "did not finish within 0.2 s" in caplog.text
    assert "audit sink down" in caplog.text


def test_require_auth_context_names_its_own_authorization_uri(
    idp: JWKSServer, keys: SigningKeys
) -> None:
    records: list[AccessRecord] = []
    app = FastAPI()

    @app.get("/pay", dependencies=[Depends(require_auth_context("c2", authorization_uri=OWN))])
    async def pay() -> dict[str, bool]:
        return {"paid": True}

    install_cae_openapi(app)
    app.add_middleware(
        CAEMiddleware,  # type: ignore[arg-type]
        validator=_validator(idp),
        on_decision=[records.append],
    )
    with serve(app) as url:
        token = sign(keys, claims(idp.issuer))
        response = httpx.get(f"{url}/pay", headers={"Authorization": f"Bearer {token}"})
    challenge = find_claims_challenge(response.headers)
    assert challenge is not None
    assert challenge.authorization_uri == f"https://login.example/{TENANT}/oauth2/authorize"
    assert records[-1].decision.details == {"auth_context": "c2"}


def test_openapi_is_unaffected(api: Api) -> None:
    schema = httpx.get(f"{api.url}/openapi.json").json()
    for path in ("/me", "/data", "/sensitive"):
        operation = schema["paths"][path]["get"]
        assert "parameters" not in operation  # the dependency asks the client for nothing
        assert {"HTTPBearer": []} in operation["security"]
        assert {"401", "403"} <= set(operation["responses"])
    assert set(schema["components"]["securitySchemes"]) == {"HTTPBearer"}


async def test_credentials_made_by_hand_still_refuse() -> None:
    """No middleware path behind them (a test double, another middleware): the same builder."""
    token = TokenClaims({"tid": TENANT, "oid": USER_OID, "scp": "x", "xms_cc": ["cp1"]})
    credentials = CAEAuthCredentials(token, ALLOW, "https://idp.example/{tenantid}/authorize")
    decision = Decision(Outcome.DENY, Reason.INSUFFICIENT_SCOPE, "missing scope")
    refusal = await credentials.refuse({"type": "http"}, decision)
    assert (refusal.status, refusal.reason) == (403, "InsufficientScope")


async def test_refuse_route_refuses_or_raises(keys: SigningKeys) -> None:
    middleware = CAEMiddleware(
        lambda *a: None,  # type: ignore[arg-type]
        validator=TokenValidator(issuer="https://i", audiences=["a"], jwks=keys.jwks()),
    )
    exchange = middleware.path.begin("GET", "/x", [], "192.0.2.1")
    token = TokenClaims({"tid": TENANT, "oid": USER_OID})
    with pytest.raises(ValueError, match="refuses"):
        await middleware.path.refuse_route(exchange, ALLOW, token)


def test_a_dependency_on_an_excluded_path_refuses_and_says_why(
    idp: JWKSServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The middleware verifies no token on an excluded path, so a route dependency there has
    no verified claims: refused (never served), and, since the request path never saw the
    request, said in the log with the reason the body carries. The body said "no bearer token"
    though one was sent, and nothing was logged."""
    records: list[AccessRecord] = []
    app = fastapi_app(
        validator=_validator(idp), exclude_paths=["/me"], on_decision=[records.append]
    )
    token = sign(idp.keys, claims(idp.issuer, scp="access_as_user"))
    with serve(app) as url, caplog.at_level(logging.INFO, logger="cae_sdk.resource"):
        response = httpx.get(url + "/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 401
    body = response.json()
    assert body["reason"] == Reason.MISSING_TOKEN.value
    assert "no bearer token" not in body["error_description"]
    logged = [r for r in caplog.records if getattr(r, "cae", {}).get("event") == "refusal"]
    assert [(r.cae["path"], r.cae["reason"], r.levelno) for r in logged] == [
        ("/me", body["reason"], logging.WARNING)
    ]
    assert "excluded" in logged[0].getMessage()
    assert records == []  # the request path never saw it: no hook, no metric
