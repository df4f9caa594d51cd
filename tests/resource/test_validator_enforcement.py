"""Issue 10 items 3, 4, 5, 7 and 10, issue 9 item 3 (validator side), issue 14 (custom App ID
URI): each test fails on the code before the fix.

- a key withdrawn from the JWKS ends every cached token it signed at the next refresh;
- a JWK's own ``alg`` is honoured (RFC 8725 section 3.1), ``use``/``key_ops`` respected;
- issuers compare exactly (OpenID Connect Core 1.0 section 3.1.3.7);
- one NumericDate reader: no OverflowError, fractional ``iat`` cached and compared exactly;
- ``max_lifetime`` refuses tokens that outlive the revocation state (28 h default);
- ``TokenValidator.entra(audiences=...)`` accepts a custom Application ID URI.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from cae_sdk.core._revocation import evaluate_revocation
from cae_sdk.core.errors import TokenValidationError
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import InMemoryEventStore
from cae_sdk.events._model import RevocationEvent
from cae_sdk.resource import CAEMiddleware, TokenCache, TokenValidator

from .helpers import APP_ID, TENANT, USER_OID, JWKSServer, SigningKeys, claims, sign

ISSUER = "https://issuer.test/v2.0"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Published:
    """A JWKS document served by :class:`JWKSServer` in place of a :class:`SigningKeys`."""

    def __init__(self, *entries: dict[str, Any]) -> None:
        self.entries = list(entries)

    def jwks(self) -> dict[str, Any]:
        return {"keys": self.entries}


def _pinned(keys: SigningKeys, **options: Any) -> TokenValidator:
    options.setdefault("audiences", [f"api://{APP_ID}"])
    return TokenValidator(issuer=ISSUER, jwks=keys.jwks(), **options)


async def _reason(validator: TokenValidator, token: str) -> str:
    with pytest.raises(TokenValidationError) as caught:
        await validator.validate(token)
    return caught.value.reason


async def _until(condition: Any, seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


# -- item 3: a withdrawn signing key ----------------------------------------------------------


def _fetching_validator(idp: JWKSServer) -> tuple[TokenValidator, FakeClock]:
    """A validator fetching the live JWKS, fresh for 60 s of a clock the test moves."""
    validator = TokenValidator(
        issuer=idp.issuer,
        audiences=[f"api://{APP_ID}"],
        jwks_uri=f"{idp.base_url}/keys",
        jwks_max_age=60,
    )
    clock = FakeClock()
    validator.keys._clock = clock
    return validator, clock


async def test_withdrawn_key_ends_its_cached_tokens_at_the_next_refresh(
    idp: JWKSServer, keys: SigningKeys
) -> None:
    _, ec_entry = keys.jwks()["keys"]
    validator, clock = _fetching_validator(idp)
    rsa_token = sign(keys, claims(idp.issuer, sub="rsa"))
    ec_token = sign(keys, claims(idp.issuer, sub="ec"), alg="ES256")
    first_rsa = await validator.validate(rsa_token)
    first_ec = await validator.validate(ec_token)
    assert await validator.validate(rsa_token) is first_rsa  # served from the cache
    idp.keys = Published(ec_entry)  # type: ignore[assignment]  # compromise rotation: RSA out
    try:
        clock.now += 61  # the key set is stale
        # A cache hit still answers (the refresh it starts has not completed yet) ...
        assert await validator.validate(rsa_token) is first_rsa
        await _until(lambda: keys.rsa_kid not in (validator.keys.keys or {}))
        # ... and once the refresh dropped the key, every token it signed is refused.
        assert await _reason(validator, rsa_token) == "unknown_key"
        # Tokens of keys still published stay cached: no second verification.
        assert await validator.validate(ec_token) is first_ec
    finally:
        idp.keys = keys
    await validator.aclose()


async def test_withdrawn_key_through_the_middleware(idp: JWKSServer, keys: SigningKeys) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    _, ec_entry = keys.jwks()["keys"]
    validator, clock = _fetching_validator(idp)
    middleware = CAEMiddleware(app, validator=validator, store=InMemoryEventStore())
    auth = {"Authorization": f"Bearer {sign(keys, claims(idp.issuer))}"}
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        assert (await client.get("/", headers=auth)).status_code == 200
        assert (await client.get("/", headers=auth)).status_code == 200
        idp.keys = Published(ec_entry)  # type: ignore[assignment]
        try:
            clock.now += 61
            await client.get("/", headers=auth)  # a cache hit starts the refresh
            await _until(lambda: keys.rsa_kid not in (validator.keys.keys or {}))
            refused = await client.get("/", headers=auth)
        finally:
            idp.keys = keys
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    await validator.aclose()


# -- item 4: the JWK's own algorithm --------------------------------------------------------------


def _restricted(keys: SigningKeys, **members: Any) -> dict[str, Any]:
    rsa_entry, ec_entry = keys.jwks()["keys"]
    return {"keys": [{**rsa_entry, **members}, ec_entry]}


async def test_jwk_alg_is_honoured(keys: SigningKeys) -> None:
    validator = TokenValidator(
        issuer=ISSUER, audiences=[f"api://{APP_ID}"], jwks=_restricted(keys, alg="RS256")
    )
    assert await validator.validate(sign(keys, claims(ISSUER)))
    ps256 = sign(keys, claims(ISSUER, sub="pss"), alg="PS256")
    assert await _reason(validator, ps256) == "bad_key"


@pytest.mark.parametrize(
    "members",
    [{"use": "enc"}, {"key_ops": ["encrypt"]}, {"key_ops": "verify"}, {"alg": "RS512"}],
    ids=["use-enc", "key-ops-encrypt", "key-ops-not-a-list", "alg-not-verifiable"],
)
async def test_keys_not_for_signatures_never_verify(
    keys: SigningKeys, members: dict[str, Any]
) -> None:
    validator = TokenValidator(
        issuer=ISSUER, audiences=[f"api://{APP_ID}"], jwks=_restricted(keys, **members)
    )
    assert await _reason(validator, sign(keys, claims(ISSUER))) == "unknown_key"
    assert await validator.validate(sign(keys, claims(ISSUER), alg="ES256"))


# -- item 5: exact issuer comparison --------------------------------------------------------------


@pytest.mark.parametrize(
    "issuer",
    [
        "https://LOGIN.microsoftonline.com/{tid}/v2.0",
        "https://login.microsoftonline.com/{TID}/v2.0",
        "https://login.microsoftonline.com/{tid}/v2.0/",
        "https://login.microsoftonline.com/{tid}/V2.0",
    ],
)
async def test_issuer_template_compares_exactly(keys: SigningKeys, issuer: str) -> None:
    validator = TokenValidator(
        issuer="https://login.microsoftonline.com/{tenantid}/v2.0",
        audiences=[f"api://{APP_ID}"],
        jwks=keys.jwks(),
    )
    exact = issuer.format(tid=TENANT, TID=TENANT)
    good = "https://login.microsoftonline.com/" + TENANT + "/v2.0"
    assert await validator.validate(sign(keys, claims(good)))
    token = sign(keys, claims(exact.replace(TENANT, TENANT.upper()) if "TID" in issuer else exact))
    assert await _reason(validator, token) == "bad_issuer"


# -- item 7: one NumericDate reader ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("exp", 10**400),
        ("exp", 1e300),
        ("nbf", 10**400),
        ("iat", -5),
        ("iat", True),
        ("exp", "1900000000"),
    ],
    ids=["exp-10e400", "exp-1e300", "nbf-10e400", "iat-negative", "iat-bool", "exp-string"],
)
async def test_bad_numeric_dates_are_malformed_never_a_crash(
    keys: SigningKeys, name: str, value: Any
) -> None:
    validator = _pinned(keys, max_lifetime=None)
    assert await _reason(validator, sign(keys, claims(ISSUER, **{name: value}))) == (
        "malformed_token"
    )


async def test_fractional_iat_is_cached_and_compared_exactly(keys: SigningKeys) -> None:
    validator = _pinned(keys)
    now = time.time()
    watermark = int(now) - 100
    newer = await validator.validate(sign(keys, claims(ISSUER, iat=watermark + 0.5)))
    assert len(validator.cache) == 1  # cached like any token
    older = await validator.validate(sign(keys, claims(ISSUER, iat=watermark - 0.5, sub="o")))
    assert newer.issued_at == watermark and older.issued_at == watermark - 1
    marks = {SubjectKey.user(TENANT, USER_OID): watermark}
    assert evaluate_revocation(newer, marks.get).allowed
    assert not evaluate_revocation(older, marks.get).allowed
    fractional_exp = await validator.validate(sign(keys, claims(ISSUER, exp=now + 60.25, sub="e")))
    assert fractional_exp.expires_at == int(now + 60.25) and len(validator.cache) == 3


async def test_fractional_iat_through_the_middleware(keys: SigningKeys) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    store = InMemoryEventStore()
    watermark = int(time.time()) - 100
    await store.apply(RevocationEvent(SubjectKey.user(TENANT, USER_OID), watermark, "test"))
    middleware = CAEMiddleware(app, validator=_pinned(keys), store=store)
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        for iat, status in ((watermark + 0.5, 200), (watermark - 0.5, 401)):
            token = sign(keys, claims(ISSUER, iat=iat))
            response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == status, iat


# -- issue 9 item 3: maximum token lifetime -----------------------------------------------


async def test_tokens_longer_than_max_lifetime_are_refused(keys: SigningKeys) -> None:
    now = int(time.time())
    day = 28 * 3600
    validator = _pinned(keys)
    assert await validator.validate(sign(keys, claims(ISSUER, iat=now - 10, exp=now - 10 + day)))
    too_long = sign(keys, claims(ISSUER, iat=now - 10, exp=now - 10 + day + 1, sub="long"))
    with pytest.raises(TokenValidationError) as caught:
        await validator.validate(too_long)
    assert caught.value.reason == "token_lifetime_too_long"
    assert "lifetime" in caught.value.description
    # Without iat the lifetime runs from nbf; with neither it cannot be established.
    no_iat = _pinned(keys, required_claims=("iss", "aud", "exp"))
    from_nbf = claims(ISSUER, iat=None, nbf=now - 10, exp=now + day, sub="nbf")
    assert await _reason(no_iat, sign(keys, from_nbf)) == "token_lifetime_too_long"
    bare = claims(ISSUER, iat=None, nbf=None, sub="bare")
    assert await _reason(no_iat, sign(keys, bare)) == "token_lifetime_too_long"
    # max_lifetime=None disables the check.
    assert await _pinned(keys, max_lifetime=None).validate(too_long)


# -- issue 14: a custom Application ID URI ------------------------------------------------


async def test_entra_accepts_a_custom_application_id_uri(keys: SigningKeys) -> None:
    validator = TokenValidator.entra(
        app_id=APP_ID, tenant_id=TENANT, jwks=keys.jwks(), audiences=["https://api.contoso.com"]
    )
    v1_issuer = f"https://sts.windows.net/{TENANT}/"
    for aud in ("https://api.contoso.com", f"api://{APP_ID}", APP_ID):
        assert await validator.validate(sign(keys, claims(v1_issuer, aud=aud)))
    near_miss = sign(keys, claims(v1_issuer, aud="https://api.contoso.co"))
    assert await _reason(validator, near_miss) == "bad_audience"


# -- item 10: one cache lookup per request --------------------------------------------------------


class CountingCache(TokenCache):
    lookups = 0

    def get(self, token: str, now: float, signing_keys: Any = None) -> Any:
        self.lookups += 1
        return super().get(token, now, signing_keys)


async def test_validate_looks_the_cache_up_once(keys: SigningKeys) -> None:
    validator = _pinned(keys)
    validator.cache = cache = CountingCache()
    token = sign(keys, claims(ISSUER))
    first = await validator.validate(token)  # miss: verified and cached
    assert cache.lookups == 1
    assert await validator.validate(token) is first  # hit
    assert cache.lookups == 2


async def test_entra_refuses_a_token_without_scp_and_roles(keys: SigningKeys) -> None:
    """Microsoft.Identity.Web's IDW10201: an ID token (or an app-only token of a client that
    holds no app role) is no access token for the API; ``require_permissions=False`` is the
    ACL-based authorization opt-out."""
    issuer = f"https://login.microsoftonline.com/{TENANT}/v2.0"
    entra = TokenValidator.entra(app_id=APP_ID, tenant_id=TENANT, jwks=keys.jwks())
    id_token = claims(issuer, aud=APP_ID, scp=None, azp=None, xms_cc=None, nonce="n")
    no_role = claims(issuer, scp=None, idtyp="app")
    for payload in (id_token, no_role, claims(issuer, scp=" "), claims(issuer, scp=None, roles=[])):
        with pytest.raises(TokenValidationError) as caught:
            await entra.validate(sign(keys, payload))
        assert caught.value.reason == "missing_claim"
    assert (await entra.validate(sign(keys, claims(issuer)))).scopes == ("access_as_user",)
    app_token = claims(issuer, scp=None, idtyp="app", roles=["Data.Read"])
    assert (await entra.validate(sign(keys, app_token))).roles == ("Data.Read",)
    acl = TokenValidator.entra(
        app_id=APP_ID, tenant_id=TENANT, jwks=keys.jwks(), require_permissions=False
    )
    assert (await acl.validate(sign(keys, no_role))).is_app_only


def test_withdrawn_key_through_the_blocking_driver(idp: JWKSServer, keys: SigningKeys) -> None:
    """A synchronous caller (WSGI) answers a known token from the cache in its own thread,
    where there is no event loop: the stale key set must still be refreshed (on the driver's
    loop), or a withdrawn key keeps validating its cached tokens until they expire."""
    from cae_sdk.resource import BlockingRequestPath, RequestPath

    _, ec_entry = keys.jwks()["keys"]
    validator, clock = _fetching_validator(idp)
    headers = [(b"authorization", f"Bearer {sign(keys, claims(idp.issuer))}".encode())]
    with BlockingRequestPath(RequestPath(validator=validator), timeout=10) as blocking:
        assert blocking.decide("GET", "/", headers, "203.0.113.9").allowed  # verified on the loop
        assert blocking.decide("GET", "/", headers, "203.0.113.9").allowed  # a cache hit
        idp.keys = Published(ec_entry)  # type: ignore[assignment]  # compromise rotation
        try:
            clock.now += 61  # the key set is stale; every request below is a cache hit
            deadline = time.monotonic() + 5
            while blocking.decide("GET", "/", headers, "203.0.113.9").allowed:
                assert time.monotonic() < deadline, "the withdrawn key is still trusted"
                time.sleep(0.05)
        finally:
            idp.keys = keys
        assert keys.rsa_kid not in (validator.keys.keys or {})
