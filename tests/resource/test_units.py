"""Unit tests: client IP resolution, token cache, issuers (Entra v1/v2, multi-tenant), hooks,
policies through the middleware, websocket refusals, and fuzzing of the parsers."""

from __future__ import annotations

import collections
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cae_sdk.core.decisions import Outcome
from cae_sdk.core.errors import ConfigurationError, TokenValidationError
from cae_sdk.core.policies import load_policies
from cae_sdk.core.tokens import TokenClaims
from cae_sdk.events import InMemoryEventStore
from cae_sdk.resource import (
    AccessRecord,
    CAEMiddleware,
    CAESettings,
    ClientIPResolver,
    TokenCache,
    TokenValidator,
)
from cae_sdk.resource._bearer import extract_bearer
from cae_sdk.resource._client_ip import ForwardingHeaderError
from cae_sdk.resource._jws import parse_token

from .helpers import APP_ID, TENANT, SigningKeys, claims, sign

XFF = b"x-forwarded-for"


@pytest.mark.parametrize(
    ("peer", "headers", "expected"),
    [
        ("203.0.113.9", [(XFF, b"1.1.1.1")], "203.0.113.9"),  # untrusted peer: header ignored
        ("203.0.113.9", [(XFF, b"garbage" * 2000)], "203.0.113.9"),  # ...even when garbled
        ("10.0.0.2", [(XFF, b"6.6.6.6, 198.51.100.7")], "198.51.100.7"),
        ("10.0.0.2", [(XFF, b"198.51.100.7, 10.0.0.3")], "198.51.100.7"),
        ("10.0.0.2", [(XFF, b"garbage, 198.51.100.7")], "198.51.100.7"),  # left of the client
        ("10.0.0.2", [(XFF, b"198.51.100.7:4711")], "198.51.100.7"),  # Application Gateway
        ("10.0.0.2", [(XFF, b"[2001:db8::7]:443, 10.0.0.3")], "2001:db8::7"),
        ("10.0.0.2", [(XFF, b"2001:db8::7")], "2001:db8::7"),
        ("10.0.0.2", [(XFF, b"10.0.0.9, 10.0.0.3")], "10.0.0.9"),  # every hop trusted
        ("10.0.0.2", [(XFF, b" 198.51.100.7 ,, ")], "198.51.100.7"),  # RFC 9110 5.6.1 list
        ("10.0.0.2", [(b"X-Forwarded-For", b"198.51.100.7")], "198.51.100.7"),  # any case
        # The one configured header only: a Forwarded header a client wrote is never read.
        ("10.0.0.2", [(b"forwarded", b"for=10.0.0.7"), (XFF, b"198.51.100.7")], "198.51.100.7"),
        ("10.0.0.2", [(b"forwarded", b"for=198.51.100.7")], "10.0.0.2"),  # the proxy's own call
        ("10.0.0.2", [], "10.0.0.2"),
        ("::ffff:10.0.0.2", [(XFF, b"198.51.100.1")], "198.51.100.1"),
        (None, [], None),
    ],
)
def test_client_ip_through_trusted_proxies(
    peer: str | None, headers: list[tuple[bytes, bytes]], expected: str | None
) -> None:
    assert ClientIPResolver(["10.0.0.0/8"]).resolve(peer, headers) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b'for="[2001:db8::7]:4711";proto=https', "2001:db8::7"),
        (b'for="192.0.2.60:80", for=10.0.0.5', "192.0.2.60"),
        (b"for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http", "198.51.100.17"),
        (b'For="\\[2001:db8:cafe::17\\]";proto=https', "2001:db8:cafe::17"),  # quoted-pair
        (b"proto=https;for=198.51.100.7 ; host=api.example", "198.51.100.7"),
        (b"for=unknown, for=198.51.100.7", "198.51.100.7"),  # left of the client: not read
    ],
)
def test_rfc7239_forwarded_when_configured(value: bytes, expected: str) -> None:
    resolver = ClientIPResolver(["10.0.0.0/8"], header="forwarded")
    assert resolver.resolve("10.0.0.2", [(b"forwarded", value)]) == expected
    # X-Forwarded-For is then never read.
    headers = [(XFF, b"10.9.9.9"), (b"forwarded", value)]
    assert resolver.resolve("10.0.0.2", headers) == expected


