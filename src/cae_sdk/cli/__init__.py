"""The ``cae`` command line."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    from ._app import run

    return run(sys.argv[1:] if argv is None else argv)
