"""Claims requests (OpenID Connect Core 1.0 section 5.5) as used by CAE.

A client announces the ``cp1`` capability with ``{"access_token":{"xms_cc":{"values":["cp1"]}}}``
and, after a claims challenge, sends the challenge's claims request merged with it (Microsoft
identity platform docs, "Claims challenges, claims requests and client capabilities"). These
functions are pure: text and dicts in, text and dicts out.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from .errors import InvalidClaimsError

__all__ = [
    "CP1",
    "CP1_CLAIMS",
    "acrs_claims",
    "decode_claims",
    "encode_claims",
    "has_cp1",
    "merge_claims",
    "nbf_claims",
    "parse_claims_request",
    "requested_acrs",
    "requested_nbf",
]

CP1 = '{"access_token":{"xms_cc":{"values":["cp1"]}}}'
"""The claims request that announces the ``cp1`` (CAE-capable) client capability."""

CP1_CLAIMS: Mapping[str, Any] = {"access_token": {"xms_cc": {"values": ["cp1"]}}}
"""The ``cp1`` claims request (:data:`CP1`) as a mapping, for merging with a server's claims."""

MAX_CLAIMS_LENGTH = 16 * 1024
_TOP_LEVEL_MEMBERS = frozenset({"access_token", "id_token", "userinfo"})
_B64_CHARS = re.compile(r"[A-Za-z0-9+/_\-]*={0,2}")


def _as_dict(claims: str | Mapping[str, Any] | None) -> dict[str, Any]:
    if claims is None or claims == "":
        return {}
    if isinstance(claims, Mapping):
        return json.loads(json.dumps(claims))  # type: ignore[no-any-return]
    return parse_claims_request(claims)


def _merge_values(ours: Any, theirs: Any) -> Any:
    if theirs is None and ours is not None:
        # A claim requested as null is asked for "in the default manner" (OpenID Connect
        # Core 1.0 section 5.5.1): what another input asks of it is more specific and stays
        # (a challenge's "xms_cc": null must not drop the cp1 announcement).
        return ours
    if isinstance(ours, dict) and isinstance(theirs, dict):
        merged = dict(ours)
        for key, value in theirs.items():
            merged[key] = _merge_values(merged[key], value) if key in merged else value
        return merged
    if isinstance(ours, list) and isinstance(theirs, list):
        # Union, keeping first-seen order; strings compare case-insensitively because
        # capability values are case-insensitive (real tokens show "CP1").
        union = list(ours)
        seen = {_fold(v) for v in ours}
        for value in theirs:
            if _fold(value) not in seen:
                seen.add(_fold(value))
                union.append(value)
        return union
    return theirs


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else json.dumps(value, sort_keys=True)


def merge_claims(*claims: str | Mapping[str, Any] | None) -> str:
    """Deep-merge claims requests into one minified JSON text.

    Every member any input asks for survives. Objects merge recursively, lists (such as
    ``xms_cc.values``) become a case-insensitive union, a ``null`` request never replaces a
    more specific one, and for two conflicting scalars the later argument wins, so
    ``merge_claims(CP1, challenge)`` lets the server's request prevail and still announces cp1.
    Raises :class:`InvalidClaimsError` if an input is not a valid claims request.
    """
    merged: dict[str, Any] = {}
    for item in claims:
        merged = _merge_values(merged, _as_dict(item))
    return json.dumps(merged, separators=(",", ":"))


