"""Pure pieces behind the fault handling: bounded answer reading, Retry-After, demands, caps."""

from __future__ import annotations

import gzip
import json
import time
import zlib
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cae_sdk.client import _exchange
from cae_sdk.client._answer import MAX_RETRY_AFTER, read_body, retry_after_seconds
from cae_sdk.client._demand import demand_of, token_coverage
from cae_sdk.client._exchange import AnswerTimeout, AnswerUnreadable
from cae_sdk.errors import TokenAcquisitionError

from .faulty_servers import make_jwt

FAR = time.monotonic() + 3600


def _chunks(data: bytes, size: int, consumed: list[int]) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        consumed.append(start + size)
        yield data[start : start + size]


def test_body_over_the_cap_stops_reading() -> None:
    consumed: list[int] = []
    with pytest.raises(AnswerUnreadable) as caught:
        read_body(
            _chunks(b"x" * 1_000_000, 1000, consumed),
            content_encoding="",
            deadline=FAR,
            max_bytes=10_000,
        )
    assert caught.value.reason == "too_large"
    assert max(consumed) <= 11_000  # never read much past the cap


def test_compression_bomb_stops_at_the_cap() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 KB that would inflate to 50 MB
    consumed: list[int] = []
    with pytest.raises(AnswerUnreadable):
        read_body(
            _chunks(bomb, 4096, consumed), content_encoding="gzip", deadline=FAR, max_bytes=100_000
        )
    assert max(consumed) <= 8192


@pytest.mark.parametrize("coding", ["gzip", "deflate", "identity", ""])
def test_encoded_bodies_decode(coding: str) -> None:
    body = json.dumps({"access_token": "x" * 100}).encode()
    raw = {"gzip": gzip.compress, "deflate": zlib.compress}.get(coding, lambda b: b)(body)
    assert (
        read_body(iter([raw[:7], raw[7:]]), content_encoding=coding, deadline=FAR, max_bytes=10_000)
        == body
    )


@pytest.mark.parametrize(
    ("coding", "raw"),
    [("gzip", b"not gzip"), ("br", b"x"), ("gzip", gzip.compress(b"{}" * 100)[:20])],
)
def test_corrupt_cut_or_unknown_coding_is_unreadable(coding: str, raw: bytes) -> None:
    with pytest.raises(AnswerUnreadable) as caught:
        read_body(iter([raw]), content_encoding=coding, deadline=FAR, max_bytes=10_000)
    assert caught.value.reason == "undecodable"


def test_deadline_is_checked_between_chunks() -> None:
    with pytest.raises(AnswerTimeout):
        read_body(
            iter([b"a", b"b"]), content_encoding="", deadline=time.monotonic() - 1, max_bytes=10
        )


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2", 2.0),
        (" 120 ", 120.0),
        ("999999999", MAX_RETRY_AFTER),
        ("-1", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("", None),
        ("1.5", None),
    ],
)
def test_retry_after(value: str, seconds: float | None) -> None:
    assert retry_after_seconds({"retry-after": value}, now=time.time()) == seconds


def test_retry_after_http_date_in_the_future() -> None:
    now = 1_700_000_000.0
    header = "Tue, 14 Nov 2023 22:13:27 GMT"  # now + 7 s
    assert retry_after_seconds({"retry-after": header}, now=now) == pytest.approx(7.0)
    assert retry_after_seconds({}, now=now) is None


@given(st.text(max_size=80))
def test_retry_after_never_raises(value: str) -> None:
    seconds = retry_after_seconds({"retry-after": value}, now=time.time())
    assert seconds is None or 0 <= seconds <= MAX_RETRY_AFTER


def test_demand_splits_nbf_from_the_rest() -> None:
    one = demand_of(
        '{"access_token":{"nbf":{"essential":true,"value":"100"},"xms_caeerror":{"value":"1"}}}'
    )
    two = demand_of(
        '{"access_token":{"xms_caeerror":{"value":"1"},"nbf":{"value":"200","essential":true}}}'
    )
    assert one.shape == two.shape and (one.nbf, two.nbf) == (100, 200)
    assert json.loads(one.claims(300))["access_token"]["nbf"]["value"] == "300"
    assert one.claims(100) == one.text
    other = demand_of('{"access_token":{"acrs":{"essential":true,"value":"c1"}}}')
    assert other.nbf is None and other.shape != one.shape
    broken = demand_of("not json")
    assert broken.shape == "not json" and broken.claims(5) == "not json"


def test_token_coverage_is_the_tokens_own_iat_when_readable() -> None:
    assert token_coverage(make_jwt({"iat": 500}), 900) == 500  # the truth wins
    assert token_coverage("opaque", 900) == 900
    assert token_coverage(make_jwt({"iat": "500"}), None) is None


def test_error_text_is_capped() -> None:
    result = {
        "error": "e" * 5000,
        "error_description": "d" * 10_000_000,
        "error_codes": ["²", "9" * 5000, *range(100)],
        "correlation_id": "c" * 999,
    }
    exc = TokenAcquisitionError.from_msal_result(result)
    assert len(exc.error_description or "") < 1100 and len(exc.error or "") < 200
    assert exc.error_codes == tuple(range(14))  # the bad codes are dropped, at most 16 read
    assert len(exc.correlation_id or "") < 200
    assert len(str(exc)) < 2000


def test_interaction_suspends_the_acquisition_deadline() -> None:
    with _exchange.acquisition(5.0) as exchange:
        assert exchange.deadline is not None
        with _exchange.interaction():
            assert exchange.deadline is None
            assert _exchange.current() is exchange
        assert exchange.deadline is not None
    assert _exchange.current() is None
