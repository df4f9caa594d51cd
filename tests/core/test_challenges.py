from __future__ import annotations

import base64
import contextlib
import json
import re
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cae_sdk import find_claims_challenge, parse_www_authenticate
from cae_sdk.core import build_bearer_error, build_challenge, build_claims_challenge
from cae_sdk.errors import ChallengeParseError

# Public example headers, each with its source (Microsoft docs pages, SDK test data).
REFERENCE_HEADERS = Path(__file__).with_name("data") / "challenge_headers.txt"


def _reference_headers() -> list[str]:
    lines = REFERENCE_HEADERS.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_reference_examples_parse_as_documented() -> None:
    headers = _reference_headers()
    assert len(headers) == 4
    found = [find_claims_challenge(h) for h in headers]
    assert all(found), headers
    assert found[0].claims_dict == {"access_token": {"acrs": {"essential": True, "value": "cp1"}}}
    assert found[0].realm == ""
    assert found[1].claims_dict["access_token"]["nbf"]["value"] == "1604106651"
    assert found[2].authorization_uri == "https://login.microsoftonline.com/common/oauth2/authorize"
    assert found[2].params["client_id"] == "00000003-0000-0000-c000-000000000000"
    assert "TokenIssuedBeforeRevocationTimestamp" in (found[2].error_description or "")
    assert found[3].claims_dict == {"access_token": {}}


@pytest.mark.parametrize(
    "header",
    [
        'Bearer claims="not base64", error="insufficient_claims"',
        'Bearer error="insufficient_claims", authorization_uri="http://localhost", claims="ey"',
        'Bearer error="invalid_token", claims="eyJhY2Nlc3NfdG9rZW4iOnt9fQ=="',
        'Basic error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnt9fQ=="',
        'Bearer error="insufficient_claims"',
        'Bearer error="insufficient_claims", claims="WzFd"',  # a JSON array, not an object
        'Bearer error=insufficient_claims, claims="unterminated',
    ],
)
def test_negative_examples_do_not_trigger(header: str) -> None:
    assert find_claims_challenge(header) is None


def test_invalid_token_with_claims_only_when_opted_in() -> None:
    header = 'Bearer error="invalid_token", claims="eyJhY2Nlc3NfdG9rZW4iOnt9fQ=="'
    assert find_claims_challenge(header, accept_invalid_token=True) is not None


def test_pop_then_bearer_in_one_header() -> None:
    claims = base64.b64encode(b'{"access_token":{"nbf":{"essential":true,"value":"1"}}}')
    header = (
        f'PoP realm="", nonce="abc", Bearer error="insufficient_claims", claims="{claims.decode()}"'
    )
    challenge = find_claims_challenge(header)
    assert challenge is not None and challenge.claims_dict["access_token"]["nbf"]["value"] == "1"


def test_joined_headers_from_httpx() -> None:
    headers = httpx.Headers(
        [
            ("WWW-Authenticate", 'Basic realm="x"'),
            (
                "www-authenticate",
                build_claims_challenge({"access_token": {}}, authorization_uri="u"),
            ),
        ]
    )
    assert find_claims_challenge(headers) is not None
    assert find_claims_challenge({"WWW-Authenticate": 'Basic realm="x"'}) is None
    assert find_claims_challenge([build_claims_challenge("{}", authorization_uri="u")]) is not None


def test_raw_header_pairs_and_bytes_values() -> None:
    """ASGI messages and httpx.Headers.raw carry (name, value) byte pairs; a bytes value is one
    header line. Neither may hide a challenge (the client would then not answer it)."""
    challenge = build_claims_challenge({"access_token": {}}, authorization_uri="u")
    headers = httpx.Headers(
        [
            ("Content-Type", "text/plain"),
            ("WWW-Authenticate", 'Basic realm="x"'),
            ("www-authenticate", challenge),
        ]
    )
    assert find_claims_challenge(headers.raw) is not None
    assert find_claims_challenge([(b"www-authenticate", challenge.encode())]) is not None
    assert find_claims_challenge([(b"x-www-authenticate", challenge.encode())]) is None
    assert find_claims_challenge(challenge.encode()) is not None


