"""The one request path (issue 10, items 9 and 10): framework-free, one reason everywhere, one
validated-token cache lookup per request, a synchronous driver; and the refusals it builds
(items 6 and 11)."""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from cae_sdk.core import find_claims_challenge, parse_www_authenticate
from cae_sdk.core.decisions import Outcome, Reason
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import InMemoryEventStore
from cae_sdk.observability import PrometheusMetrics
from cae_sdk.resource import (
    AccessRecord,
    BlockingRequestPath,
    CAEMiddleware,
    RequestPath,
    TokenCache,
    TokenValidator,
)

from ._asgi import call, ok_app
from .helpers import (
    APP_ID,
    TENANT,
    USER_OID,
    JWKSServer,
    SigningKeys,
    claims,
    other_spellings,
    sign,
)

ISSUER = "https://issuer.test/v2.0"
PACKAGE = Path(__file__).resolve().parents[2] / "src" / "cae_sdk" / "resource"


def _validator(keys: SigningKeys, **options: Any) -> TokenValidator:
    return TokenValidator(issuer=ISSUER, audiences=[f"api://{APP_ID}"], jwks=keys.jwks(), **options)


def _bearer(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


# -- framework-free ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module",
    [
        "_path",
        "_blocking",
        "_hooks",
        "_responses",
        "_retention",
        "_access",
        "_client_ip",
        "_bearer",
        "_settings",
        "_validator",
    ],
)
def test_the_request_path_imports_no_web_framework(module: str) -> None:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}  # fmt: skip
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] in ("starlette", "fastapi")}
    assert "_middleware" not in {name.lstrip(".") for name in imported}


async def test_the_path_decides_without_any_framework(keys: SigningKeys) -> None:
    store = InMemoryEventStore()
    path = RequestPath(validator=_validator(keys), store=store)
    token = sign(keys, claims(ISSUER))
    allowed = await path.decide("GET", "/orders", _bearer(token), "203.0.113.7")
    assert allowed.allowed and allowed.refusal is None
    assert allowed.decision.outcome is Outcome.ALLOW and allowed.claims is not None
    assert allowed.client_ip == "203.0.113.7"

    await store.revoke_user(TENANT, USER_OID, at=int(time.time()) + 5)
    refused = await path.decide("GET", "/orders", _bearer(token), "203.0.113.7")
    assert refused.refusal is not None and refused.refusal.status == 401
    assert refused.decision.reason is Reason.TOKEN_REVOKED
    challenge = find_claims_challenge(dict(refused.refusal.headers())[b"www-authenticate"])
    assert challenge is not None and "nbf" in challenge.claims_dict["access_token"]
    assert json.loads(refused.refusal.body())["reason"] == Reason.TOKEN_REVOKED.value

    missing = await path.decide("GET", "/orders", [], "203.0.113.7")
    assert missing.refusal is not None and missing.refusal.status == 401
    assert missing.decision.reason is Reason.MISSING_TOKEN and missing.claims is None


async def test_path_steps_let_any_caller_validate_between_them(keys: SigningKeys) -> None:
    path = RequestPath(validator=_validator(keys), store=InMemoryEventStore())
    token = sign(keys, claims(ISSUER))
    exchange = path.begin("POST", "/x", _bearer(token), "203.0.113.7")
    assert exchange.result is None and exchange.token == token
    result = path.finish(exchange, await path.validator.validate(exchange.token))
    assert result.allowed
    bad = path.begin("POST", "/x", [(b"authorization", b"Basic abc")], "203.0.113.7")
    assert bad.result is not None and bad.result.refusal is not None
    assert bad.result.refusal.status == 400


