"""Optional extras: which packages each ``cae-sdk[extra]`` installs, and the one error that says
which extra a feature needs.

The extras are read from the installed package's own metadata (``Requires-Dist`` with an
``extra == "name"`` marker, core metadata 2.1), so ``pyproject.toml`` stays the one list of
them. Every optional import of the SDK goes through :func:`missing_extra`; the ``cae`` command
turns :class:`MissingExtra` into its one-line error and exit code 3, the pytest plugin into a
failed fixture with the same sentence.
"""

from __future__ import annotations

import re
from importlib import metadata

__all__ = [
    "MissingExtra",
    "extra_packages",
    "missing_extra",
    "missing_packages",
    "require_extra",
]

DISTRIBUTION = "cae-sdk"

# `name[extras] >=1.0 ; extra == "cli"`: the distribution name (PEP 508) and the extra marker.
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


class MissingExtra(ImportError):
    """A feature needs an optional extra that is not installed. An ``ImportError``, so code that
    already guards an optional import with ``except ImportError`` keeps working."""

    def __init__(self, feature: str, extra: str, missing: list[str]) -> None:
        self.feature = feature
        self.extra = extra
        self.missing = missing
        what = f" (missing: {', '.join(missing)})" if missing else ""
        super().__init__(
            f"{feature} needs the '{extra}' extra{what}: pip install 'cae-sdk[{extra}]'"
        )


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def extra_packages(extra: str) -> list[str] | None:
    """Distribution names the extra installs, or None when cae-sdk's metadata is not there
    (running from a source tree that was never installed)."""
    try:
        requirements = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return None
    names: list[str] = []
    for requirement in requirements:
        requirement_text, _, marker = requirement.partition(";")
        extras = _EXTRA_MARKER.findall(marker)
        name = _NAME.match(requirement_text)
        if name and extra in extras and _normalise(name.group(1)) != DISTRIBUTION:
            names.append(name.group(1))
    return names


def missing_packages(extra: str) -> list[str]:
    """The packages of ``extra`` that are not installed (empty when all are, or when the
    metadata cannot tell)."""
    missing = []
    for name in extra_packages(extra) or []:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def require_extra(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtra` unless every package of ``extra`` is installed."""
    missing = missing_packages(extra)
    if missing:
        raise MissingExtra(feature, extra, missing)


def missing_extra(exc: ImportError, extra: str, feature: str) -> MissingExtra:
    """The :class:`MissingExtra` for a failed optional import (``raise missing_extra(...) from
    None`` in the ``except`` of the import)."""
    missing = [exc.name.partition(".")[0]] if exc.name else []
    return MissingExtra(feature, extra, missing)