@pytest.mark.parametrize(
    ("header", "headers"),
    [
        # Cannot be read in full: refused, never answered with the proxy's own address.
        ("x-forwarded-for", [(XFF, b"198.51.100.7, " + b"10.0.0.3, " * 1000)]),
        ("x-forwarded-for", [(XFF, b"garbage, 10.0.0.3")]),
        ("x-forwarded-for", [(XFF, b"unknown")]),
        ("x-forwarded-for", [(XFF, b"")]),
        ("x-forwarded-for", [(XFF, b" , ")]),
        ("x-forwarded-for", [(XFF, b"198.51.100.7:http")]),
        ("x-forwarded-for", [(XFF, b"[198.51.100.7]")]),
        ("x-forwarded-for", [(XFF, b"[2001:db8::7")]),
        ("x-forwarded-for", [(XFF, b"fe80::1%eth0")]),
        ("x-forwarded-for", [(XFF, b"198.51.100.7\xff")]),
        ("x-forwarded-for", [(XFF, b"6.6.6.6"), (XFF, b"198.51.100.7")]),  # which one?
        ("forwarded", [(b"forwarded", b"for=192.0.2.60:80")]),  # ":" needs quotes (RFC 7239 6)
        ("forwarded", [(b"forwarded", b'for="198.51.100.7')]),
        ("forwarded", [(b"forwarded", b"for=198.51.100.7;for=10.0.0.1")]),  # twice in one
        ("forwarded", [(b"forwarded", b"for")]),
        ("forwarded", [(b"forwarded", b"proto=https")]),  # no for= on the walk
        ("forwarded", [(b"forwarded", b"for=_hidden")]),  # obfuscated node (RFC 7239 6.3)
        ("forwarded", [(b"forwarded", b'for="\x01"')]),
        ("forwarded", [(b"forwarded", b"for=1.2.3.4 garbage")]),
        ("forwarded", [(b"forwarded", b"for=1.1.1.1"), (b"forwarded", b"for=2.2.2.2")]),
    ],
)
def test_an_unreadable_forwarding_header_from_a_trusted_proxy_is_refused(
    header: str, headers: list[tuple[bytes, bytes]]
) -> None:
    resolver = ClientIPResolver(["10.0.0.0/8"], header=header)
    with pytest.raises(ForwardingHeaderError):
        resolver.resolve("10.0.0.2", headers)
    # The same header from an untrusted peer is never read.
    assert resolver.resolve("203.0.113.9", headers) == "203.0.113.9"


@pytest.mark.parametrize("header", ["", "x forwarded", "x-forwarded-for:", "é"])
def test_a_bad_forwarded_header_setting_is_a_configuration_error(header: str) -> None:
    with pytest.raises(ConfigurationError, match="forwarded_header"):
        CAESettings(forwarded_header=header)


@pytest.mark.parametrize("proxy", ["not-a-network", "10.0.0.0/33", ""])
def test_a_bad_trusted_proxy_is_a_configuration_error(proxy: str) -> None:
    with pytest.raises(ConfigurationError, match="trusted_proxies"):
        ClientIPResolver([proxy])


def test_token_cache_is_bounded_and_expires() -> None:
    cache = TokenCache(max_entries=2)
    a, b, c = "abc"
    claims_a = TokenClaims({"oid": "a"})
    cache.put(a, claims_a, expires=100)
    cache.put(b, TokenClaims({}), expires=100)
    assert cache.get(a, now=50) is claims_a  # a becomes most recent
    cache.put(c, TokenClaims({}), expires=100)
    assert cache.get(b, now=50) is None and len(cache) == 2
    assert cache.get(a, now=100) is None  # no longer than the token lives


async def test_entra_multi_tenant_issuers_and_allowlist(keys: SigningKeys) -> None:
    jwks = keys.jwks()
    multi = TokenValidator.entra(app_id=APP_ID, jwks=jwks)
    allow = TokenValidator.entra(app_id=APP_ID, tenants=["other-tenant"], jwks=jwks)
    v2 = f"https://login.microsoftonline.com/{TENANT}/v2.0"
    v1 = f"https://sts.windows.net/{TENANT}/"
    assert (await multi.validate(sign(keys, claims(v2)))).tenant_id == TENANT
    assert (await multi.validate(sign(keys, claims(v1, aud=APP_ID, ver="1.0")))).tenant_id
    for token, reason in [
        (sign(keys, claims("https://login.microsoftonline.com/other/v2.0")), "bad_issuer"),
        (sign(keys, claims(v2, tid=None)), "bad_issuer"),
    ]:
        with pytest.raises(TokenValidationError) as caught:
            await multi.validate(token)
        assert caught.value.reason == reason
    with pytest.raises(TokenValidationError) as refused:
        await allow.validate(sign(keys, claims(v2)))
    assert refused.value.reason == "bad_tenant"


