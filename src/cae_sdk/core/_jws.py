"""Compact JWS parsing (RFC 7515 section 7.1): strict base64url, JSON header and payload, the
header's ``alg`` and ``crit`` checked. The rules are :mod:`cae_sdk.core.jose`'s; nothing here
touches a key.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import JOSEError

__all__ = [
    "BAD_ALGORITHM",
    "BAD_KEY",
    "BAD_SIGNATURE",
    "MALFORMED",
    "SUPPORTED_ALGORITHMS",
    "UNSUPPORTED_HEADER",
    "CompactJWS",
    "JOSEHeaderView",
    "b64url_decode",
    "check_header",
    "decode_compact",
    "decode_json_object",
    "decode_signature",
    "parse_compact",
    "split_compact",
]

MALFORMED = "malformed"
"""The :class:`~cae_sdk.errors.JOSEError` reason for input that is not a well-formed compact
JWS or JWKS."""
BAD_ALGORITHM = "bad_algorithm"
UNSUPPORTED_HEADER = "unsupported_header"
BAD_KEY = "bad_key"
BAD_SIGNATURE = "bad_signature"

SUPPORTED_ALGORITHMS = frozenset({"RS256", "PS256", "ES256"})
"""The signature algorithms the verifier accepts: RS256, PS256 and ES256 (RFC 7518 section 3)."""

_B64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_URL_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def b64url_decode(segment: bytes) -> bytes:
    """Strict base64url without padding (RFC 7515 section 2): any other byte is refused (the
    stdlib decoder would silently skip it)."""
    if segment.translate(None, _B64URL) or len(segment) % 4 == 1:
        raise JOSEError(MALFORMED, "is not base64url")
    return binascii.a2b_base64(segment.translate(_URL_TO_STANDARD) + b"=" * (-len(segment) % 4))


# The stdlib's own C scanner, called without ``json.loads``'s per-call wrapper (its whitespace
# regex runs twice per call: a tenth of a SET's JSON time). Text the scanner does not take whole
# (surrounding whitespace, trailing data, a BOM, any error) goes through ``json.loads`` itself,
# so every result and every refusal is exactly ``json.loads``'s. Stateless between calls, as
# ``json``'s own default decoder is.
_Scanner = Callable[[str, int], tuple[Any, int]]
_SCAN_JSON: _Scanner = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _json_loads(text: str) -> Any:
    try:
        value, end = _SCAN_JSON(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def decode_json_object(segment: bytes, what: str) -> dict[str, Any]:
    """A base64url segment holding a JSON object (``what`` names it in the error)."""
    try:
        value = _json_loads(b64url_decode(segment).decode("utf-8"))
    except (JOSEError, ValueError, RecursionError):
        raise JOSEError(MALFORMED, f"{what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise JOSEError(MALFORMED, f"{what} is not a JSON object")
    return value


# len(segment) % 4 -> the bits of the last character past the data, zero in the one canonical
# spelling (RFC 4648 section 3.5); the stdlib decoder ignores them.
_SPARE_BITS = {2: 0b1111, 3: 0b11}


def decode_signature(segment: bytes) -> bytes:
    """The signature segment, strict base64url in its one canonical spelling: the signing input
    is the other two segments as written, so only this one could be spelt differently (up to 16
    ways) and still verify - one token, many strings, each its own validated-token cache entry.
    """
    try:
        signature = b64url_decode(segment)
    except JOSEError:
        raise JOSEError(MALFORMED, "signature is not base64url") from None
    spare = _SPARE_BITS.get(len(segment) % 4)
    if spare is not None and _B64URL.index(segment[-1]) & spare:
        raise JOSEError(MALFORMED, "signature is not canonical base64url")
    return signature


def split_compact(token: str, *, max_bytes: int) -> tuple[bytes, bytes, bytes]:
    """The three raw segments of a compact JWS (RFC 7515 section 7.1); decodes nothing."""
    if len(token) > max_bytes:
        raise JOSEError(MALFORMED, "is too long")
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise JOSEError(MALFORMED, "is not ASCII") from None
    parts = raw.split(b".")
    if len(parts) != 3:
        raise JOSEError(MALFORMED, "is not a compact JWS")
    return parts[0], parts[1], parts[2]


def check_header(header: Mapping[str, Any], algorithms: Collection[str]) -> str:
    """Check ``alg`` against ``algorithms`` (and the supported set) and refuse ``crit``;
    returns the algorithm."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms or alg not in SUPPORTED_ALGORITHMS:
        raise JOSEError(BAD_ALGORITHM, _algorithm_refusal(alg))
    if "crit" in header:
        raise JOSEError(UNSUPPORTED_HEADER, "critical header extensions are not supported")
    return alg


def _algorithm_refusal(alg: object) -> str:
    # RFC 8725 section 3.1/3.2: name the two classic attacks, so a log says what was tried.
    if isinstance(alg, str) and alg.lower() == "none":
        return "unsigned token (alg none) is never accepted"
    if isinstance(alg, str) and alg.upper().startswith("HS"):
        return f"symmetric algorithm {alg} is never accepted; an asymmetric signature is required"
    return f"algorithm {alg!r} is not accepted"


class JOSEHeaderView:
    """``alg``, ``kid`` and ``x5t`` of a decoded JOSE header (RFC 7515 section 4.1), for the
    value classes that carry one."""

    __slots__ = ()
    header: Mapping[str, Any]

    @property
    def alg(self) -> str:
        return str(self.header.get("alg"))

    @property
    def kid(self) -> str | None:
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None

    @property
    def x5t(self) -> str | None:
        x5t = self.header.get("x5t")
        return x5t if isinstance(x5t, str) else None


@dataclass(slots=True)  # not frozen: frozen __init__ costs a microsecond on the cold path
class CompactJWS(JOSEHeaderView):
    """A split compact JWS with its header decoded; payload and signature are decoded on
    demand, so a caller can check the signature before it looks at the payload."""

    header: Mapping[str, Any]
    signing_input: bytes
    payload_segment: bytes
    signature_segment: bytes

    def payload(self) -> dict[str, Any]:
        return decode_json_object(self.payload_segment, "payload")

    def signature(self) -> bytes:
        return decode_signature(self.signature_segment)


def parse_compact(
    token: str,
    *,
    max_bytes: int,
    algorithms: Collection[str] = SUPPORTED_ALGORITHMS,
) -> CompactJWS:
    """Split ``token``, decode its header and check ``alg`` and ``crit``. Verifies nothing."""
    compact = decode_compact(token, max_bytes=max_bytes)
    check_header(compact.header, algorithms)
    return compact


def decode_compact(token: str, *, max_bytes: int) -> CompactJWS:
    """Split ``token`` and decode its header without checking it, for callers whose header
    rules (and error codes) are their own, such as SETs (RFC 8417 section 2.3)."""
    header_segment, payload_segment, signature_segment = split_compact(token, max_bytes=max_bytes)
    header = decode_json_object(header_segment, "header")
    return CompactJWS(
        header, header_segment + b"." + payload_segment, payload_segment, signature_segment
    )
