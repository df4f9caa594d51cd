"""Helpers shared by every sub-command's ``register`` function."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_command"]


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS keeps `cae --json decode X` working: the sub-parser only sets it when given.
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON document instead of tables (for scripts)",
    )
    return common


def add_command(
    commands: Any, name: str, *, help: str, description: str, extra: str | None = None
) -> argparse.ArgumentParser:
    """Add a sub-command that accepts the common options (``--json``).

    ``extra`` names the optional extra the command cannot run without: ``cae`` checks it is
    installed before the command starts and otherwise says which one to install, in one line,
    with exit code 3 (:func:`cae_sdk.cli._app.run`).
    """
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=help, description=description, parents=[_common_options()]
    )
    parser.set_defaults(needs_extra=extra)
    return parser
