"""Read an identity provider's answer within a size cap and a deadline; read ``Retry-After``.

The body is streamed: it is never held past ``max_bytes`` (after decoding, so a compressed
answer cannot expand past the cap either), and the deadline is checked between chunks as well
as enforced on each socket read (:mod:`cae_sdk.client._deadline_backend`). MSAL's requests ask
for ``Accept-Encoding: identity``; an answer compressed anyway with gzip or deflate is decoded
here with a bounded output, any other coding is refused.
"""

from __future__ import annotations

import email.utils
import math
import time
import zlib
from collections.abc import Iterable, Mapping

from ._exchange import AnswerTimeout, AnswerUnreadable

__all__ = ["MAX_RETRY_AFTER", "read_body", "retry_after_seconds"]

MAX_RETRY_AFTER = 3600.0
"""A ``Retry-After`` longer than this is read as this (MSAL caps its throttling the same way,
``msal/throttled_http_client.py``)."""


def _decoder(coding: str) -> zlib._Decompress | None:
    coding = coding.strip().lower()
    if coding in ("", "identity"):
        return None
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(zlib.MAX_WBITS | 16)
    if coding == "deflate":  # RFC 9110 section 8.4.1.2: the zlib format
        return zlib.decompressobj()
    raise AnswerUnreadable(f"unsupported Content-Encoding {coding[:32]!r}", reason="undecodable")


def read_body(
    chunks: Iterable[bytes], *, content_encoding: str, deadline: float, max_bytes: int
) -> bytes:
    """Join ``chunks`` (raw body bytes) into the decoded body, or raise :class:`AnswerTimeout`
    past ``deadline`` (``time.monotonic()``) / :class:`AnswerUnreadable` past ``max_bytes``."""
    decoder = _decoder(content_encoding)
    body = bytearray()
    try:
        for chunk in chunks:
            if decoder is not None:
                # Never more than the cap + 1 out of one chunk: a compression bomb stops here.
                chunk = decoder.decompress(chunk, max_bytes - len(body) + 1)
            body += chunk
            if len(body) > max_bytes:
                raise AnswerUnreadable(
                    f"the answer is larger than {max_bytes} bytes", reason="too_large"
                )
            if time.monotonic() >= deadline:
                raise AnswerTimeout("the answer did not arrive in full before the deadline")
        if decoder is not None:
            body += decoder.flush()
            if not decoder.eof or len(body) > max_bytes:
                raise AnswerUnreadable("the compressed answer is cut off", reason="undecodable")
    except zlib.error:
        raise AnswerUnreadable("the compressed answer is corrupt", reason="undecodable") from None
    return bytes(body)


def retry_after_seconds(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (RFC 9110 section 10.2.3: delay-seconds or
    an HTTP-date; ``now`` is the current Unix time), capped at :data:`MAX_RETRY_AFTER`; ``None``
    when absent or unreadable."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()[:64]
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # an HTTP-date is always GMT (RFC 9110 section 5.6.7)
        return None
    seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)
