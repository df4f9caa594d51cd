"""Command dispatch for ``cae`` (sub-commands are added by the product-surface work)."""

from __future__ import annotations

import argparse

from .._version import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cae", description="Continuous Access Evaluation tools")
    parser.add_argument("--version", action="version", version=f"cae-sdk {__version__}")
    parser.add_subparsers(dest="command")
    return parser


def run(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return 0