def test_validator_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        TokenValidator(issuer="https://x", audiences=[], jwks={"keys": []})
    with pytest.raises(ConfigurationError):
        TokenValidator(issuer="https://x", audiences=["a"], algorithms=["HS256"])
    with pytest.raises(ConfigurationError):
        TokenValidator(issuer="https://x/{tenantid}/v2.0", audiences=["a"])


async def _ok_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.accept"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _middleware(keys: SigningKeys, **options: Any) -> CAEMiddleware:
    validator = TokenValidator(
        issuer="https://issuer.test/v2.0", audiences=[f"api://{APP_ID}"], jwks=keys.jwks()
    )
    return CAEMiddleware(_ok_app, validator=validator, store=InMemoryEventStore(), **options)


async def test_sync_and_async_hooks_see_decisions_and_a_failing_hook_is_contained(
    keys: SigningKeys,
) -> None:
    seen: list[AccessRecord] = []

    async def async_hook(record: AccessRecord) -> None:
        seen.append(record)

    def broken_hook(record: AccessRecord) -> None:
        raise RuntimeError("boom")

    middleware = _middleware(keys, on_decision=[seen.append, async_hook, broken_hook])
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        token = sign(keys, claims("https://issuer.test/v2.0"))
        assert (await client.get("/x", headers={"Authorization": f"Bearer {token}"})).text == "ok"
        assert (await client.get("/x")).status_code == 401
    assert [r.decision.outcome for r in seen] == [Outcome.ALLOW] * 2 + [Outcome.DENY] * 2
    assert seen[0].path == "/x" and seen[0].claims is not None and seen[2].claims is None


async def test_policies_enforced_by_the_middleware_and_reloadable(keys: SigningKeys) -> None:
    block_unknown_platform = {
        "id": "CA001",
        "displayName": "CA001-Global-BaseProtection-AllApps-UnknownPlatforms-Block",
        "state": "enabled",
        "conditions": {
            "users": {"includeUsers": ["All"]},
            "applications": {"includeApplications": ["All"]},
            "platforms": {
                "includePlatforms": ["all"],
                "excludePlatforms": ["android", "iOS", "windows", "macOS", "linux"],
            },
        },
        "grantControls": {"operator": "OR", "builtInControls": ["block"]},
    }
    middleware = _middleware(keys, policies=load_policies([block_unknown_platform]))
    token = sign(keys, claims("https://issuer.test/v2.0"))
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        headers = {"Authorization": f"Bearer {token}", "User-Agent": "curl/8"}
        blocked = await client.get("/", headers=headers)
        assert blocked.status_code == 403
        assert blocked.json()["reason"] == "BlockedByConditionalAccessPolicy"
        windows = {**headers, "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"}
        assert (await client.get("/", headers=windows)).status_code == 200
        middleware.settings.policies = []  # a reloaded policy set applies on the next request
        assert (await client.get("/", headers=headers)).status_code == 200


async def test_websocket_refusal_closes_with_policy_violation(keys: SigningKeys) -> None:
    middleware = _middleware(keys)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [], "client": ("127.0.0.1", 1)}
    await middleware(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "MissingToken"}]


async def test_lifespan_passes_through(keys: SigningKeys) -> None:
    called: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(scope["type"])

    middleware = CAEMiddleware(app, validator=_middleware(keys).validator)
    await middleware({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert called == ["lifespan"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([b"authorization", b"x"]), st.binary(max_size=64))))
def test_bearer_extraction_never_crashes(headers: list[tuple[bytes, bytes]]) -> None:
    try:
        token = extract_bearer(headers)
    except TokenValidationError as error:
        assert error.reason == "invalid_request"
    else:
        assert token is None or token.isascii()


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=200)
    | st.from_regex(r"[A-Za-z0-9_\-]{0,40}\.[A-Za-z0-9_\-]{0,40}\.[A-Za-z0-9_\-]{0,40}")
)
def test_token_parser_never_crashes(text: str) -> None:
    with pytest.raises(TokenValidationError):
        parse_token(text)


class _BrokenStore(InMemoryEventStore):
    def watermark(self, subject: Any) -> int | None:
        raise RuntimeError("backend exploded")


