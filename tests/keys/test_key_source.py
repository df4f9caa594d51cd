"""HTTP edge cases of the shared key source (respx): discovery with exact issuer match, cooldown,
retry until the first load, Cache-Control max-age, garbage documents, pinned keys."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import ec

from cae_sdk.core.errors import ConfigurationError, JOSEError, KeysUnavailable
from cae_sdk.keys import KeySource

CONFIG_URL = "https://issuer.test/.well-known/ssf-configuration"
JWKS_URL = "https://issuer.test/jwks"
ISSUER = "https://issuer.test"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwk(kid: str) -> dict[str, Any]:
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "kid": kid,
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _source(http: httpx.AsyncClient, clock: FakeClock, **options: Any) -> KeySource:
    options.setdefault("configuration_url", CONFIG_URL)
    return KeySource(http_client=http, cooldown=30, clock=clock, **options)


@respx.mock
async def test_discovery_runs_once_and_requires_the_exact_issuer(http: httpx.AsyncClient) -> None:
    config = respx.get(CONFIG_URL).respond(json={"issuer": ISSUER + "/", "jwks_uri": JWKS_URL})
    jwks = respx.get(JWKS_URL).respond(json={"keys": [_jwk("a")]})
    source = _source(http, FakeClock(), expected_issuer=ISSUER)
    with pytest.raises(JOSEError) as caught:
        await source.get("a")
    assert caught.value.reason == "keys_unavailable"
    assert isinstance(source.last_error, ConfigurationError) and jwks.call_count == 0

    config.respond(json={"issuer": ISSUER, "jwks_uri": JWKS_URL})
    source = _source(http, FakeClock(), expected_issuer=ISSUER)
    assert (await source.get("a")).kid == "a"
    await source.refresh()
    assert config.call_count == 2 and jwks.call_count == 2  # one discovery per source
    assert source.configuration is not None and source.configuration["issuer"] == ISSUER


@respx.mock
async def test_discovery_without_jwks_uri_is_a_failure(http: httpx.AsyncClient) -> None:
    respx.get(CONFIG_URL).respond(json={"issuer": ISSUER, "jwks_uri": "file:///etc/keys"})
    source = _source(http, FakeClock())
    with pytest.raises(JOSEError):
        await source.key_set()
    assert isinstance(source.last_error, ConfigurationError)


@respx.mock
async def test_unknown_kid_refreshes_once_per_cooldown(http: httpx.AsyncClient) -> None:
    clock = FakeClock()
    jwks = respx.get(JWKS_URL).respond(json={"keys": [_jwk("a")]})
    source = _source(http, clock, jwks_uri=JWKS_URL, configuration_url=None)
    await source.get("a")
    for _ in range(3):
        with pytest.raises(JOSEError) as caught:
            await source.get("rotated")
        assert caught.value.reason == "unknown_key"
    assert jwks.call_count == 1  # within the cooldown of the first fetch
    jwks.respond(json={"keys": [_jwk("a"), _jwk("rotated")]})
    clock.now += 31
    assert (await source.get("rotated")).kid == "rotated"
    assert jwks.call_count == 2


@respx.mock
async def test_retry_until_loaded_then_cooldown(http: httpx.AsyncClient) -> None:
    clock = FakeClock()
    jwks = respx.get(JWKS_URL).respond(503)
    source = _source(http, clock, jwks_uri=JWKS_URL, retry_until_loaded=True)
    for _ in range(2):
        with pytest.raises(KeysUnavailable):
            await source.key_set("a")
        assert isinstance(source.last_error, httpx.HTTPStatusError)
    assert jwks.call_count == 2  # no cooldown before the first load
    jwks.respond(json={"keys": [_jwk("a")]})
    await source.key_set("a")
    clock.now += 1
    # The first load does not start the cooldown: a key missed after it refreshes at once.
    with pytest.raises(JOSEError) as caught:
        await source.lookup("b", since=clock.now)
    assert caught.value.reason == "unknown_key" and jwks.call_count == 4
    clock.now += 1
    with pytest.raises(KeysUnavailable) as held:
        await source.lookup("c", since=clock.now)  # within the cooldown: deferred, retryable
    assert held.value.retry_after >= 1 and jwks.call_count == 4
    await source.aclose()


@respx.mock
async def test_without_retry_a_failed_first_fetch_waits_for_the_cooldown(
    http: httpx.AsyncClient,
) -> None:
    jwks = respx.get(JWKS_URL).respond(503)
    source = _source(http, FakeClock(), jwks_uri=JWKS_URL)
    for _ in range(3):
        with pytest.raises(JOSEError):
            await source.key_set("a")
    assert jwks.call_count == 1


@respx.mock
async def test_cache_control_max_age_shortens_freshness(http: httpx.AsyncClient) -> None:
    clock = FakeClock()
    jwks = respx.get(JWKS_URL).respond(
        json={"keys": [_jwk("a")]}, headers={"Cache-Control": "public, max-age=60"}
    )
    source = _source(http, clock, jwks_uri=JWKS_URL, max_age=3600)
    key = await source.get("a")
    clock.now += 59
    assert source.cached("a", None) is key
    await asyncio.sleep(0)
    assert jwks.call_count == 1
    clock.now += 2
    assert source.cached("a", None) is key  # stale: answered, refreshed in the background
    await asyncio.sleep(0.05)
    assert jwks.call_count == 2


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, content=b"not json"),
        httpx.Response(200, json={"keys": []}),
        httpx.Response(200, json={"keys": [{"kty": "oct", "kid": "a", "k": "c2VjcmV0"}]}),
        httpx.Response(200, json={"keys": [_jwk("a")], "pad": "x" * 600_000}),
        httpx.Response(500),
    ],
    ids=["not-json", "empty", "only-hmac", "oversized", "server-error"],
)
@respx.mock
async def test_garbage_keeps_the_last_good_keys(
    http: httpx.AsyncClient, response: httpx.Response
) -> None:
    clock = FakeClock()
    jwks = respx.get(JWKS_URL).respond(json={"keys": [_jwk("a")]})
    source = _source(http, clock, jwks_uri=JWKS_URL)
    good = await source.get("a")
    jwks.mock(return_value=response)
    clock.now += 31
    await source.refresh()
    assert source.last_error is not None
    assert await source.get("a") is good


async def test_pinned_keys_are_never_fetched() -> None:
    with respx.mock(assert_all_called=False) as router:
        route = router.get(JWKS_URL).respond(json={"keys": []})
        source = KeySource(jwks={"keys": [_jwk("a")]}, jwks_uri=JWKS_URL)
        assert (await source.get("a")).kid == "a"
        with pytest.raises(JOSEError) as caught:
            await source.get("b")
        assert caught.value.reason == "unknown_key"
        await source.refresh()
        assert not source.may_refresh() and route.call_count == 0
        await source.aclose()
    with pytest.raises(JOSEError):
        KeySource(jwks={"keys": []})
    with pytest.raises(ConfigurationError):
        KeySource()


@respx.mock
async def test_concurrent_callers_share_one_fetch(http: httpx.AsyncClient) -> None:
    jwks = respx.get(JWKS_URL).respond(json={"keys": [_jwk("a")]})
    source = _source(http, FakeClock(), jwks_uri=JWKS_URL)
    found = await asyncio.gather(*(source.get("a") for _ in range(10)))
    assert len({id(key) for key in found}) == 1 and jwks.call_count == 1


@respx.mock
@pytest.mark.parametrize("jwks_uri", ["http://issuer.test/jwks", "HTTP://issuer.test/jwks"])
async def test_discovery_over_tls_never_sends_keys_over_plain_http(
    http: httpx.AsyncClient, jwks_uri: str
) -> None:
    """OpenID Connect Discovery 1.0 section 3: jwks_uri MUST use https. Keys fetched without
    TLS could be swapped by anyone on the path, and tokens forged with them accepted."""
    respx.get(CONFIG_URL).respond(json={"issuer": ISSUER, "jwks_uri": jwks_uri})
    jwks = respx.get(jwks_uri.lower()).respond(json={"keys": [_jwk("a")]})
    source = _source(http, FakeClock())
    with pytest.raises(KeysUnavailable):
        await source.get("a")
    assert isinstance(source.last_error, ConfigurationError) and jwks.call_count == 0


@respx.mock
async def test_plain_http_discovery_may_name_plain_http_keys(http: httpx.AsyncClient) -> None:
    # A local development issuer (the operator named an http:// discovery URL itself).
    respx.get("http://localhost/.well-known/openid-configuration").respond(
        json={"issuer": "http://localhost", "jwks_uri": "http://localhost/keys"}
    )
    respx.get("http://localhost/keys").respond(json={"keys": [_jwk("a")]})
    source = _source(
        http, FakeClock(), configuration_url="http://localhost/.well-known/openid-configuration"
    )
    assert (await source.get("a")).kid == "a"
