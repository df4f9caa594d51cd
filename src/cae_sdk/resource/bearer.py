"""Bearer token extraction from the ``Authorization`` header only (RFC 6750 section 2.1).

Query parameters and form bodies (RFC 6750 sections 2.2, 2.3) are deliberately not read: they
leak tokens into logs and caches.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..core.errors import TokenValidationError

__all__ = ["MAX_AUTHORIZATION_BYTES", "extract_bearer"]

MAX_AUTHORIZATION_BYTES = 16 * 1024 + 7
# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/="


def extract_bearer(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """Return the bearer token of an ASGI header list, or None when there is no
    ``Authorization`` header. Raises ``TokenValidationError("invalid_request")`` for a header
    that is repeated, oversized, of another scheme, or not ``Bearer <b64token>``."""
    found: bytes | None = None
    for name, value in headers:
        if name == b"authorization":
            if found is not None:
                raise TokenValidationError("invalid_request", "more than one Authorization header")
            found = value
    if found is None:
        return None
    if len(found) > MAX_AUTHORIZATION_BYTES:
        raise TokenValidationError("invalid_request", "Authorization header is too long")
    scheme, _, credentials = found.strip(b" \t").partition(b" ")
    if scheme.lower() != b"bearer":
        raise TokenValidationError("invalid_request", "Authorization scheme must be Bearer")
    credentials = credentials.lstrip(b" ")
    # bytes.translate deletes every allowed byte in C; anything left is not a b64token.
    if not credentials or credentials.translate(None, _B64TOKEN):
        raise TokenValidationError("invalid_request", "malformed bearer token")
    return credentials.decode("ascii")
