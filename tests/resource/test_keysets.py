"""Key set behaviour against a live local JWKS server: down, slow, garbage, unknown kid."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from cae_sdk.core.errors import ConfigurationError, TokenValidationError
from cae_sdk.resource import KeySetSource, TokenValidator
from cae_sdk.resource._keysets import parse_jwks

from .helpers import APP_ID, JWKSServer, SigningKeys, claims, sign


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_single_flight_and_max_age(idp: JWKSServer, keys: SigningKeys) -> None:
    clock = FakeClock()
    source = KeySetSource(
        openid_configuration_url=idp.discovery_url, max_age=60, cooldown=10, clock=clock
    )
    before = idp.hits
    found = await asyncio.gather(*(source.get(keys.rsa_kid, None) for _ in range(20)))
    assert len({id(k) for k in found}) == 1
    assert idp.hits == before + 1  # twenty callers, one fetch
    await source.get(keys.rsa_kid, None)
    assert idp.hits == before + 1  # fresh: no fetch
    clock.now += 61
    await source.get(keys.rsa_kid, None)  # stale: answered now, refreshed in background
    await asyncio.sleep(0.2)
    assert idp.hits == before + 2
    await source.aclose()


async def test_unknown_kid_refreshes_with_cooldown(idp: JWKSServer, keys: SigningKeys) -> None:
    clock = FakeClock()
    source = KeySetSource(jwks_uri=f"{idp.base_url}/keys", cooldown=30, clock=clock)
    await source.get(keys.rsa_kid, None)
    before = idp.hits
    for _ in range(5):
        with pytest.raises(TokenValidationError) as caught:
            await source.get("rotated-away", None)
        assert caught.value.reason == "unknown_key"
    clock.now += 5
    with pytest.raises(TokenValidationError):
        await source.get("still-unknown", None)
    assert idp.hits == before  # the first get was within the cooldown of the initial fetch
    clock.now += 31
    with pytest.raises(TokenValidationError):
        await source.get("new-kid", None)
    assert idp.hits == before + 1
    await source.aclose()


@pytest.mark.parametrize("mode", ["down", "garbage"])
async def test_failed_fetch_keeps_last_good_keys(
    idp: JWKSServer, keys: SigningKeys, mode: str
) -> None:
    clock = FakeClock()
    source = KeySetSource(jwks_uri=f"{idp.base_url}/keys", max_age=60, cooldown=1, clock=clock)
    good = await source.get(keys.rsa_kid, None)
    idp.mode = mode
    clock.now += 120
    assert await source.get(keys.rsa_kid, None) is good
    await asyncio.sleep(0.2)  # background refresh fails
    assert source.last_error is not None
    assert await source.get(keys.rsa_kid, None) is good
    await source.aclose()


async def test_slow_jwks_never_blocks_known_keys(idp: JWKSServer, keys: SigningKeys) -> None:
    clock = FakeClock()
    validator = TokenValidator(
        issuer=idp.issuer,
        audiences=[f"api://{APP_ID}"],
        jwks_uri=f"{idp.base_url}/keys",
        jwks_max_age=60,
        fetch_timeout=0.5,
    )
    validator.keys._clock = clock
    await validator.validate(sign(keys, claims(idp.issuer)))
    idp.mode = "slow"
    clock.now += 120
    loop = asyncio.get_running_loop()
    started = loop.time()
    await validator.validate(sign(keys, claims(idp.issuer, sub="other")))
    assert loop.time() - started < 0.3
    await validator.aclose()


async def test_no_keys_ever_is_keys_unavailable() -> None:
    with respx.mock:
        respx.get("https://idp.test/keys").mock(side_effect=httpx.ConnectError("refused"))
        source = KeySetSource(jwks_uri="https://idp.test/keys")
        with pytest.raises(TokenValidationError) as caught:
            await source.get("kid", None)
        assert caught.value.reason == "keys_unavailable"
        await source.aclose()


def test_a_key_set_without_any_source_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        KeySetSource()


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        {"keys": "x"},
        {"keys": []},
        {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]},
        {"keys": [{"kty": "RSA", "kid": "r", "n": "!!", "e": "AQAB"}]},
        {"keys": [{"kty": "RSA", "kid": "r", "use": "enc", "n": "AQAB", "e": "AQAB"}]},
    ],
)
def test_garbage_jwks_documents_are_refused(document: object) -> None:
    with pytest.raises(ValueError):
        parse_jwks(document)


async def test_key_rotation_is_picked_up_on_unknown_kid(idp: JWKSServer, keys: SigningKeys) -> None:
    validator = TokenValidator(
        issuer=idp.issuer,
        audiences=[f"api://{APP_ID}"],
        openid_configuration_url=idp.discovery_url,
        unknown_kid_cooldown=0,
    )
    assert await validator.validate(sign(keys, claims(idp.issuer)))
    rotated = SigningKeys()
    idp.keys = rotated
    try:
        assert await validator.validate(sign(rotated, claims(idp.issuer, sub="after")))
        with pytest.raises(TokenValidationError) as caught:
            await validator.validate(sign(keys, claims(idp.issuer, sub="old key")))
        assert caught.value.reason == "unknown_key"  # the retired key is gone after refresh
    finally:
        idp.keys = keys
    await validator.aclose()
