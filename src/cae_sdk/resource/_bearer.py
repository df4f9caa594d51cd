"""Bearer token extraction from the ``Authorization`` header only (RFC 6750 section 2.1).

Query parameters and form bodies (RFC 6750 sections 2.2, 2.3) are deliberately not read: they
leak tokens into logs and caches.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..core.errors import TokenValidationError

__all__ = [
    "MAX_AUTHORIZATION_BYTES",
    "authorization_value",
    "bearer_credentials",
    "credentials_of",
    "extract_bearer",
    "is_b64token",
]

MAX_AUTHORIZATION_BYTES = 16 * 1024 + 7
# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
_DELETE_B64TOKEN_CHARS = dict.fromkeys(map(ord, _B64TOKEN_CHARS))


def extract_bearer(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """Return the bearer token of an ASGI header list, or None when there is no
    ``Authorization`` header. Raises ``TokenValidationError("invalid_request")`` for a header
    that is repeated, oversized, of another scheme, or not ``Bearer <b64token>``."""
    credentials = bearer_credentials(headers)
    if credentials is not None and not is_b64token(credentials):
        raise TokenValidationError("invalid_request", "malformed bearer token")
    return credentials


def bearer_credentials(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """:func:`extract_bearer` without the ``b64token`` character check, for callers that
    verify the token anyway and check :func:`is_b64token` only when verification fails (a
    verified compact JWS is base64url and dots: always a ``b64token``)."""
    found = authorization_value(headers)
    return None if found is None else credentials_of(found)


def authorization_value(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """The one ``Authorization`` header's value as received, or None when there is none.
    Raises ``TokenValidationError("invalid_request")`` when it is repeated or oversized. The
    request path keys its validated-token cache by this value: a token verified before is
    found without decoding anything."""
    found: bytes | None = None
    for name, value in headers:
        if name == b"authorization":
            if found is not None:
                raise TokenValidationError("invalid_request", "more than one Authorization header")
            found = value
    if found is not None and len(found) > MAX_AUTHORIZATION_BYTES:
        raise TokenValidationError("invalid_request", "Authorization header is too long")
    return found


def credentials_of(found: bytes) -> str:
    """The credentials of an ``Authorization`` value (:func:`authorization_value`) of the
    Bearer scheme; ``TokenValidationError("invalid_request")`` for another scheme or
    credentials that are not ASCII."""
    found = found.strip(b" \t")
    # credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC 9110 11.1).
    scheme = found[:7]
    if scheme != b"Bearer " and scheme.lower() != b"bearer ":
        raise TokenValidationError("invalid_request", "Authorization scheme must be Bearer")
    credentials = found[7:].lstrip(b" ")
    try:
        if credentials:
            return credentials.decode("ascii")
    except UnicodeDecodeError:
        pass
    raise TokenValidationError("invalid_request", "malformed bearer token")


def is_b64token(credentials: str) -> bool:
    """Whether ``credentials`` is an RFC 6750 section 2.1 ``b64token``."""
    if not credentials or not credentials.isascii():
        return False
    # str.translate deletes every allowed character in C; anything left is not a b64token.
    stripped = credentials.rstrip("=")  # padding only at the end
    return bool(stripped) and not stripped.translate(_DELETE_B64TOKEN_CHARS)
