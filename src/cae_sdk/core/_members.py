"""Typed reading of Graph JSON objects: every member has one type, and a wrong one is a
:class:`ConfigurationError` naming the owner (a policy or a named location) and the member.

Nothing here guesses from truthiness: ``"isTrusted": "false"`` is an error, not ``True``.
JSON ``null`` and an absent member mean "not set" (Graph returns both for unset members);
OData annotations (names containing ``@``) are metadata and never read as members.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .errors import ConfigurationError

__all__ = ["Members", "configured"]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def configured(value: Any) -> bool:
    """Whether a member value sets anything: not null, not an empty string, list or object,
    and (for an object) some member other than an annotation is configured."""
    if value is None or value == "" or value == [] or value == {}:
        return False
    if isinstance(value, Mapping):
        return any(configured(v) for k, v in value.items() if "@" not in str(k))
    if isinstance(value, list):
        return any(configured(v) for v in value)
    return True


class Members:
    """One JSON object of a policy or named location, read member by member."""

    __slots__ = ("_data", "owner", "path")

    def __init__(self, data: Any, owner: str, path: str = "") -> None:
        if not isinstance(data, Mapping):
            where = f"{path} must be an object" if path else "must be a JSON object"
            raise ConfigurationError(f"{owner}: {where}, not {_kind(data)}")
        self._data: Mapping[str, Any] = data
        self.owner = owner
        self.path = path

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _fail(self, key: str, expected: str, value: Any) -> ConfigurationError:
        return ConfigurationError(
            f"{self.owner}: {self.name(key)} must be {expected}, not {_kind(value)}"
        )

    def raw(self, key: str) -> Any:
        return self._data.get(key)

    def strings(self, key: str) -> tuple[str, ...]:
        """A list of strings (null or absent: empty)."""
        value = self._data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self._fail(key, "a list of strings", value)
        for item in value:
            if not isinstance(item, str):
                raise ConfigurationError(
                    f"{self.owner}: {self.name(key)} must be a list of strings, not a list "
                    f"holding {_kind(item)}"
                )
        return tuple(value)

    def flags(self, key: str) -> frozenset[str]:
        """A Graph flags enum, lower-cased: Graph writes one comma-separated string
        (``"minor,moderate"``), SDK exports a list of strings; ``none`` is no flag."""
        value = self._data.get(key)
        if isinstance(value, str):
            values: tuple[str, ...] = tuple(value.split(","))
        else:
            values = self.strings(key)
        return frozenset(v.strip().lower() for v in values) - {"", "none"}

    def lowered(self, key: str) -> frozenset[str]:
        """A list of strings compared case-insensitively (GUIDs, Graph keywords)."""
        return frozenset(v.strip().lower() for v in self.strings(key))

    def text(self, key: str) -> str | None:
        value = self._data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(key, "a string", value)
        return value

    def flag(self, key: str) -> bool | None:
        value = self._data.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self._fail(key, "true or false", value)
        return value

    def section(self, key: str) -> Members | None:
        """A nested object (null or absent: None)."""
        value = self._data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self._fail(key, "an object", value)
        return Members(value, self.owner, self.name(key))

    def check_object_or_null(self, *keys: str) -> None:
        """Members whose content is not read but whose type is known (conditions the engine
        does not evaluate, session controls)."""
        for key in keys:
            value = self._data.get(key)
            if value is not None and not isinstance(value, Mapping):
                raise self._fail(key, "an object", value)

    def configured_outside(self, known: Iterable[str]) -> list[str]:
        """Names of configured members that are not in ``known`` (annotations left out)."""
        allowed = set(known)
        return [
            self.name(str(key))
            for key, value in self._data.items()
            if "@" not in str(key) and key not in allowed and configured(value)
        ]

    def configured_keys(self) -> list[str]:
        """The keys of the configured members (annotations left out)."""
        return [
            str(key)
            for key, value in self._data.items()
            if "@" not in str(key) and configured(value)
        ]

    def configured(self, key: str) -> bool:
        return configured(self._data.get(key))
