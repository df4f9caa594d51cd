"""``WWW-Authenticate`` parsing and building (RFC 9110 section 11.6.1) and CAE claims challenges.

Grammar (RFC 9110 sections 11.2, 11.6.1, 5.6)::

    WWW-Authenticate = #challenge
    challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
    auth-param  = token BWS "=" BWS ( token / quoted-string )
    token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="

The parser is a single left-to-right scan (linear time, no regular-expression backtracking).
It is lenient where real servers are known to deviate: a bare parameter value may contain any
character but comma, whitespace and quote (Graph once sent an unquoted URI).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .claims import decode_claims, encode_claims
from .errors import ChallengeParseError, InvalidClaimsError

__all__ = [
    "Challenge",
    "ClaimsChallenge",
    "ascii_field_value",
    "build_bearer_error",
    "build_challenge",
    "build_claims_challenge",
    "claims_challenge_type",
    "find_claims_challenge",
    "parse_www_authenticate",
]

MAX_HEADER_LENGTH = 64 * 1024

_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TOKEN68 = frozenset("-._~+/0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_WS = frozenset(" \t")
_BARE_STOP = frozenset(', \t"')


@dataclass(frozen=True, slots=True)
class Challenge:
    """One authentication challenge. Parameter names are lower-cased; values are unescaped."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)
    token68: str | None = None

    def is_scheme(self, name: str) -> bool:
        return self.scheme.lower() == name.lower()


