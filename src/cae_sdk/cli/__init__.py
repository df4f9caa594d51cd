"""The ``cae`` command line."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``cae`` command with ``argv`` (default: ``sys.argv[1:]``) and return its exit code
    (0 ok, 1 findings or a failed step, 2 bad input, 3 a needed part is unavailable, 130
    interrupted)."""
    from ._app import run

    return run(sys.argv[1:] if argv is None else argv)
