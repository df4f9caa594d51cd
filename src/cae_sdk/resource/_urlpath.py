"""How a request path may be read by whatever sits behind the middleware.

The middleware decides on the path the server decoded (``scope["path"]``), but the component
that finally serves the request may read it differently: a gateway forwarding with an HTTP client
that removes dot segments (RFC 3986 section 5.2.4; httpx does), a server that decodes percent
escapes a second time, treats ``\\`` as a separator, drops ``;`` path parameters (``..;``),
merges ``//`` or matches routes without case. Path-based decisions therefore take the reading
that asks the most of the request:

* a path is *excluded* (served without a token) only when it is plain - none of the above can
  apply to it (:func:`is_plain`);
* a route's authentication context applies when any reading of the path falls under its prefix
  (:func:`readings`).

Pure functions of the path text.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["is_plain", "readings"]

# A dot segment (RFC 3986 section 3.3), an empty segment, or a character another component may
# decode or split on differently: "\" (a separator to some servers), "%" (left after the
# server's decoding: a second decoding), ";" (path parameters), control characters.
_NOT_PLAIN = re.compile(r"(?:^|/)\.{1,2}(?:/|$)|//|[\\%;\x00-\x1f\x7f]")


def is_plain(path: str) -> bool:
    """Whether every component reads ``path`` as written (no dot segment, ``//``, ``\\``,
    ``%``, ``;`` or control character)."""
    return _NOT_PLAIN.search(path) is None


def readings(path: str) -> tuple[str, ...]:
    """``path`` as written and as a lenient component may read it (decoded twice more,
    backslashes as slashes, ``;`` parameters dropped, empty and dot segments removed), case
    folded."""
    written = path.casefold()
    if is_plain(path):
        return (written,)
    text = unquote(unquote(path)).replace("\\", "/")
    # Path parameters dropped first: "/admin/;" reads as "/admin/" (a trailing slash) downstream.
    segments = [segment.split(";", 1)[0] for segment in text.split("/")]
    kept: list[str] = []
    for segment in segments:
        if segment in ("", "."):
            continue
        if segment == "..":
            if kept:
                kept.pop()
            continue
        kept.append(segment)
    lenient = "/" + "/".join(kept)
    if kept and segments[-1] in ("", ".", ".."):
        lenient += "/"
    return (written, lenient.casefold())
