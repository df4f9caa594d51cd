"""Operator JSON documents (policy sets, named locations): one size limit, one strict parser,
one reading of Graph's collection responses.

The library and the ``cae`` command read policy and location files through
:func:`parse_json_document` only, so a document the library refuses is refused everywhere.
Parsing is strict where JSON itself is lenient (RFC 8259 section 4: names SHOULD be unique):
a duplicate member name or a non-finite number is a :class:`ConfigurationError`, because
``{"state": "disabled", "state": "enabled"}`` must not mean whatever the parser keeps last.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ConfigurationError

__all__ = ["MAX_DOCUMENT_BYTES", "graph_collection", "graph_object", "parse_json_document"]

MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
"""The largest policy or named-location document accepted (UTF-8 bytes)."""


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ConfigurationError(f"member {name!r} appears twice in one object")
        result[name] = value
    return result


def _no_constant(name: str) -> Any:
    raise ConfigurationError(f"{name} is not a JSON number")


def parse_json_document(source: str | bytes, what: str) -> Any:
    """Parse ``source`` (at most :data:`MAX_DOCUMENT_BYTES`) as strict JSON; ``what`` names
    the document in errors. Bytes may be UTF-8 (with or without a byte order mark), UTF-16
    or UTF-32, as :func:`json.loads` detects."""
    size = len(source) if isinstance(source, bytes) else len(source.encode("utf-8", "replace"))
    if size > MAX_DOCUMENT_BYTES:
        raise ConfigurationError(
            f"{what} is too large ({size} bytes; the limit is {MAX_DOCUMENT_BYTES})"
        )
    try:
        return json.loads(source, object_pairs_hook=_unique_members, parse_constant=_no_constant)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{what} is not valid: {exc}") from None
    except (ValueError, RecursionError):
        raise ConfigurationError(f"{what} is not valid JSON") from None


# Microsoft Graph "Paging Microsoft Graph data in your app": a collection response that does
# not hold every item carries ``@odata.nextLink``; the next page is fetched from it.
_NEXT_LINK = "@odata.nextLink"


def graph_collection(data: Any, what: str) -> list[Any]:
    """The items of a parsed document: a list, Graph's collection response
    ``{"value": [...]}``, or one object. A page of a paged response (``@odata.nextLink``) is a
    :class:`ConfigurationError`: the items on the pages not loaded would be silently missing."""
    if isinstance(data, Mapping):
        if _NEXT_LINK in data:
            raise ConfigurationError(
                f"{what} is one page of a paged Microsoft Graph response ({_NEXT_LINK}): "
                "follow @odata.nextLink and load the items of every page together"
            )
        data = data.get("value", [data])
    if not isinstance(data, Sequence) or isinstance(data, (str, bytes)):
        raise ConfigurationError(f'{what} must be a list, one object, or {{"value": [...]}}')
    return list(data)


# Members SDK models add around Graph's own: the members a model does not know (PowerShell's
# AdditionalProperties, the .NET SDK's AdditionalData), the OData type as a property, and the
# .NET SDK's change-tracking store.
_MERGED = frozenset({"additionalProperties", "additionalData"})
_ODATA_TYPE = {"odataType": "@odata.type"}
_DROPPED = frozenset({"backingStore"})


def _camel(name: str) -> str:
    if name[:1].isascii() and name[:1].isupper():
        name = name[0].lower() + name[1:]
    return _ODATA_TYPE.get(name, name)


def _object(data: Mapping[str, Any], what: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    pairs = [(str(k), v) for k, v in data.items()]
    extra = [(k, v) for k, v in pairs if _camel(k) in _MERGED]
    for key, value in extra:
        if isinstance(value, Mapping):
            pairs += [(str(k), v) for k, v in value.items()]
        elif value is not None:
            raise ConfigurationError(f"{what}: {key} must be an object")
    for key, value in pairs:
        name = _camel(key)
        if name in _MERGED or name in _DROPPED:
            continue
        if name in result:
            raise ConfigurationError(f"{what}: member {name!r} appears twice ({key!r})")
        result[name] = _value(value, what)
    return result


def _value(value: Any, what: str) -> Any:
    if isinstance(value, Mapping):
        return _object(value, what)
    if isinstance(value, list):
        return [_value(item, what) for item in value]
    return value


def graph_object(data: Any, what: str) -> Any:
    """``data`` with Graph's member names, as Graph itself writes them (camelCase): SDK
    exports write PascalCase (``Get-MgIdentityConditionalAccessPolicy | ConvertTo-Json``,
    .NET's ``System.Text.Json``) and keep the members their model lacks apart
    (``AdditionalProperties`` / ``AdditionalData``, merged back here). A member named twice
    is a :class:`ConfigurationError`, never whichever comes last."""
    try:
        return _value(data, what)
    except RecursionError:
        raise ConfigurationError(f"{what} is nested too deeply") from None
