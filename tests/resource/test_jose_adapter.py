"""The resource's adapter of the shared verifier: header memo per validator, reason mapping."""

from __future__ import annotations

import pytest

from cae_sdk.core.errors import TokenValidationError
from cae_sdk.resource import TokenValidator
from cae_sdk.resource._jws import TokenParser

from .helpers import APP_ID, SigningKeys, claims, sign

ISSUER = "https://issuer.test/v2.0"


def _validator(keys: SigningKeys, algorithms: tuple[str, ...]) -> TokenValidator:
    return TokenValidator(
        issuer=ISSUER, audiences=[f"api://{APP_ID}"], jwks=keys.jwks(), algorithms=algorithms
    )


async def test_accepted_headers_are_memoised_per_validator(keys: SigningKeys) -> None:
    ps256 = sign(keys, claims(ISSUER), alg="PS256")
    permissive = _validator(keys, ("RS256", "PS256"))
    assert (await permissive.validate(ps256)).object_id
    strict = _validator(keys, ("RS256",))
    # The header accepted (and memoised) by the first validator is still refused here.
    with pytest.raises(TokenValidationError) as caught:
        await strict.validate(sign(keys, claims(ISSUER, sub="other"), alg="PS256"))
    assert caught.value.reason == "bad_algorithm"


def test_memo_is_bounded_and_refusals_are_not_memoised(keys: SigningKeys) -> None:
    parser = TokenParser(("RS256",))
    for n in range(300):
        parser.parse(sign(keys, claims(ISSUER), headers={"n": n}))
    assert len(parser._headers) <= 256
    crit = sign(keys, claims(ISSUER), headers={"crit": ["exp"]})
    for _ in range(2):
        with pytest.raises(TokenValidationError) as caught:
            parser.parse(crit)
        assert caught.value.reason == "malformed_token"
        assert str(caught.value).startswith("token ")