class _Scanner:
    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ws(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in _WS:
            pos += 1
        self.pos = pos

    def skip_list_separators(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and (text[pos] in _WS or text[pos] == ","):
            pos += 1
        self.pos = pos

    def read_run(self, allowed: frozenset[str]) -> str:
        text, start = self.text, self.pos
        pos = start
        while pos < len(text) and text[pos] in allowed:
            pos += 1
        self.pos = pos
        return text[start:pos]

    def read_quoted(self) -> str:
        text = self.text
        pos = self.pos + 1  # opening quote
        out: list[str] = []
        start = pos
        while pos < len(text):
            char = text[pos]
            if char == "\\":
                if pos + 1 >= len(text):
                    break
                out.append(text[start:pos])
                out.append(text[pos + 1])
                pos += 2
                start = pos
            elif char == '"':
                out.append(text[start:pos])
                self.pos = pos + 1
                return "".join(out)
            else:
                pos += 1
        raise ChallengeParseError(f"unterminated quoted string at offset {self.pos}")

    def read_bare(self) -> str:
        text, start = self.text, self.pos
        pos = start
        while pos < len(text) and text[pos] not in _BARE_STOP:
            pos += 1
        self.pos = pos
        return text[start:pos]

    def starts_auth_param(self) -> bool:
        """Whether the text at the cursor is ``token BWS "=" BWS value`` (not token68 padding)."""
        text = self.text
        pos = self.pos
        while pos < len(text) and text[pos] in _TCHAR:
            pos += 1
        if pos == self.pos:
            return False
        while pos < len(text) and text[pos] in _WS:
            pos += 1
        if pos >= len(text) or text[pos] != "=":
            return False
        pos += 1
        while pos < len(text) and text[pos] in _WS:
            pos += 1
        return pos < len(text) and text[pos] not in ",="


def parse_www_authenticate(value: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` field value into its challenges.

    Several field lines joined with ``", "`` parse as one value. Scheme and parameter names are
    case-insensitive (stored lower-cased); when a parameter repeats, the first occurrence is kept.
    Raises :class:`ChallengeParseError` (a ``ValueError``) on text that is not a challenge list.
    """
    if not isinstance(value, str):
        raise ChallengeParseError("WWW-Authenticate value must be a string")
    if len(value) > MAX_HEADER_LENGTH:
        raise ChallengeParseError("WWW-Authenticate value is too long")
    scan = _Scanner(value)
    challenges: list[Challenge] = []
    scan.skip_list_separators()
    while not scan.at_end():
        scheme = scan.read_run(_TCHAR)
        if not scheme:
            raise ChallengeParseError(
                f"expected an auth-scheme at offset {scan.pos}, found {scan.peek()!r}"
            )
        params: dict[str, str] = {}
        token68: str | None = None
        had_space = scan.peek() in _WS
        scan.skip_ws()
        if had_space and not scan.at_end() and scan.peek() != ",":
            if scan.starts_auth_param():
                _read_params(scan, params)
            else:
                token68 = scan.read_run(_TOKEN68)
                token68 += scan.read_run(frozenset("="))
                if not token68:
                    raise ChallengeParseError(f"unexpected {scan.peek()!r} at offset {scan.pos}")
                scan.skip_ws()
                if not scan.at_end() and scan.peek() != ",":
                    raise ChallengeParseError(f"unexpected {scan.peek()!r} after token68")
        elif not scan.at_end() and scan.peek() != ",":
            raise ChallengeParseError(f"unexpected {scan.peek()!r} at offset {scan.pos}")
        challenges.append(Challenge(scheme, params, token68))
        scan.skip_list_separators()
    return challenges


def _read_params(scan: _Scanner, params: dict[str, str]) -> None:
    while True:
        name = scan.read_run(_TCHAR).lower()
        scan.skip_ws()
        scan.pos += 1  # "=", guaranteed by starts_auth_param
        scan.skip_ws()
        value = scan.read_quoted() if scan.peek() == '"' else scan.read_bare()
        params.setdefault(name, value)
        scan.skip_ws()
        if scan.at_end():
            return
        if scan.peek() != ",":
            raise ChallengeParseError(f"expected ',' at offset {scan.pos}, found {scan.peek()!r}")
        scan.skip_list_separators()
        if scan.at_end() or not scan.starts_auth_param():
            return  # the next list element is a new challenge (or the end)


@dataclass(frozen=True, slots=True)
class ClaimsChallenge:
    """A Bearer ``insufficient_claims`` challenge whose claims decode to a JSON object."""

    claims: str
    """The decoded claims request as JSON text, ready for MSAL's ``claims_challenge``."""
    claims_dict: Mapping[str, Any]
    error: str
    authorization_uri: str | None
    realm: str | None
    error_description: str | None
    params: Mapping[str, str]
    challenge: Challenge


def _text(value: Any) -> str:
    # Raw header bytes are latin-1 (RFC 9110 section 5.5: obs-text is opaque octets).
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _is_www_authenticate(name: Any) -> bool:
    return _text(name).lower() == "www-authenticate"


def _header_values(headers: Any) -> list[str]:
    if isinstance(headers, (str, bytes)):
        return [_text(headers)]
    if hasattr(headers, "get_list"):  # httpx.Headers
        return [str(v) for v in headers.get_list("www-authenticate")]
    if hasattr(headers, "getlist"):  # starlette Headers, multidicts
        return [str(v) for v in headers.getlist("www-authenticate")]
    if isinstance(headers, Mapping):
        found: list[str] = []
        for key, value in headers.items():
            if _is_www_authenticate(key):
                values = value if isinstance(value, (list, tuple)) else [value]
                found.extend(_text(v) for v in values)
        return found
    if isinstance(headers, Iterable):
        # Either WWW-Authenticate values, or raw (name, value) pairs such as an ASGI message's
        # "headers" or httpx.Headers.raw, from which only WWW-Authenticate counts.
        return [
            _text(item[1]) if isinstance(item, tuple) else _text(item)
            for item in headers
            if not isinstance(item, tuple) or (len(item) == 2 and _is_www_authenticate(item[0]))
        ]
    raise TypeError(f"unsupported headers type: {type(headers).__name__}")


def find_claims_challenge(
    headers: Any, *, accept_invalid_token: bool = False
) -> ClaimsChallenge | None:
    """Find the CAE claims challenge in response headers, or ``None``.

    ``headers`` is an ``httpx.Headers``, a mapping, a single ``WWW-Authenticate`` value (text or
    bytes), a list of values, or a list of raw ``(name, value)`` pairs (ASGI, ``Headers.raw``).
    Only a ``Bearer`` challenge with ``error="insufficient_claims"`` (any case) whose ``claims``
    decodes to a JSON object qualifies. ARM-style ``error="invalid_token"`` with claims
    qualifies only with ``accept_invalid_token=True``. Unparseable values are skipped.
    """
    accepted = {"insufficient_claims"}
    if accept_invalid_token:
        accepted.add("invalid_token")
    for value in _header_values(headers):
        try:
            challenges = parse_www_authenticate(value)
        except ChallengeParseError:
            continue
        for challenge in challenges:
            if not challenge.is_scheme("bearer"):
                continue
            error = challenge.params.get("error", "")
            raw_claims = challenge.params.get("claims")
            if error.lower() not in accepted or not raw_claims:
                continue
            try:
                claims_dict = decode_claims(raw_claims)
            except InvalidClaimsError:
                continue
            return ClaimsChallenge(
                claims=json.dumps(claims_dict, separators=(",", ":")),
                claims_dict=claims_dict,
                error=error,
                authorization_uri=challenge.params.get("authorization_uri"),
                realm=challenge.params.get("realm"),
                error_description=challenge.params.get("error_description")
                or challenge.params.get("errordescription"),
                params=challenge.params,
                challenge=challenge,
            )
    return None


def _quote(value: str) -> str:
    # Control characters would let a value split the header (response splitting): drop them.
    cleaned = "".join(ch for ch in value if ch >= " " and ch != "\x7f")
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ascii_field_value(value: str) -> str:
    """``value`` with every character beyond ASCII percent-encoded as UTF-8 (as an IRI becomes
    a URI, RFC 3987 section 3.1) and control characters dropped: a field value any HTTP stack
    can carry (RFC 9110 section 5.5), whatever a claim put into it."""
    if value.isascii() and value.isprintable():  # the common case: nothing to do
        return value
    return "".join(_ascii_char(ch) for ch in value)


def _ascii_char(char: str) -> str:
    if " " <= char < "\x7f":
        return char
    if char < " " or char == "\x7f":
        return ""
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "replace"))


def build_challenge(scheme: str, params: Mapping[str, str | None]) -> str:
    """Build one challenge with every parameter value quoted (RFC 9110 section 11.2)."""
    if not scheme or any(ch not in _TCHAR for ch in scheme):
        raise ValueError(f"invalid auth-scheme {scheme!r}")
    parts = []
    for name, value in params.items():
        if value is None:
            continue
        if not name or any(ch not in _TCHAR for ch in name):
            raise ValueError(f"invalid auth-param name {name!r}")
        parts.append(f"{name}={_quote(value)}")
    return f"{scheme} {', '.join(parts)}" if parts else scheme


def build_claims_challenge(
    claims: str | Mapping[str, Any],
    *,
    authorization_uri: str,
    realm: str = "",
    error_description: str | None = None,
    cc_type: str | None = None,
) -> str:
    """Build an Entra-format CAE claims challenge (Microsoft identity platform, "Claims
    challenges, claims requests and client capabilities").

    ``cc_type="authcontext"`` marks a step-up to a Conditional Access authentication context
    (Microsoft identity platform, "Developer guide to Conditional Access authentication
    context"); :func:`claims_challenge_type` picks it from the claims request.
    """
    return build_challenge(
        "Bearer",
        {
            "realm": realm,
            "authorization_uri": authorization_uri,
            "error": "insufficient_claims",
            "claims": encode_claims(claims),
            "error_description": error_description,
            "cc_type": cc_type,
        },
    )


def claims_challenge_type(claims: Mapping[str, Any]) -> str | None:
    """``"authcontext"`` when a claims request asks for an authentication context (``acrs``
    under ``access_token``), else None."""
    access_token = claims.get("access_token")
    if isinstance(access_token, Mapping) and "acrs" in access_token:
        return "authcontext"
    return None


def build_bearer_error(
    error: str | None = None,
    *,
    description: str | None = None,
    realm: str | None = None,
    scope: str | None = None,
) -> str:
    """Build an RFC 6750 section 3 challenge (``invalid_token``, ``insufficient_scope``...)."""
    return build_challenge(
        "Bearer",
        {"realm": realm, "error": error, "error_description": description, "scope": scope},
    )
