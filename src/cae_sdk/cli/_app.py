"""Command dispatch for ``cae``: one module per sub-command, one place that maps errors to
exit codes (see :class:`~cae_sdk.cli._output.ExitCode`), never a traceback for bad input."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from .._extras import MissingExtra, require_extra
from .._version import __version__
from ..core.errors import CAEError
from . import _decode as decode
from . import _demo as demo
from . import _events_cmd as events_cmd
from . import _idp_cmd as idp_cmd
from . import _lint as lint
from . import _whatif as whatif
from ._output import CLIError, ExitCode, Output

__all__ = ["build_parser", "run"]

_COMMANDS: tuple[Callable[[Any], None], ...] = (
    demo.register,
    decode.register,
    lint.register,
    events_cmd.register,
    idp_cmd.register,
    whatif.register,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cae",
        description="Continuous Access Evaluation tools",
        epilog="exit codes: 0 ok, 1 findings or a failed step, 2 bad input, "
        "3 a needed part is unavailable, 130 interrupted",
    )
    parser.add_argument("--version", action="version", version=f"cae-sdk {__version__}")
    parser.add_argument(
        "--json", action="store_true", default=False, help="print JSON instead of tables"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _COMMANDS:
        register(commands)
    return parser


def run(argv: list[str], *, output: Output | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code) if isinstance(exc.code, int) else ExitCode.USAGE
    if args.command is None:
        parser.print_help()
        return ExitCode.OK
    out = output or Output(json_mode=args.json)
    out.json_mode = args.json
    handler: Callable[[argparse.Namespace, Output], int] = args.handler
    try:
        extra = getattr(args, "needs_extra", None)
        if extra is not None:
            require_extra(extra, f"cae {args.command}")
        return int(handler(args, out))
    except MissingExtra as exc:  # any optional import, checked up front or met on the way
        out.error(str(exc))
        return ExitCode.UNAVAILABLE
    except CLIError as exc:
        out.error(str(exc))
        return exc.code
    except CAEError as exc:  # malformed token, header, claims, key, SET, policy...
        out.error(str(exc))
        return ExitCode.USAGE
    except KeyboardInterrupt:
        out.error("interrupted")
        return ExitCode.INTERRUPTED