async def test_unexpected_failures_fail_closed_never_500(keys: SigningKeys) -> None:
    token = sign(keys, claims("https://issuer.test/v2.0"))
    broken_store = CAEMiddleware(
        _ok_app, validator=_middleware(keys).validator, store=_BrokenStore()
    )
    broken_validator = _middleware(keys)

    async def explode(token: str) -> TokenClaims:
        raise KeyError("bug")

    broken_validator.validator._verify = explode  # type: ignore[method-assign]
    for middleware, reason in [
        (broken_store, "EventStoreUnavailable"),
        (broken_validator, "validation_error"),
    ]:
        transport = httpx.ASGITransport(app=middleware)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["reason"] == reason


class _LocationsExplode(InMemoryEventStore):
    def named_locations(self) -> Any:
        raise RuntimeError("backend exploded")


async def test_a_store_whose_locations_read_raises_fails_closed_never_500(
    keys: SigningKeys,
) -> None:
    seen: list[AccessRecord] = []
    middleware = CAEMiddleware(
        _ok_app,
        validator=_middleware(keys).validator,
        store=_LocationsExplode(),
        on_decision=[seen.append],
    )
    token = sign(keys, claims("https://issuer.test/v2.0"))
    transport = httpx.ASGITransport(app=middleware, client=("198.51.100.4", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["reason"] == "EventStoreUnavailable"
    assert [record.client_ip for record in seen] == ["198.51.100.4"]


async def test_entra_preset_for_another_authority_host(keys: SigningKeys) -> None:
    validator = TokenValidator.entra(
        app_id=APP_ID, tenant_id=TENANT, authority_host="https://idp.test/", jwks=keys.jwks()
    )
    for issuer in (f"https://idp.test/{TENANT}/v2.0", f"https://idp.test/{TENANT}/"):
        assert (await validator.validate(sign(keys, claims(issuer)))).tenant_id == TENANT
    with pytest.raises(TokenValidationError):
        await validator.validate(sign(keys, claims(f"https://sts.windows.net/{TENANT}/")))


async def test_policy_targeting_this_api_by_app_id(keys: SigningKeys) -> None:
    def blocking(app_id: str) -> dict[str, Any]:
        return {
            "id": f"CA-{app_id}",
            "state": "enabled",
            "conditions": {
                "users": {"includeUsers": ["All"]},
                "applications": {"includeApplications": [app_id]},
            },
            "grantControls": {"operator": "OR", "builtInControls": ["block"]},
        }

    token = sign(keys, claims("https://issuer.test/v2.0"))
    for app_id, status in [(APP_ID, 403), ("another-api", 200)]:
        middleware = _middleware(keys, policies=load_policies([blocking(app_id)]))
        transport = httpx.ASGITransport(app=middleware)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == status, app_id


async def test_replacing_settings_applies_on_the_next_request(keys: SigningKeys) -> None:
    from cae_sdk.resource import CAESettings

    middleware = _middleware(keys)
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/open/x")).status_code == 401
        middleware.settings = CAESettings(exclude_paths=["/open/"])
        assert (await client.get("/open/x")).text == "ok"
        assert (await client.get("/closed")).status_code == 401


async def test_no_signing_keys_at_all_is_503_not_401(keys: SigningKeys) -> None:
    from .helpers import free_port

    validator = TokenValidator(
        issuer="https://issuer.test/v2.0",
        audiences=[f"api://{APP_ID}"],
        jwks_uri=f"http://127.0.0.1:{free_port()}/keys",  # nothing listens there
        fetch_timeout=1,
    )
    middleware = CAEMiddleware(_ok_app, validator=validator)
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        token = sign(keys, claims("https://issuer.test/v2.0"))
        response = await client.get("/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert response.json()["reason"] == "keys_unavailable"
    # RFC 9110 section 10.2.3: the key source says when to come back.
    assert int(response.headers["retry-after"]) >= 1
    await validator.aclose()


class _RacingEntries(collections.OrderedDict):  # type: ignore[type-arg]
    """An entry removed by another thread between the lookup's get and its next step."""

    def get(self, key: Any, default: Any = None) -> Any:
        entry = super().get(key, default)
        super().pop(key, None)
        return entry


@pytest.mark.parametrize("expired", [False, True])
def test_a_cache_lookup_racing_another_thread_never_raises(expired: bool) -> None:
    # The blocking driver looks the cache up from request threads while the driver's loop
    # puts and drops entries: a race is a hit or a miss, never an exception (which would
    # refuse a valid token as validation_error).
    cache = TokenCache(10)
    claims = TokenClaims({"oid": "o"})
    cache.put("k", claims, expires=100.0)
    cache._entries = _RacingEntries(cache._entries)
    assert cache.get("k", 200.0 if expired else 50.0) is (None if expired else claims)
