"""The shared compact JWS / JWKS verifier: strict parsing, each algorithm, key fit, JWKS
parsing, and arbitrary input that is either parsed or refused with a JOSEError."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from cae_sdk.core import _jws, jose
from cae_sdk.core.errors import CAEError, JOSEError

from ..resource.helpers import other_spellings

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
MAX = 16 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwk(private: Any, kid: str, **extra: Any) -> dict[str, Any]:
    public = private.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        numbers = public.public_numbers()
        member = {
            "kty": "RSA",
            "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": _b64(numbers.e.to_bytes(3, "big")),
        }
    else:
        size = (public.curve.key_size + 7) // 8
        numbers = public.public_numbers()
        member = {
            "kty": "EC",
            "crv": {"secp256r1": "P-256", "secp384r1": "P-384"}[public.curve.name],
            "x": _b64(numbers.x.to_bytes(size, "big")),
            "y": _b64(numbers.y.to_bytes(size, "big")),
        }
    return {**member, "kid": kid, **extra}


KEYS = jose.parse_jwks({"keys": [_jwk(RSA_KEY, "rsa", x5t="rsa-thumb"), _jwk(EC_KEY, "ec")]})


def _sign(alg: str, kid: str = "rsa", payload: dict[str, Any] | None = None) -> str:
    private = EC_KEY if alg == "ES256" else RSA_KEY
    return jwt.encode(payload or {"sub": "x"}, private, alg, headers={"kid": kid})


def _verify(token: str) -> dict[str, Any]:
    compact = jose.parse_compact(token, max_bytes=MAX)
    key = KEYS.find(compact.kid, compact.x5t)
    if key is None:
        raise AssertionError("key not found")
    jose.verify_signature(compact.alg, compact.signing_input, compact.signature(), key)
    return compact.payload()


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_each_supported_algorithm_verifies(alg: str) -> None:
    kid = "ec" if alg == "ES256" else "rsa"
    assert _verify(_sign(alg, kid, {"sub": alg})) == {"sub": alg}


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_tampered_payload_is_bad_signature(alg: str) -> None:
    kid = "ec" if alg == "ES256" else "rsa"
    head, _, sig = _sign(alg, kid).split(".")
    forged = f"{head}.{_b64(json.dumps({'sub': 'admin'}).encode())}.{sig}"
    with pytest.raises(JOSEError) as caught:
        _verify(forged)
    assert caught.value.reason == "bad_signature"


def test_base64url_is_strict() -> None:
    assert jose.b64url_decode(b"") == b""
    assert jose.b64url_decode(b"aGk") == b"hi"
    assert jose.b64url_decode(b"-_8") == bytes([0xFB, 0xFF])
    for bad in (b"aGk=", b"a+b/", b"a", b"aGk!", b"aG k", b"aGk\n", b"\xff\xfe"):
        with pytest.raises(JOSEError) as caught:
            jose.b64url_decode(bad)
        assert caught.value.reason == "malformed"


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_a_signature_has_one_spelling(alg: str) -> None:
    """RFC 4648 section 3.5: the bits past the data are zero. Read leniently, 16 strings
    carried one signature: 16 tokens that verify, 16 validated-token cache entries."""
    kid = "ec" if alg == "ES256" else "rsa"
    token = _sign(alg, kid)
    head, _, signature = token.rpartition(".")
    assert _verify(token) == {"sub": "x"}
    spellings = other_spellings(signature)
    assert len(spellings) == 15
    for other in spellings:
        with pytest.raises(JOSEError) as caught:
            _verify(f"{head}.{other}")
        assert caught.value.reason == "malformed"
    assert jose.decode_signature(b"AA") == b"\x00"
    assert jose.decode_signature(b"AAE") == b"\x00\x01"
    for bad in (b"AB", b"AAB", b"_-"):
        with pytest.raises(JOSEError):
            jose.decode_signature(bad)


def _raw(header: Any, payload: Any = None, signature: bytes = b"sig") -> str:
    return ".".join(
        [
            _b64(json.dumps(header).encode()),
            _b64(json.dumps(payload if payload is not None else {"sub": "x"}).encode()),
            _b64(signature),
        ]
    )


BAD_COMPACT = [
    ("empty", "", "malformed"),
    ("empty segments", "..", "malformed"),
    ("two parts", "abc.def", "malformed"),
    ("four parts", _raw({"alg": "RS256"}) + ".x", "malformed"),
    ("non ascii", "é" + _raw({"alg": "RS256"}), "malformed"),
    ("oversized", "a" * (MAX + 1), "malformed"),
    ("padded header", _b64(b'{"alg":"RS256"}') + "=.e30.c2ln", "malformed"),
    ("header not json", _b64(b"nope") + ".e30.c2ln", "malformed"),
    ("header is a list", _b64(b"[1]") + ".e30.c2ln", "malformed"),
    ("header not utf-8", _b64(b"\xff\xfe") + ".e30.c2ln", "malformed"),
    ("alg none", _raw({"alg": "none"}), "bad_algorithm"),
    ("alg None", _raw({"alg": "None"}), "bad_algorithm"),
    ("alg HS256", _raw({"alg": "HS256"}), "bad_algorithm"),
    ("alg RS512", _raw({"alg": "RS512"}), "bad_algorithm"),
    ("alg missing", _raw({"kid": "rsa"}), "bad_algorithm"),
    ("alg not a string", _raw({"alg": ["RS256"]}), "bad_algorithm"),
    ("crit header", _raw({"alg": "RS256", "crit": ["exp"]}), "unsupported_header"),
]


@pytest.mark.parametrize(("name", "token", "reason"), BAD_COMPACT, ids=[b[0] for b in BAD_COMPACT])
def test_bad_compact_serialisations_are_refused(name: str, token: str, reason: str) -> None:
    with pytest.raises(JOSEError) as caught:
        jose.parse_compact(token, max_bytes=MAX)
    assert caught.value.reason == reason, name
    assert isinstance(caught.value, CAEError) and isinstance(caught.value, ValueError)


def test_algorithms_narrow_the_supported_set() -> None:
    token = _sign("PS256")
    with pytest.raises(JOSEError) as caught:
        jose.parse_compact(token, max_bytes=MAX, algorithms={"RS256"})
    assert caught.value.reason == "bad_algorithm"
    with pytest.raises(JOSEError):  # never widened beyond the supported set
        jose.parse_compact(_raw({"alg": "HS256"}), max_bytes=MAX, algorithms={"HS256"})


def test_payload_and_signature_are_decoded_on_demand() -> None:
    head, _, _ = _sign("RS256").split(".")
    compact = jose.parse_compact(f"{head}.!!.==", max_bytes=MAX)
    with pytest.raises(JOSEError, match="payload"):
        compact.payload()
    with pytest.raises(JOSEError, match="signature"):
        compact.signature()
    array = jose.parse_compact(f"{head}.{_b64(b'[1]')}.", max_bytes=MAX)
    with pytest.raises(JOSEError, match="JSON object"):
        array.payload()


def test_key_fit_refusals() -> None:
    small = jose.jwk_for_key(
        rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    )
    p384 = jose.jwk_for_key(ec.generate_private_key(ec.SECP384R1()).public_key())
    rsa_key = KEYS.by_kid["rsa"]
    ec_key = KEYS.by_kid["ec"]
    assert small.algorithms == frozenset() and p384.algorithms == frozenset()
    assert rsa_key.algorithms == {"RS256", "PS256"} and ec_key.algorithms == {"ES256"}
    for alg, key in (
        ("RS256", small),
        ("PS256", small),
        ("RS256", ec_key),
        ("ES256", rsa_key),
        ("ES256", p384),
    ):
        with pytest.raises(JOSEError) as caught:
            jose.verify_signature(alg, b"a.b", b"\x00" * 64, key)
        assert caught.value.reason == "bad_key", (alg, key)
    with pytest.raises(JOSEError) as caught:
        jose.verify_signature("HS256", b"a.b", b"\x00" * 32, rsa_key)
    assert caught.value.reason == "bad_algorithm"


@pytest.mark.parametrize("length", [0, 63, 65, 72])
def test_es256_signature_must_be_r_concat_s(length: int) -> None:
    with pytest.raises(JOSEError) as caught:
        jose.verify_signature("ES256", b"a.b", b"\x01" * length, KEYS.by_kid["ec"])
    assert caught.value.reason == "bad_signature"


def test_jwks_lookup_by_kid_and_x5t() -> None:
    assert KEYS.find("rsa", None) is KEYS.by_kid["rsa"]
    assert KEYS.find(None, "rsa-thumb") is KEYS.by_kid["rsa"]
    assert KEYS.find("rsa", "unrelated") is KEYS.by_kid["rsa"]  # kid wins over x5t
    assert KEYS.find("nope", "rsa-thumb") is None
    assert KEYS.find(None, None) is None
    assert KEYS
    with pytest.raises(JOSEError) as caught:
        jose.parse_jwks({"keys": []})  # no usable key: refused, so a caller keeps its last set
    assert caught.value.reason == "malformed"


def test_jwks_skips_unusable_entries() -> None:
    keys = jose.parse_jwks(
        {
            "keys": [
                "not an object",
                {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
                {"kty": "RSA", "kid": "missing-n", "e": "AQAB"},
                {"kty": "RSA", "kid": "bad-n", "n": "!!", "e": "AQAB"},
                {"kty": "RSA", "kid": "int-n", "n": 5, "e": "AQAB"},
                {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AQAB", "y": "AQAB"},
                {"kty": "EC", "kid": "off-curve", "crv": "P-256", "x": "AQAB", "y": "AQAB"},
                _jwk(RSA_KEY, "enc", use="enc"),
                _jwk(EC_KEY, "good"),
            ]
        }
    )
    assert list(keys.by_kid) == ["good"]
    for document in (None, [], {"keys": "x"}, {"nokeys": []}, "keys"):
        with pytest.raises(JOSEError) as caught:
            jose.parse_jwks(document)
        assert caught.value.reason == "malformed"


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=300)
    | st.from_regex(r"[A-Za-z0-9_\-]{0,60}\.[A-Za-z0-9_\-]{0,60}\.[A-Za-z0-9_\-]{0,60}")
    | st.binary(max_size=300).map(lambda raw: raw.decode("latin-1"))
)
def test_any_text_is_parsed_or_refused_with_jose_error(text: str) -> None:
    try:
        compact = jose.parse_compact(text, max_bytes=MAX)
        compact.payload()
        compact.signature()
    except JOSEError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_refuse(raw: bytes) -> None:
    with contextlib.suppress(JOSEError):
        assert isinstance(jose.b64url_decode(raw), bytes)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    _JSON
    | st.fixed_dictionaries(
        {
            "keys": st.lists(
                st.fixed_dictionaries(
                    {
                        "kty": st.sampled_from(["RSA", "EC", "oct", 1]),
                        "crv": st.sampled_from(["P-256", "P-384"]),
                        "kid": st.text(max_size=5) | st.integers(),
                        "n": st.text(max_size=12) | st.integers(),
                        "e": st.sampled_from(["AQAB", "", "=", 3]),
                        "x": st.text(max_size=12),
                        "y": st.text(max_size=12),
                    }
                ),
                max_size=4,
            )
        }
    )
)
def test_any_jwks_document_is_parsed_or_refused(document: Any) -> None:
    try:
        keys = jose.parse_jwks(document)
    except JOSEError:
        return
    assert isinstance(keys, jose.JWKSet)


def test_jwk_alg_use_and_key_ops_are_honoured() -> None:
    # RFC 8725 section 3.1: a JWK naming its alg verifies that one algorithm only.
    keys = jose.parse_jwks({"keys": [_jwk(RSA_KEY, "rs", alg="RS256"), _jwk(EC_KEY, "ec")]})
    assert keys["rs"].algorithms == frozenset({"RS256"})
    signing_input, signature = _sign("PS256", "rs").rsplit(".", 1)
    with pytest.raises(JOSEError) as caught:
        jose.verify_signature(
            "PS256", signing_input.encode(), jose.b64url_decode(signature.encode()), keys["rs"]
        )
    assert caught.value.reason == "bad_key" and "RS256" in caught.value.description
    # RFC 7517 sections 4.2 and 4.3: keys not meant for verifying signatures are skipped.
    for extra in ({"use": "enc"}, {"key_ops": ["encrypt"]}, {"key_ops": "verify"}, {"alg": 5}):
        only = jose.parse_jwks({"keys": [_jwk(RSA_KEY, "rs", **extra), _jwk(EC_KEY, "ec")]})
        assert list(only) == ["ec"], extra
    both = jose.parse_jwks({"keys": [_jwk(RSA_KEY, "rs", key_ops=["verify", "sign"])]})
    assert both["rs"].algorithms == frozenset({"RS256", "PS256"})


def test_rfc7638_thumbprint_and_key_identity() -> None:
    # RFC 7638 section 3.1 example key and thumbprint.
    example = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
            "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0"
            "_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bF"
            "TWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    keys = jose.parse_jwks({"keys": [example]})
    assert keys["2011-04-29"].thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    # The same key material under another kid has the same identity.
    again = jose.parse_jwks({"keys": [{**example, "kid": "renamed"}, _jwk(EC_KEY, "ec")]})
    assert again["renamed"].thumbprint in keys.thumbprints
    assert again["ec"].thumbprint not in keys.thumbprints


def test_first_entry_wins_a_duplicate_kid_and_keys_without_ids_count() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    keys = jose.parse_jwks({"keys": [_jwk(EC_KEY, "dup"), _jwk(other, "dup")]})
    assert keys["dup"].thumbprint == jose.jwk_thumbprint(EC_KEY.public_key())
    anonymous = {k: v for k, v in _jwk(EC_KEY, "x").items() if k != "kid"}
    lone = jose.parse_jwks({"keys": [anonymous]})
    assert lone and len(lone) == 0 and lone.only_key() is not None


def _outcome(loads: Any, text: str) -> tuple[str, Any]:
    try:
        return "value", loads(text)
    except RecursionError:
        return "recursion", None
    except ValueError as exc:
        return type(exc).__name__, str(exc)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=40),
        _JSON.map(json.dumps),
        st.tuples(
            st.sampled_from(["", " ", "\n", "\ufeff", "\t "]),
            _JSON.map(json.dumps),
            st.sampled_from(["", " ", "x", "}", "\r\n", " 1", "\x00"]),
        ).map("".join),
    )
)
def test_segment_json_reads_exactly_as_json_loads(text: str) -> None:
    # The JOSE segments are read with the stdlib scanner directly (a fast path): every value
    # and every refusal, message included, must be json.loads's own.
    assert repr(_outcome(_jws._json_loads, text)) == repr(_outcome(json.loads, text))
