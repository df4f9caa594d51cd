"""URLs fit for logs and error messages."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["loggable_url"]


def loggable_url(url: object) -> str:
    """``url`` (a string or any URL object) reduced to scheme, host, port and path. The query can
    carry codes or assertions and the userinfo a password; neither is ever echoed."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal (RFC 3986 section 3.2.2)
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # a malformed port is not worth echoing either
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
