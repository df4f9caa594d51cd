"""Key documents over HTTP: a JSON document read under a size cap, and discovery.

* ``jwks_uri`` comes from the caller or from a discovery document (OpenID Connect Discovery 1.0
  section 4, SSF 1.0 section 7.1); with ``expected_issuer`` the document's ``issuer`` must equal
  it exactly (SSF 1.0 section 7.2.3, OpenID Connect Discovery 1.0 section 4.3);
* a document is refused as soon as its body passes ``limit`` bytes (never buffered whole), and
  a compressed one is refused before a byte of it is decoded.

The deadline of a whole fetch is the caller's (:class:`~cae_sdk.keys.KeySource` enforces its
own ``timeout`` around discovery and JWKS together).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from ..core.errors import ConfigurationError

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "IssuerMismatch",
    "KeyFetchError",
    "checked_configuration",
    "get_json",
]

MAX_DOCUMENT_BYTES = 512 * 1024


class KeyFetchError(ConfigurationError):
    """A key document could not be fetched or read: timeout, oversized, wrong encoding."""


class IssuerMismatch(ConfigurationError):
    """The discovery document names another issuer than the one expected: its keys are never
    used (SSF 1.0 section 7.2.3, OpenID Connect Discovery 1.0 section 4.3)."""


def checked_configuration(
    document: Any, *, configuration_url: str, expected_issuer: str | None
) -> Mapping[str, Any]:
    """``document`` (read from ``configuration_url``) when it is a configuration document
    whose keys may be used: it names ``expected_issuer`` (when given) and a ``jwks_uri`` that
    is https whenever the document itself was."""
    if not isinstance(document, Mapping):
        raise ConfigurationError("configuration document is not a JSON object")
    if expected_issuer is not None and document.get("issuer") != expected_issuer:
        raise IssuerMismatch("configuration issuer does not match the expected issuer")
    uri = document.get("jwks_uri")
    scheme = uri.partition("://")[0].lower() if isinstance(uri, str) else ""
    if scheme not in ("https", "http"):
        raise ConfigurationError("configuration document has no jwks_uri")
    # OpenID Connect Discovery 1.0 section 3: jwks_uri MUST use https. A document read over TLS
    # never sends the keys over plain HTTP, where anyone on the path could swap them; plain
    # http stays possible only when discovery itself was (a local development issuer the
    # operator named so).
    secure = configuration_url.partition("://")[0].lower() == "https"
    if secure and scheme != "https":
        raise ConfigurationError("configuration document names a jwks_uri without https")
    return document


async def get_json(client: httpx.AsyncClient, url: str, limit: int) -> tuple[Any, float | None]:
    """GET a JSON document, reading at most ``limit`` bytes of its body; returns it with the
    response's ``Cache-Control: max-age`` (None when it sets none)."""
    headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
    async with client.stream("GET", url, headers=headers) as response:
        response.raise_for_status()
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            # We asked for identity (RFC 9110 section 12.5.3); decoding a compressed body
            # could expand it far beyond the cap before we saw a byte of it.
            raise KeyFetchError(f"{url} answered with content-encoding {encoding!r}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise KeyFetchError(f"{url} returned an oversized document")
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > limit:
                raise KeyFetchError(f"{url} returned an oversized document")
        max_age = _max_age(response)
    try:
        return json.loads(bytes(body)), max_age
    except (ValueError, RecursionError):
        raise KeyFetchError(f"{url} did not return JSON") from None


def _max_age(response: httpx.Response) -> float | None:
    for directive in response.headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age" and value.isdigit():
            return float(value)
    return None
