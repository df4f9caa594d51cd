"""Which request bodies can be sent a second time after a claims challenge.

httpx keeps bytes, JSON and form bodies in memory (``ByteStream``) and re-reads multipart
file fields after seeking them to the start, so those replay as they were. A body produced by a
generator or an unseekable file is consumed by the first send: replaying it would send an empty
or truncated body, so it is refused with :class:`RequestNotReplayable`.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..core.challenges import ClaimsChallenge
from ._flow import not_replayable

__all__ = ["ensure_replayable", "is_replayable"]


def ensure_replayable(
    request: httpx.Request,
    *,
    response: httpx.Response | None = None,
    challenge: ClaimsChallenge | None = None,
) -> None:
    """Raise :class:`RequestNotReplayable` (carrying the challenged ``response`` and its
    ``challenge``) unless ``request``'s body can be sent again intact."""
    if is_replayable(request):
        return
    raise not_replayable(request.method, request.url, response=response, challenge=challenge)


def is_replayable(request: httpx.Request) -> bool:
    """Whether ``request``'s body can be sent again intact."""
    stream = request.stream
    # Bytes, JSON and form bodies are a ByteStream from the start; Request.read()/aread() also
    # swap a streamed body for a ByteStream of what was read (httpx/_models.py).
    if isinstance(stream, httpx.ByteStream):
        return True
    fields = getattr(stream, "fields", None)  # httpx's MultipartStream
    return isinstance(fields, list) and all(_field_replayable(f) for f in fields)


def _field_replayable(field: Any) -> bool:
    file = getattr(field, "file", None)
    if file is None or isinstance(file, (str, bytes)):
        return True  # a DataField, or in-memory content
    seekable = getattr(file, "seekable", None)
    return bool(callable(seekable) and seekable())
