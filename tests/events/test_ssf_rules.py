"""SET validation table: each malformed or hostile SET gets its RFC 8935 error code."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from _ssf_helpers import (
    AUDIENCE,
    EC_KEY,
    RSA_KEY,
    RSA_KEY_2,
    USER_OID,
    set_claims,
    sign,
    user_subject,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from cae_sdk.core.errors import ConfigurationError, EventValidationError
from cae_sdk.core.secevents import CAEP, RISC
from cae_sdk.events.ssf import SetValidationConfig, parse_jwks, verify_set

ISSUER = "https://transmitter.example"
NOW = 1_800_000_000
CONFIG = SetValidationConfig(issuer=ISSUER, audiences=(AUDIENCE,), max_age_seconds=3600)
KEYS = parse_jwks({"keys": [RSA_KEY.jwk(), EC_KEY.jwk()]})


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**kw: Any) -> dict[str, Any]:
    kw.setdefault("iat", NOW - 10)
    return set_claims(ISSUER, **kw)


def _refused(token: str) -> str:
    with pytest.raises(EventValidationError) as info:
        verify_set(token, KEYS, CONFIG, now=NOW)
    return info.value.err


def test_valid_rs256_and_es256_sets_are_accepted() -> None:
    for key in (RSA_KEY, EC_KEY):
        event = verify_set(sign(_claims(jti=f"j-{key.kid}"), key), KEYS, CONFIG, now=NOW)
        assert event.jti == f"j-{key.kid}"
        assert event.event_type == RISC.ACCOUNT_DISABLED
        assert event.subject == user_subject()


def test_ps256_is_accepted() -> None:
    token = sign(_claims(), RSA_KEY, alg="PS256")
    # RFC 8725 section 3.1: a JWK that names its alg verifies that algorithm only.
    assert _refused(token) == "invalid_key"
    unrestricted = {k: v for k, v in RSA_KEY.jwk().items() if k != "alg"}
    assert verify_set(token, parse_jwks({"keys": [unrestricted]}), CONFIG, now=NOW)


def _with_exp() -> dict[str, Any]:
    claims = _claims()
    claims["exp"] = NOW + 60
    return claims


def _no_events() -> dict[str, Any]:
    claims = _claims()
    claims["events"] = {}
    return claims


def _without(name: str) -> dict[str, Any]:
    claims = _claims()
    del claims[name]
    return claims


def _with_sub() -> dict[str, Any]:
    claims = _claims()
    claims["sub"] = USER_OID
    return claims


@pytest.mark.parametrize(
    ("case", "token", "err"),
    [
        ("expired iat", sign(_claims(iat=NOW - 3601)), "invalid_request"),
        ("future iat", sign(_claims(iat=NOW + 301)), "invalid_request"),
        ("foreign issuer", sign(set_claims("https://evil.example", iat=NOW)), "invalid_issuer"),
        ("foreign audience", sign(_claims(aud="https://other.example")), "invalid_audience"),
        ("audience list without us", sign(_claims(aud=["a", "b"])), "invalid_audience"),
        ("exp present", sign(_with_exp()), "invalid_request"),
        ("no event", sign(_no_events()), "invalid_request"),
        ("missing jti", sign(_without("jti")), "invalid_request"),
        ("missing iat", sign(_without("iat")), "invalid_request"),
        ("missing subject", sign(_without("sub_id")), "invalid_request"),
        ("top-level sub", sign(_with_sub()), "invalid_request"),
        ("wrong typ", sign(_claims(), typ="JWT"), "invalid_request"),
        ("unknown kid", sign(_claims(), RSA_KEY, kid="nope"), "invalid_key"),
        ("signed by another key", sign(_claims(), RSA_KEY_2, kid=RSA_KEY.kid), "invalid_key"),
        ("ES256 header on RSA key", sign(_claims(), EC_KEY, kid=RSA_KEY.kid), "invalid_key"),
        ("RS384 not allowed", sign(_claims(), RSA_KEY, alg="RS384"), "invalid_key"),
        (
            "HMAC signed",
            jwt.encode(_claims(), "k" * 32, "HS256", {"typ": "secevent+jwt", "kid": "rsa-1"}),
            "invalid_key",
        ),
        (
            "alg none",
            f"{_b64({'alg': 'none', 'typ': 'secevent+jwt'})}.{_b64(_claims())}.",
            "invalid_key",
        ),
        ("unsigned, empty signature", sign(_claims()).rsplit(".", 1)[0] + ".", "invalid_key"),
        ("not a JWS", "hello", "invalid_request"),
        ("oversized", sign(_claims(payload={"pad": "x" * 70_000})), "invalid_request"),
        (
            "payload not an object",
            f"{_b64({'alg': 'RS256', 'typ': 'secevent+jwt'})}.WzFd.",
            "invalid_key",
        ),
    ],
)
def test_refused_sets(case: str, token: str, err: str) -> None:
    assert _refused(token) == err, case


def test_legacy_subject_inside_event_is_accepted() -> None:
    claims = _claims(payload={"subject": {"format": "opaque", "id": USER_OID}})
    del claims["sub_id"]
    event = verify_set(sign(claims), KEYS, CONFIG, now=NOW)
    assert event.subject == {"format": "opaque", "id": USER_OID}


def test_iat_window_edges_are_inclusive() -> None:
    assert verify_set(sign(_claims(iat=NOW - 3600)), KEYS, CONFIG, now=NOW)
    assert verify_set(sign(_claims(iat=NOW + 300)), KEYS, CONFIG, now=NOW)


def test_config_refuses_unsafe_algorithms_and_empty_values() -> None:
    with pytest.raises(ConfigurationError):
        SetValidationConfig(issuer=ISSUER, audiences=(AUDIENCE,), algorithms=frozenset({"HS256"}))
    with pytest.raises(ConfigurationError):
        SetValidationConfig(issuer="", audiences=(AUDIENCE,))
    with pytest.raises(ConfigurationError):
        SetValidationConfig(issuer=ISSUER, audiences=())


def test_jwks_parsing_skips_unusable_keys() -> None:
    keys = parse_jwks(
        {
            "keys": [
                {"kty": "oct", "kid": "h", "k": "AAAA"},
                {"kty": "RSA", "kid": "bad"},
                RSA_KEY.jwk(),
            ]
        }
    )
    assert list(keys) == [RSA_KEY.kid]
    with pytest.raises(ConfigurationError):
        parse_jwks({"nokeys": []})


async def test_pinned_transmitter_keys_need_no_network() -> None:
    from cae_sdk.events.ssf import SetDecoder, TransmitterKeys

    keys = TransmitterKeys(ISSUER, jwks={"keys": [RSA_KEY.jwk()]})
    decoder = SetDecoder(SetValidationConfig(issuer=ISSUER, audiences=(AUDIENCE,)), keys)
    assert (await decoder.decode(sign(set_claims(ISSUER)))).issuer == ISSUER
    with pytest.raises(EventValidationError) as info:
        await decoder.decode(sign(set_claims(ISSUER), RSA_KEY_2))
    assert info.value.err == "invalid_key"
    with pytest.raises(ConfigurationError):
        TransmitterKeys(ISSUER)


def test_segments_must_be_strict_base64url() -> None:
    token = sign(_claims())
    header, payload, signature = token.split(".")
    assert _refused(f"{header}.{payload}!.{signature}") == "invalid_key"  # tampered
    assert _refused(f"{header}.{payload}.{signature}==") == "invalid_request"
    assert _refused(f"{header}.{payload}") == "invalid_request"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # signing the probe
def test_weak_or_mismatched_keys_are_not_usable() -> None:
    from _ssf_helpers import SigningKey
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    small = SigningKey(
        "small", rsa.generate_private_key(public_exponent=65537, key_size=1024), "RS256"
    )
    p384 = SigningKey("p384", ec.generate_private_key(ec.SECP384R1()), "ES384")
    keys = parse_jwks({"keys": [small.jwk(), p384.jwk(), RSA_KEY.jwk()]})
    assert list(keys) == [RSA_KEY.kid]
    assert keys[RSA_KEY.kid].algorithms == frozenset({"RS256"})  # the JWK's own alg
    for key, alg in ((small, "RS256"), (p384, "ES384")):
        token = jwt.encode(
            _claims(), key.private, alg, headers={"typ": "secevent+jwt", "kid": key.kid}
        )
        assert _refused(token) == "invalid_key"


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan"), 2**70])
def test_non_finite_or_huge_times_are_refused_or_ignored(bad: float) -> None:
    # JSON parsers accept Infinity, NaN and 1e400: a signed SET carrying them is a typed
    # refusal (iat) or an absent event_timestamp, never an OverflowError or a 500.
    assert _refused(sign(_claims(iat=bad))) == "invalid_request"
    claims = _claims(event_type=CAEP.SESSION_REVOKED, payload={"event_timestamp": bad})
    event = verify_set(sign(claims), KEYS, CONFIG, now=NOW)
    assert event.event_timestamp is None


def test_alternative_event_uris_are_accepted() -> None:
    # SSF 1.0 section 4.2.1: several URIs are allowed for the exact same event.
    claims = _claims(event_type=RISC.SESSIONS_REVOKED)
    claims["events"][CAEP.SESSION_REVOKED] = {"event_timestamp": NOW - 20}
    event = verify_set(sign(claims), KEYS, CONFIG, now=NOW)
    assert set(event.all_events()) == {RISC.SESSIONS_REVOKED, CAEP.SESSION_REVOKED}


def test_no_age_limit_by_default_but_future_is_refused() -> None:
    # A SET queued through a 25-hour outage is still a fact (RFC 8417 section 2.2).
    config = SetValidationConfig(issuer=ISSUER, audiences=(AUDIENCE,))
    old = verify_set(sign(_claims(iat=NOW - 25 * 3600)), KEYS, config, now=NOW)
    assert old.issued_at == NOW - 25 * 3600
    with pytest.raises(EventValidationError):
        verify_set(sign(_claims(iat=NOW + 301)), KEYS, config, now=NOW)
    assert config.replay_window_seconds >= 28 * 3600


def _signed_with_header(header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A SET under exactly ``header`` (any members), RS256-signed with RSA_KEY."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signing_input = f"{_b64(header)}.{_b64(claims)}".encode()
    signature = RSA_KEY.private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _decoder_outcome(decoder: Any, token: str) -> tuple[str, str]:
    import asyncio

    try:
        return "accepted", asyncio.run(decoder.decode(token)).jti
    except EventValidationError as exc:
        return exc.err, exc.description


def _verify_outcome(token: str, config: SetValidationConfig) -> tuple[str, str]:
    try:
        return "accepted", verify_set(token, KEYS, config, now=NOW).jti
    except EventValidationError as exc:
        return exc.err, exc.description


def _header(alg: Any, typ: Any, kid: Any, crit: Any) -> dict[str, Any]:
    members = {"alg": alg, "typ": typ, "kid": kid, "crit": crit}
    return {name: value for name, value in members.items() if value is not None}


# Mostly the members a transmitter really sends, so accepted and refused headers mix.
_HEADERS = st.builds(
    _header,
    alg=st.sampled_from(["RS256", "RS256", "RS256", "PS256", "HS256", "none", 7, None]),
    typ=st.sampled_from(["secevent+jwt", "secevent+jwt", "application/secevent+jwt", "JWT", None]),
    kid=st.sampled_from([RSA_KEY.kid, RSA_KEY.kid, EC_KEY.kid, "unpublished", None]),
    crit=st.sampled_from([None, None, None, ["exp"]]),
)


@settings(max_examples=100, deadline=None)
@given(headers=st.lists(_HEADERS, min_size=1, max_size=6), repeat=st.integers(1, 3))
def test_decoder_answers_every_header_as_the_uncached_rules_do(
    headers: list[dict[str, Any]], repeat: int
) -> None:
    # SetDecoder decodes and checks each distinct header once (a transmitter reuses a few);
    # over any sequence of headers, seen before or not, it must answer exactly as verify_set.
    from cae_sdk.events.ssf import SetDecoder, TransmitterKeys

    keys = TransmitterKeys(ISSUER, jwks={"keys": [RSA_KEY.jwk(), EC_KEY.jwk()]})
    decoder = SetDecoder(CONFIG, keys, clock=lambda: NOW)
    for _ in range(repeat):
        for index, header in enumerate(headers):
            token = _signed_with_header(header, _claims(jti=f"j{index}"))
            assert _decoder_outcome(decoder, token) == _verify_outcome(token, CONFIG)


def test_decoder_checks_headers_against_its_current_configuration() -> None:
    from dataclasses import replace

    from cae_sdk.events.ssf import SetDecoder, TransmitterKeys

    keys = TransmitterKeys(ISSUER, jwks={"keys": [RSA_KEY.jwk()]})
    decoder = SetDecoder(CONFIG, keys, clock=lambda: NOW)
    token = sign(_claims())
    assert _decoder_outcome(decoder, token)[0] == "accepted"
    # An operator narrows the accepted algorithms: the header accepted before is refused now.
    decoder.config = replace(CONFIG, algorithms=frozenset({"ES256"}))
    assert _decoder_outcome(decoder, token)[0] == "invalid_key"
