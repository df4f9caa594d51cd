"""Bearer tokens through the shared verifier (:mod:`cae_sdk.core.jose`).

This adapter adds what is specific to access tokens: the size limit, an eager payload decode
(every token needs its claims), a per-validator memo of accepted headers, and the mapping of
:class:`~cae_sdk.core.errors.JOSEError` reasons to the stable ``TokenValidationError`` reasons.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from ..core import jose
from ..core.errors import JOSEError, TokenValidationError
from ..core.jose import SUPPORTED_ALGORITHMS

__all__ = [
    "ACCESS_TOKEN_TYPES",
    "SUPPORTED_ALGORITHMS",
    "ParsedToken",
    "TokenParser",
    "parse_token",
    "verify_signature",
]

MAX_TOKEN_BYTES = 16 * 1024
_HEADER_MEMO_MAX = 256

# JOSEError reason -> TokenValidationError reason (the latter are documented and tested).
_REASONS = {
    jose.MALFORMED: "malformed_token",
    jose.UNSUPPORTED_HEADER: "malformed_token",
    jose.BAD_ALGORITHM: "bad_algorithm",
    jose.BAD_KEY: "bad_key",
    jose.BAD_SIGNATURE: "bad_signature",
}


def token_error(error: JOSEError) -> TokenValidationError:
    return TokenValidationError(
        _REASONS.get(error.reason, "malformed_token"), f"token {error.description}"
    )


@dataclass(slots=True)  # not frozen: frozen __init__ costs a microsecond on the cold path
class ParsedToken(jose.JOSEHeaderView):
    """An access token with header, claims and signature decoded (not verified yet)."""

    header: Mapping[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


ACCESS_TOKEN_TYPES = ("JWT", "at+jwt")
"""``typ`` header values of access tokens: Entra, Keycloak and most issuers write ``JWT``,
RFC 9068 section 2.1 ``at+jwt``. A token without ``typ`` is accepted too."""


def _media_type(typ: str) -> str:
    # RFC 7515 section 4.1.9: a media type, compared without case, "application/" optional.
    typ = typ.strip().lower()
    return typ[len("application/") :] if typ.startswith("application/") else typ


class TokenParser:
    """Parse access tokens for one set of algorithms. Headers repeat across tokens of one
    issuer (same ``alg`` and ``kid``), so accepted ones are memoised by their exact bytes.

    ``token_types``: the ``typ`` header values accepted. Any other explicit type - a Security
    Event Token (``secevent+jwt``), a logout token, a DPoP proof, a JWT refresh token - is
    another kind of JWT, refused even when the issuer signs it with the same keys (RFC 8725
    sections 2.8 and 3.11: cross-JWT confusion and explicit typing)."""

    def __init__(
        self,
        algorithms: Collection[str] = SUPPORTED_ALGORITHMS,
        token_types: Collection[str] = ACCESS_TOKEN_TYPES,
    ) -> None:
        self.algorithms = frozenset(algorithms)
        self.token_types = frozenset(_media_type(t) for t in token_types)
        self._headers: dict[bytes, Mapping[str, Any]] = {}

    def parse(self, token: str) -> ParsedToken:
        """Split and decode a compact JWS; check ``alg`` and ``crit``. Verifies nothing else."""
        try:
            header_segment, payload_segment, signature_segment = jose.split_compact(
                token, max_bytes=MAX_TOKEN_BYTES
            )
            header = self._headers.get(header_segment)
            if header is None:
                header = jose.decode_json_object(header_segment, "header")
                jose.check_header(header, self.algorithms)
                self._check_type(header.get("typ"))
                if len(self._headers) >= _HEADER_MEMO_MAX:
                    self._headers.clear()
                self._headers[header_segment] = header
            payload = jose.decode_json_object(payload_segment, "payload")
            signature = jose.decode_signature(signature_segment)
        except JOSEError as error:
            raise token_error(error) from None
        return ParsedToken(header, payload, header_segment + b"." + payload_segment, signature)

    def _check_type(self, typ: object) -> None:
        if typ is None:
            return
        if not isinstance(typ, str) or _media_type(typ) not in self.token_types:
            raise JOSEError(jose.UNSUPPORTED_HEADER, "type (typ) is not an access token type")


def parse_token(token: str, algorithms: Collection[str] = SUPPORTED_ALGORITHMS) -> ParsedToken:
    """Split and decode a compact JWS; check ``alg`` and ``crit``. Verifies nothing else."""
    return TokenParser(algorithms).parse(token)


def verify_signature(token: ParsedToken, jwk: jose.JWK) -> None:
    """Verify the signature; raises ``TokenValidationError`` (``bad_key``, ``bad_signature``)."""
    try:
        jose.verify_signature(token.alg, token.signing_input, token.signature, jwk)
    except JOSEError as error:
        raise token_error(error) from None
