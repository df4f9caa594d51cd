"""Structured refusal logs and Prometheus metrics, through a real uvicorn server."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import InMemoryEventStore, RevocationEvent, RiskEvent, RiskLevel
from cae_sdk.observability import JSONLogFormatter, PrometheusMetrics, log_fields
from cae_sdk.resource import CAEMiddleware, TokenValidator

from .helpers import APP_ID, TENANT, USER_OID, JWKSServer, SigningKeys, claims, serve, sign


def _sample(metrics: PrometheusMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_decisions_challenges_events_and_lag_are_exported(
    idp: JWKSServer, keys: SigningKeys, caplog: pytest.LogCaptureFixture
) -> None:
    now = [float(int(time.time()))]
    metrics = PrometheusMetrics(registry=CollectorRegistry(), clock=lambda: now[0])
    store = InMemoryEventStore(clock=lambda: now[0])
    metrics.observe_store(store)

    async def data(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    api = CAEMiddleware(
        Starlette(routes=[Route("/data", data)]),
        validator=TokenValidator(
            issuer=idp.issuer, audiences=[f"api://{APP_ID}"], jwks_uri=f"{idp.base_url}/keys"
        ),
        store=store,
        on_decision=[metrics.on_decision],
    )
    app = Starlette(routes=[Mount("/metrics", metrics.asgi_app()), Mount("/", api)])
    token = sign(keys, claims(idp.issuer, iat=int(now[0]) - 60, nbf=int(now[0]) - 60))

    with serve(app) as url, httpx.Client(base_url=url) as client:
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/data", headers=auth).status_code == 200
        # A revocation arrives 0.25 s after the time it carries: that is the propagation lag.
        now[0] += 0.25
        event = RevocationEvent(
            SubjectKey.user(TENANT, USER_OID), int(now[0] - 0.25), "sessions_revoked", "ssf"
        )
        assert asyncio.run(store.apply(event))
        with caplog.at_level(logging.INFO, logger="cae_sdk.resource"):
            refused = client.get("/data", headers=auth)
        assert refused.status_code == 401
        exposition = client.get("/metrics/").text

    assert _sample(metrics, "cae_decisions_total", outcome="allow", reason="ok") == 1
    assert (
        _sample(
            metrics,
            "cae_challenges_total",
            reason="TokenIssuedBeforeRevocationTimestamp",
        )
        == 1
    )
    assert _sample(metrics, "cae_events_total", type="revocation", source="ssf") == 1
    assert _sample(metrics, "cae_event_propagation_lag_seconds_count", type="revocation") == 1
    assert (
        _sample(metrics, "cae_event_propagation_lag_seconds_bucket", type="revocation", le="0.25")
        == 1
    )
    assert (
        _sample(metrics, "cae_event_propagation_lag_seconds_bucket", type="revocation", le="0.1")
        == 0
    )
    assert "cae_decisions_total" in exposition

    # The refusal log line carries structured fields, and never the token.
    (record,) = [r for r in caplog.records if getattr(r, "cae", {}).get("event") == "refusal"]
    line = json.loads(JSONLogFormatter().format(record))
    assert line["reason"] == "TokenIssuedBeforeRevocationTimestamp"
    assert line["status"] == 401 and line["oid"] == USER_OID and line["tid"] == TENANT
    assert token not in json.dumps(line) and token.split(".")[2] not in caplog.text


def test_risk_events_and_key_refreshes_are_counted() -> None:
    metrics = PrometheusMetrics(registry=CollectorRegistry(), clock=lambda: 100.0)
    metrics.on_event(RiskEvent(SubjectKey.user("t", "o"), RiskLevel.HIGH, at=98, source="graph"))
    metrics.key_set_refreshed("https://issuer", ok=True)
    metrics.key_set_refreshed("https://issuer", ok=False)
    assert _sample(metrics, "cae_events_total", type="risk", source="graph") == 1
    assert _sample(metrics, "cae_event_propagation_lag_seconds_sum", type="risk") == 2.0
    assert (
        _sample(metrics, "cae_key_set_refreshes_total", issuer="https://issuer", result="ok") == 1
    )
    assert b"cae_key_set_refreshes_total" in metrics.render()


def test_json_formatter_and_fields() -> None:
    assert log_fields(a=1, b=None) == {"cae": {"a": 1}}
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "hello %s", ("w",), None)
    record.cae = {"reason": "r"}
    line = json.loads(JSONLogFormatter().format(record))
    assert line["message"] == "hello w" and line["level"] == "warning" and line["reason"] == "r"
    assert line["ts"].endswith("Z")


async def test_starlette_requires_decorator_works_behind_the_middleware(
    idp: JWKSServer, keys: SigningKeys
) -> None:
    from starlette.authentication import requires

    @requires("authenticated")
    async def me(request: Any) -> PlainTextResponse:
        return PlainTextResponse(request.user.identity)

    @requires(["authenticated", "Data.Write"])
    async def write(request: Any) -> PlainTextResponse:
        return PlainTextResponse("written")

    api = CAEMiddleware(
        Starlette(routes=[Route("/me", me), Route("/write", write)]),
        validator=TokenValidator(
            issuer=idp.issuer, audiences=[f"api://{APP_ID}"], jwks_uri=f"{idp.base_url}/keys"
        ),
        store=InMemoryEventStore(),
    )
    token = sign(keys, claims(idp.issuer))
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        auth = {"Authorization": f"Bearer {token}"}
        me_response = await client.get("/me", headers=auth)
        assert (me_response.status_code, me_response.text) == (200, USER_OID)
        assert (await client.get("/write", headers=auth)).status_code == 403


async def test_key_set_fetches_are_counted_ok_and_failed(idp: JWKSServer) -> None:
    metrics = PrometheusMetrics(registry=CollectorRegistry())
    validator = TokenValidator(
        issuer=idp.issuer, audiences=[f"api://{APP_ID}"], jwks_uri=f"{idp.base_url}/keys"
    )
    metrics.observe_key_source(validator.keys)
    await validator.keys.refresh()
    idp.mode = "down"
    await validator.keys.refresh()
    name = validator.keys.name
    refreshes = "cae_key_set_refreshes_total"
    assert _sample(metrics, refreshes, issuer=name, result="ok") == 1
    assert _sample(metrics, refreshes, issuer=name, result="failed") == 1
    assert validator.keys.keys is not None  # the last good keys stay