def parse_claims_request(text: str) -> dict[str, Any]:
    """Parse a claims request strictly (OIDC Core section 5.5).

    The top level must be a JSON object whose members are ``access_token``, ``id_token`` or
    ``userinfo``, each an object mapping claim names to ``null`` or an object with optional
    ``essential`` (bool), ``value`` and ``values`` (array).
    """
    if not isinstance(text, str):
        raise InvalidClaimsError("claims request must be a string")
    if len(text) > MAX_CLAIMS_LENGTH:
        raise InvalidClaimsError("claims request is too long")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidClaimsError(f"claims request is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidClaimsError("claims request must be a JSON object")
    for member, requests in data.items():
        if member not in _TOP_LEVEL_MEMBERS:
            raise InvalidClaimsError(f"unknown claims request member {member!r}")
        if not isinstance(requests, dict):
            raise InvalidClaimsError(f"claims request member {member!r} must be an object")
        for name, request in requests.items():
            if request is None:
                continue
            if not isinstance(request, dict):
                raise InvalidClaimsError(f"request for claim {name!r} must be an object or null")
            if "essential" in request and not isinstance(request["essential"], bool):
                raise InvalidClaimsError(f"'essential' of claim {name!r} must be a boolean")
            if "values" in request and not isinstance(request["values"], list):
                raise InvalidClaimsError(f"'values' of claim {name!r} must be an array")
    return data


def decode_claims(value: str) -> dict[str, Any]:
    """Decode the ``claims`` parameter of a challenge: base64 (standard or url-safe, padding
    optional) of a JSON object. Raises :class:`InvalidClaimsError`."""
    if not isinstance(value, str) or not value or len(value) > MAX_CLAIMS_LENGTH:
        raise InvalidClaimsError("claims parameter is empty or too long")
    if not _B64_CHARS.fullmatch(value):
        raise InvalidClaimsError("claims parameter is not base64")
    body = value.rstrip("=")
    if ("+" in body or "/" in body) and ("-" in body or "_" in body):
        raise InvalidClaimsError("claims parameter mixes base64 alphabets")
    if len(body) % 4 == 1:
        raise InvalidClaimsError("claims parameter has an impossible base64 length")
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClaimsError("claims parameter does not decode to UTF-8 text") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidClaimsError("claims parameter is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidClaimsError("claims parameter is not a JSON object")
    return data


def encode_claims(claims: str | Mapping[str, Any]) -> str:
    """Encode a claims request for a challenge: minified JSON, standard base64 with padding,
    the form Entra sends."""
    text = claims if isinstance(claims, str) else json.dumps(claims, separators=(",", ":"))
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def nbf_claims(not_before: int) -> dict[str, Any]:
    """The revocation claims request: "do not present a token issued before ``not_before``"."""
    return {"access_token": {"nbf": {"essential": True, "value": str(int(not_before))}}}


def acrs_claims(*context_ids: str) -> dict[str, Any]:
    """The step-up claims request for authentication context ids (``c1`` .. ``c25``)."""
    if len(context_ids) == 1:
        return {"access_token": {"acrs": {"essential": True, "value": context_ids[0]}}}
    return {"access_token": {"acrs": {"essential": True, "values": list(context_ids)}}}


def _access_token_request(claims: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    access = claims.get("access_token")
    if not isinstance(access, Mapping):
        return None
    request = access.get(name)
    return request if isinstance(request, Mapping) else None


def requested_nbf(claims: Mapping[str, Any]) -> int | None:
    """The ``nbf`` value a claims request asks for, as epoch seconds, or ``None``."""
    request = _access_token_request(claims, "nbf")
    if request is None:
        return None
    value = request.get("value")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 12:
        return int(value)
    return None


def requested_acrs(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """The authentication context ids a claims request asks for."""
    request = _access_token_request(claims, "acrs")
    if request is None:
        return ()
    values: list[str] = []
    if isinstance(request.get("value"), str):
        values.append(request["value"])
    if isinstance(request.get("values"), list):
        values.extend(v for v in request["values"] if isinstance(v, str))
    return tuple(values)


def has_cp1(xms_cc: Any) -> bool:
    """Whether an ``xms_cc`` claim (a list, or a single string) contains ``cp1``, ignoring case."""
    if isinstance(xms_cc, str):
        return xms_cc.casefold() == "cp1"
    if isinstance(xms_cc, (list, tuple)):
        return any(isinstance(v, str) and v.casefold() == "cp1" for v in xms_cc)
    return False