def test_url_safe_unpadded_claims_and_case_insensitivity() -> None:
    raw = json.dumps({"access_token": {"xms_cc": {"values": ["cp1"]}}, "x": "~~~>>>"}).encode()
    claims = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert "-" in claims or "_" in claims
    header = f'BEARER ERROR="Insufficient_Claims", CLAIMS={claims}'
    challenge = find_claims_challenge(header)
    assert challenge is not None and challenge.claims_dict["x"] == "~~~>>>"


def test_parser_grammar_details() -> None:
    parsed = parse_www_authenticate(
        ' , Negotiate abc+/==, Basic, Bearer realm = "a \\"q\\" b" ,, scope=x, y="z", Digest'
    )
    assert [c.scheme for c in parsed] == ["Negotiate", "Basic", "Bearer", "Digest"]
    assert parsed[0].token68 == "abc+/=="
    assert parsed[2].params == {"realm": 'a "q" b', "scope": "x", "y": "z"}


def test_duplicate_param_keeps_first() -> None:
    (challenge,) = parse_www_authenticate('Bearer error="a", error="b"')
    assert challenge.params["error"] == "a"


@pytest.mark.parametrize("bad", ['="x"', 'Bearer realm="x', "Bearer a b c", '"quoted"', "Bear@r x"])
def test_malformed_values_raise_typed_error(bad: str) -> None:
    with pytest.raises(ChallengeParseError):
        parse_www_authenticate(bad)
    assert issubclass(ChallengeParseError, ValueError)


@given(st.text(max_size=300))
@settings(max_examples=500, deadline=None)
def test_any_text_either_parses_or_raises_the_documented_error(text: str) -> None:
    with contextlib.suppress(ChallengeParseError):
        parse_www_authenticate(text)
    find_claims_challenge(text)  # never raises


_token = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!#$",
    min_size=1,
    max_size=12,
)


@given(
    st.lists(
        st.tuples(_token, st.dictionaries(_token, st.text(max_size=40), max_size=5)),
        min_size=1,
        max_size=4,
    )
)
@settings(max_examples=300, deadline=None)
def test_build_then_parse_round_trip(challenges: list[tuple[str, dict[str, str]]]) -> None:
    header = ", ".join(build_challenge(s, p) for s, p in challenges)
    parsed = parse_www_authenticate(header)
    assert [c.scheme for c in parsed] == [s for s, _ in challenges]
    for (_, params), got in zip(challenges, parsed, strict=True):
        expected: dict[str, str] = {}
        for name, value in params.items():
            clean = "".join(ch for ch in value if ch >= " " and ch != "\x7f")
            expected.setdefault(name.lower(), clean)
        assert dict(got.params) == expected


def test_parser_is_linear_on_adversarial_input() -> None:
    import time

    for text in ["Bearer " + "a=b, " * 10000, "Bearer " + '"' * 30000, "x=" * 20000, "a " * 30000]:
        start = time.perf_counter()
        with contextlib.suppress(ChallengeParseError):
            parse_www_authenticate(text)
        assert time.perf_counter() - start < 1.0


def test_builders_escape_and_refuse_injection() -> None:
    header = build_bearer_error("invalid_token", description='bad "token"\r\nX-Evil: 1')
    assert "\r" not in header and "\n" not in header
    (challenge,) = parse_www_authenticate(header)
    assert challenge.params["error_description"] == 'bad "token"X-Evil: 1'
    with pytest.raises(ValueError):
        build_challenge("Bearer", {"bad name": "x"})
    assert re.match(
        r"^Bearer realm=\"\", authorization_uri=",
        build_claims_challenge("{}", authorization_uri="u"),
    )
