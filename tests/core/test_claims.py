from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cae_sdk import CP1, merge_claims
from cae_sdk.core import (
    acrs_claims,
    decode_claims,
    encode_claims,
    has_cp1,
    nbf_claims,
    parse_claims_request,
    requested_acrs,
    requested_nbf,
)
from cae_sdk.errors import ConfigurationError, InvalidClaimsError


def test_merge_keeps_every_server_member_and_unions_capabilities() -> None:
    challenge = {
        "access_token": {
            "nbf": {"essential": True, "value": "1604106651"},
            "xms_cc": {"values": ["CP1", "cp2"], "essential": False},
            "xms_caeerror": {"value": "10012"},
        }
    }
    merged = json.loads(merge_claims(CP1, challenge))
    access = merged["access_token"]
    assert access["nbf"] == {"essential": True, "value": "1604106651"}
    assert access["xms_caeerror"] == {"value": "10012"}
    assert access["xms_cc"]["values"] == ["cp1", "cp2"]
    assert access["xms_cc"]["essential"] is False


def test_merge_edge_cases() -> None:
    assert merge_claims() == "{}"
    assert merge_claims(None, "", CP1) == CP1
    assert json.loads(merge_claims('{"id_token":{"auth_time":null}}', CP1)) == {
        "id_token": {"auth_time": None},
        "access_token": {"xms_cc": {"values": ["cp1"]}},
    }
    with pytest.raises(InvalidClaimsError):
        merge_claims("{not json")


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        '{"foo":{}}',
        '{"access_token":[]}',
        '{"access_token":{"a":1}}',
        '{"access_token":{"a":{"essential":"yes"}}}',
        '{"access_token":{"a":{"values":"x"}}}',
        "x" * 20000,
    ],
)
def test_strict_parse_refuses(text: str) -> None:
    with pytest.raises(InvalidClaimsError):
        parse_claims_request(text)


def test_encode_decode_and_requested_values() -> None:
    nbf = nbf_claims(1700000000)
    assert decode_claims(encode_claims(nbf)) == nbf
    assert requested_nbf(nbf) == 1700000000
    assert requested_acrs(acrs_claims("c1")) == ("c1",)
    assert requested_acrs(acrs_claims("c1", "c2")) == ("c1", "c2")
    assert requested_nbf({"access_token": {"nbf": {"value": True}}}) is None
    assert requested_nbf({}) is None


@pytest.mark.parametrize("bad", ["", "ey", "a+b-", "abcde", "####", "bm90IGpzb24="])
def test_decode_refuses(bad: str) -> None:
    with pytest.raises(InvalidClaimsError):
        decode_claims(bad)


def test_has_cp1() -> None:
    assert has_cp1(["CP1"]) and has_cp1("cp1") and has_cp1(("x", "Cp1"))
    assert not has_cp1(["cp2"]) and not has_cp1(None) and not has_cp1(1)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(
    st.dictionaries(
        st.text(max_size=6),
        st.none() | st.dictionaries(st.sampled_from(["value", "x"]), _json, max_size=2),
        max_size=4,
    )
)
def test_merge_with_cp1_never_loses_a_member(access: dict) -> None:
    merged = json.loads(merge_claims({"access_token": access}, CP1))
    for name in access:
        assert name in merged["access_token"]
    assert has_cp1(merged["access_token"]["xms_cc"]["values"])


@pytest.mark.parametrize(
    ("issuer", "url"),
    [
        ("https://idp.example", "https://idp.example/.well-known/ssf-configuration"),
        ("https://idp.example/", "https://idp.example/.well-known/ssf-configuration"),
        (
            "https://idp.example:8443/ssf",
            "https://idp.example:8443/.well-known/ssf-configuration/ssf",
        ),
        ("https://h/a/b/", "https://h/.well-known/ssf-configuration/a/b"),
    ],
)
def test_ssf_configuration_url_inserts_well_known_before_the_path(issuer: str, url: str) -> None:
    from cae_sdk.core.secevents import ssf_configuration_url

    assert ssf_configuration_url(issuer) == url


def test_ssf_configuration_url_refuses_relative_issuers() -> None:
    from cae_sdk.core.secevents import ssf_configuration_url

    with pytest.raises(ValueError):
        ssf_configuration_url("/ssf")
    with pytest.raises(ConfigurationError):  # the SDK's typed configuration error
        ssf_configuration_url("idp.example/ssf")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:secret@api.test:8443/a/b?code=x#frag", "https://api.test:8443/a/b"),
        ("http://[::1]:9000/p?q=1", "http://[::1]:9000/p"),
        ("https://h/p", "https://h/p"),
        ("https://h:notaport/p", "https://h/p"),
    ],
)
def test_loggable_url_drops_userinfo_query_and_fragment(url: str, shown: str) -> None:
    from cae_sdk.core._urls import loggable_url

    assert loggable_url(url) == shown
    assert "secret" not in loggable_url(url) and "code" not in loggable_url(url)