def test_the_blocking_driver_serves_plain_threads(idp: JWKSServer, keys: SigningKeys) -> None:
    """A WSGI-style caller: no event loop of its own, keys fetched over HTTP (cold start)."""
    seen: list[AccessRecord] = []

    async def async_hook(record: AccessRecord) -> None:
        seen.append(record)

    store = InMemoryEventStore()
    validator = TokenValidator(
        issuer=idp.issuer, audiences=[f"api://{APP_ID}"], jwks_uri=f"{idp.base_url}/keys"
    )
    path = RequestPath(validator=validator, store=store, hooks=[async_hook])
    tokens = [sign(keys, claims(idp.issuer, oid=f"user-{i}")) for i in range(4)]
    results: list[Any] = []
    with BlockingRequestPath(path, timeout=10) as blocking:

        def worker(token: str) -> None:
            for _ in range(3):  # the first verifies, the next two come from the cache
                results.append(blocking.decide("GET", "/r", _bearer(token), "203.0.113.7"))

        threads = [threading.Thread(target=worker, args=(t,)) for t in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(results) == 12 and all(r.allowed for r in results)
        asyncio.run(store.revoke_user(TENANT, "user-0", at=int(time.time()) + 5))
        refused = blocking.decide("GET", "/r", _bearer(tokens[0]), "203.0.113.7")
        assert refused.refusal is not None and refused.decision.reason is Reason.TOKEN_REVOKED
        garbage = blocking.decide("GET", "/r", _bearer("a.b.c"), "203.0.113.7")
        assert garbage.decision.reason is Reason.MALFORMED_TOKEN
    assert len(seen) == 14 and seen[-1].decision.reason is Reason.MALFORMED_TOKEN


def test_the_blocking_driver_answers_503_when_validation_outlives_its_deadline(
    idp: JWKSServer, keys: SigningKeys
) -> None:
    idp.mode = "slow"  # the JWKS endpoint takes 3 s
    validator = TokenValidator(
        issuer=idp.issuer, audiences=[f"api://{APP_ID}"], jwks_uri=f"{idp.base_url}/keys"
    )
    with BlockingRequestPath(RequestPath(validator=validator), timeout=0.5) as blocking:
        started = time.monotonic()
        result = blocking.decide("GET", "/", _bearer(sign(keys, claims(idp.issuer))), None)
        assert time.monotonic() - started < 2.5  # answered by the driver's own deadline
    assert result.refusal is not None and result.refusal.status == 503
    assert result.decision.reason is Reason.KEYS_UNAVAILABLE
    assert (b"retry-after", b"1") in result.refusal.headers()


# -- one reason everywhere (item 9) ------------------------------------------------------------


def _cases(keys: SigningKeys) -> list[tuple[list[tuple[bytes, bytes]], int, Reason]]:
    now = int(time.time())
    token = sign(keys, claims(ISSUER))
    return [
        ([], 401, Reason.MISSING_TOKEN),
        ([(b"authorization", b"Basic dXNlcjpwYXNz")], 400, Reason.INVALID_REQUEST),
        (_bearer(sign(keys, claims(ISSUER, exp=now - 600))), 401, Reason.TOKEN_EXPIRED),
        (_bearer(sign(keys, claims(ISSUER, aud="api://other"))), 401, Reason.BAD_AUDIENCE),
        (_bearer(token[:-8] + "AAAAAAAA"), 401, Reason.BAD_SIGNATURE),
        (_bearer("a.b.c"), 401, Reason.MALFORMED_TOKEN),
        (_bearer(sign(keys, claims(ISSUER, tid=7))), 401, Reason.MALFORMED_TOKEN),
        (_bearer(sign(keys, claims(ISSUER, oid="revoked"))), 401, Reason.TOKEN_REVOKED),
        (
            _bearer(sign(keys, claims(ISSUER, oid="revoked", xms_cc=None))),
            401,
            Reason.TOKEN_REVOKED,
        ),
        (_bearer(sign(keys, claims(ISSUER, scp="other"))), 403, Reason.INSUFFICIENT_SCOPE),
        (
            [(b"x-forwarded-for", b"not-an-address"), *_bearer(token)],
            400,
            Reason.BAD_FORWARDING_HEADER,
        ),
    ]


async def test_one_reason_string_in_body_log_hook_and_metric(
    keys: SigningKeys, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = PrometheusMetrics(registry=CollectorRegistry())
    records: list[AccessRecord] = []
    store = InMemoryEventStore()
    await store.revoke_user(TENANT, "revoked", at=int(time.time()) + 60)
    middleware = CAEMiddleware(
        ok_app,
        validator=_validator(keys),
        store=store,
        on_decision=[records.append, metrics.on_decision],
        trusted_proxies=["10.0.0.0/8"],
        required_scopes=["access_as_user"],
    )
    for headers, status, reason in _cases(keys):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="cae_sdk.resource"):
            answer = await call(middleware, headers, client=("10.0.0.2", 4000))
        assert answer.status == status, reason
        body = json.loads(answer.body)
        [log_record] = [r for r in caplog.records if getattr(r, "cae", {}).get("event")]
        hook = records[-1]
        assert body["reason"] == reason.value, body
        assert log_record.cae["reason"] == reason.value
        assert hook.decision.reason is reason
        assert log_record.cae["status"] == status and log_record.cae["error"] == body["error"]
        labels = {"outcome": hook.decision.outcome.value, "reason": reason.value}
        assert metrics.registry.get_sample_value("cae_decisions_total", labels), reason


async def test_a_refusal_that_cannot_be_built_still_carries_one_reason(
    keys: SigningKeys, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The fallback answer (building the refusal failed: a bug) names the decision's reason,
    as the log record, the hook and the metric do - not a second one."""
    import cae_sdk.resource._path as path_module

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(path_module, "refusal_for_decision", broken)
    metrics = PrometheusMetrics(registry=CollectorRegistry())
    records: list[AccessRecord] = []
    store = InMemoryEventStore()
    await store.revoke_user(TENANT, USER_OID, at=int(time.time()) + 60)
    middleware = CAEMiddleware(
        ok_app,
        validator=_validator(keys),
        store=store,
        on_decision=[records.append, metrics.on_decision],
    )
    with caplog.at_level(logging.INFO, logger="cae_sdk.resource"):
        answer = await call(middleware, _bearer(sign(keys, claims(ISSUER))))
    reason = Reason.TOKEN_REVOKED.value
    assert answer.status == 401 and not answer.reached_app
    assert json.loads(answer.body)["reason"] == reason
    assert records[-1].decision.reason.value == reason
    [log_record] = [r for r in caplog.records if getattr(r, "cae", {}).get("event")]
    assert log_record.cae["reason"] == reason
    labels = {"outcome": "challenge", "reason": reason}
    assert metrics.registry.get_sample_value("cae_decisions_total", labels) == 1


# -- the validated-token cache is looked up once per request (item 10) --------------------------


async def test_the_token_cache_is_looked_up_once_per_request(
    keys: SigningKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[int] = []
    original_get = TokenCache.get

    def counting_get(self: TokenCache, *args: Any) -> Any:
        lookups[-1] += 1
        return original_get(self, *args)

    monkeypatch.setattr(TokenCache, "get", counting_get)
    validator = _validator(keys)
    middleware = CAEMiddleware(ok_app, validator=validator, store=InMemoryEventStore())
    token = sign(keys, claims(ISSUER))
    for _ in range(3):  # a new token, then the same token twice (cache hits)
        lookups.append(0)
        assert (await call(middleware, _bearer(token))).status == 200
    assert lookups == [1, 1, 1]
    assert len(validator.cache) == 1


async def test_a_token_verified_before_is_decided_in_begin_every_time(
    keys: SigningKeys,
) -> None:
    """The warm path never waits: begin() answers a cached token itself. The decision is
    still made on every request (a revocation applies to the very next one), and the hooks
    still see every request."""
    records: list[AccessRecord] = []
    store = InMemoryEventStore()
    path = RequestPath(validator=_validator(keys), store=store, hooks=[records.append])
    token = sign(keys, claims(ISSUER))
    first = await path.decide("GET", "/r", _bearer(token), "203.0.113.7")
    assert first.allowed
    assert path.begin("GET", "/r", _bearer(token), None).result is not None
    cached = path.begin("GET", "/r", _bearer("".join(token)), "203.0.113.7").result
    assert cached is not None and cached.allowed and cached.claims is first.claims
    await store.revoke_user(TENANT, USER_OID, at=int(time.time()) + 5)
    refused = path.begin("GET", "/r", _bearer(token), "203.0.113.7").result
    assert refused is not None and refused.decision.reason is Reason.TOKEN_REVOKED
    assert (await path.decide("GET", "/r", _bearer(token), None)).refusal is not None
    assert [r.decision.reason for r in records] == [Reason.OK, Reason.TOKEN_REVOKED]


async def test_a_risk_reported_for_a_cached_token_applies_to_the_next_request(
    keys: SigningKeys,
) -> None:
    """The store answers risk reads without hashing while nobody is at risk; the first report
    still reaches the very next request of a cached token, and so does its clearing."""
    store = InMemoryEventStore()
    path = RequestPath(validator=_validator(keys), store=store)
    token = sign(keys, claims(ISSUER))
    assert (await path.decide("GET", "/", _bearer(token), None)).allowed
    user = SubjectKey.user(TENANT, USER_OID)
    now = int(time.time())
    await store.set_risk(user, "high", at=now)
    risky = path.begin("GET", "/", _bearer(token), None).result
    assert risky is not None and risky.decision.reason is Reason.RISK_TOO_HIGH
    await store.set_risk(user, "none", at=now + 1)
    cleared = path.begin("GET", "/", _bearer(token), None).result
    assert cleared is not None and cleared.allowed


async def test_the_token_cache_is_keyed_by_the_whole_token(keys: SigningKeys) -> None:
    """Only the very header value that was verified is served from the cache (the path's key:
    the ``Authorization`` value as received): any other token - one character of the signature
    changed, a character more or less - is verified (and refused), never answered with the
    cached claims; another spelling of the same header is verified again."""
    validator = _validator(keys)
    path = RequestPath(validator=validator, store=InMemoryEventStore())
    token = sign(keys, claims(ISSUER))
    assert (await path.decide("GET", "/", _bearer(token), None)).allowed
    assert validator.cached(f"Bearer {token}".encode()) is not None
    last = "A" if token[-1] != "A" else "B"
    for other in (token[:-1] + last, token[:-1], token + "A", token.replace(".", "..", 1)):
        assert validator.cached(f"Bearer {other}".encode()) is None
        assert path.begin("GET", "/", _bearer(other), None).result is None  # to be verified
        result = await path.decide("GET", "/", _bearer(other), None)
        assert result.refusal is not None and result.refusal.status in (400, 401), other
        assert result.claims is None
    assert len(validator.cache) == 1
    cached = path.begin("GET", "/", _bearer(token), None).result
    assert cached is not None and cached.allowed
    # The same token in a padded spelling of the header: verified every time, never cached
    # as written (one entry per token, not one per padding: test_warm_path_attacks).
    for pad in ("   ", "    "):
        spelled = [(b"authorization", f"bearer{pad}{token}".encode())]
        assert path.begin("GET", "/", spelled, None).result is None
        assert (await path.decide("GET", "/", spelled, None)).allowed
        assert path.begin("GET", "/", spelled, None).result is None
    assert len(validator.cache) == 2  # the header's plain spelling, and the token itself
    spelled = [(b"authorization", f"bearer {token}".encode())]  # the scheme in another case
    assert (await path.decide("GET", "/", spelled, None)).allowed
    assert path.begin("GET", "/", spelled, None).result is not None


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_a_token_has_one_spelling_so_one_cache_entry(keys: SigningKeys, alg: str) -> None:
    """The other strings a lenient base64url decoder reads as the same signature (the bits past
    the data set, RFC 4648 section 3.5) are malformed: one verified token is one string and
    one cache entry, never 16 that all verify."""
    validator = _validator(keys)
    path = RequestPath(validator=validator, store=InMemoryEventStore())
    token = sign(keys, claims(ISSUER), alg=alg)
    assert (await path.decide("GET", "/", _bearer(token), None)).allowed
    head, _, signature = token.rpartition(".")
    for other in other_spellings(signature):
        result = await path.decide("GET", "/", _bearer(f"{head}.{other}"), None)
        assert result.decision.reason is Reason.MALFORMED_TOKEN and result.claims is None
    assert len(validator.cache) == 1


async def test_a_cached_token_is_not_served_past_its_exp(keys: SigningKeys) -> None:
    """Expiry is checked on every request: the cache entry dies at ``exp`` (no leeway); past
    the leeway the token is refused."""
    clock = [time.time()]
    validator = _validator(keys, clock=lambda: clock[0])
    path = RequestPath(validator=validator, store=InMemoryEventStore(), clock=lambda: clock[0])
    exp = int(clock[0]) + 100
    token = sign(keys, claims(ISSUER, exp=exp))
    assert (await path.decide("GET", "/", _bearer(token), None)).allowed
    clock[0] = exp - 1
    assert path.begin("GET", "/", _bearer(token), None).result is not None  # a cache hit
    clock[0] = exp
    assert path.begin("GET", "/", _bearer(token), None).result is None  # gone from the cache
    clock[0] = exp + validator.leeway + 1
    expired = await path.decide("GET", "/", _bearer(token), None)
    assert expired.refusal is not None and expired.refusal.status == 401
    assert expired.decision.reason is Reason.TOKEN_EXPIRED


# -- refusals are built whatever a claim holds (item 6) -----------------------------------------


@pytest.mark.parametrize(
    "tid",
    ["テナント", "t\u00e9nant", "bad\r\nx-injected: 1", 'q"uo\\te', "\ud800", "/../x?y#z"],
)
async def test_any_tid_value_builds_a_safe_claims_challenge(keys: SigningKeys, tid: str) -> None:
    middleware = CAEMiddleware(
        ok_app,
        validator=_validator(keys),
        store=InMemoryEventStore(),
        auth_contexts={"/": "c1"},  # every cp1 token without acrs is challenged
        authorization_uri="https://login.example/{tenantid}/oauth2/authorize",
        realm="r\u00e9alm",
    )
    answer = await call(middleware, _bearer(sign(keys, claims(ISSUER, tid=tid))))
    assert answer.status == 401 and not answer.reached_app
    value = answer.header(b"www-authenticate")
    assert value is not None
    assert all(0x20 <= byte < 0x7F for byte in value), value  # visible ASCII only
    challenge = find_claims_challenge(value)
    assert challenge is not None and challenge.authorization_uri is not None
    uri = challenge.authorization_uri
    assert uri.startswith("https://login.example/") and uri.endswith("/oauth2/authorize")
    assert uri.count("/") == 5  # the tenant stays one path segment
    assert json.loads(answer.body)["reason"] == Reason.AUTH_CONTEXT_REQUIRED.value


# -- authentication-context step-up carries cc_type (item 11) -----------------------------------


async def test_auth_context_challenges_carry_cc_type_authcontext(keys: SigningKeys) -> None:
    store = InMemoryEventStore()
    middleware = CAEMiddleware(
        ok_app, validator=_validator(keys), store=store, auth_contexts={"/admin/": "c1"}
    )
    step_up = await call(middleware, _bearer(sign(keys, claims(ISSUER))), path="/admin/x")
    value = step_up.header(b"www-authenticate")
    assert step_up.status == 401 and value is not None
    [challenge] = parse_www_authenticate(value.decode())
    assert challenge.params["cc_type"] == "authcontext"
    assert challenge.params["error"] == "insufficient_claims"
    found = find_claims_challenge(value)
    assert found is not None
    assert found.claims_dict == {"access_token": {"acrs": {"essential": True, "value": "c1"}}}
    # Without cp1 the client could not answer: a plain refusal, no claims, no cc_type.
    plain = await call(
        middleware, _bearer(sign(keys, claims(ISSUER, xms_cc=None))), path="/admin/x"
    )
    [refusal] = parse_www_authenticate((plain.header(b"www-authenticate") or b"").decode())
    assert plain.status == 401 and refusal.params["error"] == "invalid_token"
    assert "claims" not in refusal.params and "cc_type" not in refusal.params
    # A revocation challenge is not a step-up: no cc_type.
    await store.revoke_user(TENANT, USER_OID, at=int(time.time()) + 60)
    revoked = await call(middleware, _bearer(sign(keys, claims(ISSUER))), path="/other")
    [revocation] = parse_www_authenticate((revoked.header(b"www-authenticate") or b"").decode())
    assert "claims" in revocation.params and "cc_type" not in revocation.params


async def test_a_validator_reason_the_vocabulary_does_not_know_is_still_a_refusal(
    keys: SigningKeys,
) -> None:
    """A reason a future validator adds maps to InvalidToken (401), never to a wider answer."""
    from cae_sdk.core.errors import TokenValidationError

    validator = _validator(keys)

    async def refuse(token: str, *cache_key: Any) -> Any:
        raise TokenValidationError("brand_new_reason", "refused for a new reason")

    validator._verify = refuse  # type: ignore[method-assign]
    records: list[AccessRecord] = []
    path = RequestPath(validator=validator, hooks=[records.append])
    result = await path.decide("GET", "/", _bearer(sign(keys, claims(ISSUER))), None)
    assert result.refusal is not None and result.refusal.status == 401
    assert result.decision.reason is Reason.INVALID_TOKEN
    assert result.decision.details == {"token_error": "brand_new_reason"}
    assert json.loads(result.refusal.body())["reason"] == "InvalidToken"
    assert records[0].decision.reason is Reason.INVALID_TOKEN
    # Credentials that are not even a b64token are a malformed request (400), whatever the
    # validator said about them.
    garbage = await path.decide("GET", "/", [(b"authorization", b"Bearer <script>")], None)
    assert garbage.refusal is not None and garbage.refusal.status == 400
    assert garbage.decision.reason is Reason.INVALID_REQUEST
