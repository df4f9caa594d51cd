"""URLs fit for logs and error messages, and the origin a URL belongs to."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["loggable_url", "origin"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


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


def origin(url: object) -> tuple[str, str, int] | None:
    """The origin of an absolute ``http``/``https`` URL (RFC 6454 section 4): lower-case
    scheme, lower-case host and the port, the scheme's default when absent. ``None`` for a URL
    that has no such origin (another scheme, no host, a malformed port): it matches nothing."""
    try:
        parts = urlsplit(str(url))
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")  # hostname is already lower-case
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme]
