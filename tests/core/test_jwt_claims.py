"""The one JWT claims checker (``cae_sdk.core._jwt``) and its three users agree.

Property-based: whatever JSON value a NumericDate, ``aud`` or ``iss`` claim holds, the bearer
token validator, :class:`TokenClaims` and the SET rules read it by the same rule: a typed
refusal (or None), never an exception of another kind.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cae_sdk.core import _jwt
from cae_sdk.core import jose as core_jose
from cae_sdk.core.errors import EventValidationError, JOSEError
from cae_sdk.core.tokens import TokenClaims
from cae_sdk.events.ssf import SetValidationConfig, validate_set_claims
from cae_sdk.events.ssf import parse_jwks as ssf_parse_jwks
from cae_sdk.resource import parse_jwks as resource_parse_jwks

NOW = 1_800_000_000
ISSUER = "https://issuer.test"
AUD = "https://api.test"
SET_CONFIG = SetValidationConfig(issuer=ISSUER, audiences=(AUD,))

_NUMBERS = (
    st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([10**400, 2**53, 2**53 - 1, 0, -0.0, 0.5, True, False])
)
_VALUES = _NUMBERS | st.none() | st.text(max_size=8) | st.lists(st.integers(), max_size=2)


def _is_date(value: Any) -> bool:
    if type(value) is int:
        return 0 <= value <= 2**53 - 1
    return type(value) is float and math.isfinite(value) and 0 <= value <= 2**53 - 1


@settings(max_examples=400, deadline=None)
@given(_VALUES)
def test_one_numeric_date_rule_everywhere(value: Any) -> None:
    is_date = _is_date(value)
    # The reader itself.
    assert (_jwt.numeric_date_or_none(value) is not None) is is_date
    # TokenClaims accessors: whole seconds or None, never a crash.
    seconds = TokenClaims({"iat": value}).issued_at
    assert (seconds is not None) is is_date
    if is_date:
        assert seconds == math.floor(value)
    # The access-token checker: a typed refusal for anything present that is not a date.
    rules = _jwt.ClaimsRules(_jwt.IssuerRule.of([ISSUER]), frozenset({AUD}), required=())
    try:
        _jwt.check_claims({"iss": ISSUER, "aud": AUD, "iat": value}, rules, 10**16)
    except JOSEError as error:
        assert error.reason == _jwt.MALFORMED_CLAIM
        assert not is_date and value is not None
    else:
        assert is_date or value is None
    # The SET rules: the same values are refused, with RFC 8935's invalid_request.
    claims = {
        "iss": ISSUER,
        "aud": AUD,
        "iat": value,
        "jti": "j",
        "sub_id": {"format": "opaque", "id": "x"},
        "events": {"https://example.com/e": {}},
    }
    try:
        event = validate_set_claims(claims, SET_CONFIG, now=NOW)
    except EventValidationError as error:
        assert error.err == "invalid_request"
        # A date may still be refused by the receiver's age policy (too old, from the future).
        assert not is_date or "NumericDate" not in error.description
        assert is_date or "NumericDate" in error.description
    else:
        assert is_date and event.issued_at == math.floor(value)


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=6)
    | st.lists(st.text(max_size=6) | st.integers(), max_size=3)
    | st.integers()
    | st.none()
    | st.just(AUD)
    | st.just([AUD, 1])
    | st.just([])
)
def test_one_audience_rule_for_tokens_and_sets(aud: Any) -> None:
    accepted = aud == AUD or (
        type(aud) is list and bool(aud) and all(type(a) is str for a in aud) and AUD in aud
    )
    try:
        _jwt.check_audience(aud, {AUD})
        token_ok = True
    except JOSEError as error:
        assert error.reason == _jwt.BAD_AUDIENCE
        token_ok = False
    claims = {"iss": ISSUER, "aud": aud, "iat": NOW, "jti": "j", "events": {"x": {}}}
    claims["sub_id"] = {"format": "opaque", "id": "x"}
    try:
        validate_set_claims(claims, SET_CONFIG, now=NOW)
        set_ok = True
    except EventValidationError as error:
        assert error.err == "invalid_audience"
        set_ok = False
    assert token_ok is set_ok is accepted


@pytest.mark.parametrize(
    ("iss", "tid", "ok"),
    [
        ("https://login.test/t1/v2.0", "t1", True),
        ("https://login.test/T1/v2.0", "t1", False),
        ("https://LOGIN.test/t1/v2.0", "t1", False),
        ("https://login.test/t1/v2.0/", "t1", False),
        ("https://login.test/t2/v2.0", "t1", False),
        ("https://login.test/t1/v2.0", None, False),
        ("https://login.test/t1/v2.0", 1, False),
        ("https://fixed.test", None, True),
        ("https://fixed.test/", None, False),
        ("https://FIXED.test", None, False),
    ],
)
def test_issuers_compare_exactly(iss: str, tid: object, ok: bool) -> None:
    rule = _jwt.IssuerRule.of(["https://login.test/{tenantid}/v2.0", "https://fixed.test"])
    assert rule.matches(iss, tid) is ok
    claims = {"iss": iss, "tid": tid}
    if ok:
        assert _jwt.check_issuer(claims, rule) == iss
    else:
        with pytest.raises(JOSEError) as caught:
            _jwt.check_issuer(claims, rule)
        assert caught.value.reason == _jwt.BAD_ISSUER


def test_lifetime_rules() -> None:
    rules = _jwt.ClaimsRules(
        _jwt.IssuerRule.of([ISSUER]), frozenset({AUD}), required=(), max_lifetime=100
    )
    base = {"iss": ISSUER, "aud": AUD}
    assert _jwt.check_claims({**base, "iat": NOW, "exp": NOW + 100}, rules, NOW).expires_at == (
        NOW + 100
    )
    for claims in (
        {"iat": NOW, "exp": NOW + 100.5},
        {"nbf": NOW, "exp": NOW + 101},
        {"exp": NOW + 10},
        {"iat": NOW},
    ):
        with pytest.raises(JOSEError) as caught:
            _jwt.check_claims({**base, **claims}, rules, NOW)
        assert caught.value.reason == _jwt.LIFETIME_TOO_LONG


def test_one_jwks_parser() -> None:
    assert resource_parse_jwks is core_jose.parse_jwks
    assert ssf_parse_jwks is core_jose.parse_jwks
