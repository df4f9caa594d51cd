"""``cae idp``: run the dev identity provider in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import threading
from collections.abc import Mapping
from typing import Any

from ._commands import add_command
from ._output import CLIError, ExitCode, Output, Table

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = add_command(
        commands,
        "idp",
        help="run the dev identity provider (HTTPS on loopback) until Ctrl-C",
        description=(
            "Start the local Entra-compatible identity provider over HTTPS on a free loopback "
            "port, print its URLs, the CA bundle to trust and the seeded credentials, and serve "
            "until Ctrl-C (or --seconds). The CA, keys and secrets are throw-away: they are "
            "generated at start and removed on exit."
        ),
        extra="devidp",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    parser.add_argument("--tenant-id", help="tenant id (GUID) instead of a random one")
    parser.add_argument(
        "--token-lifetime",
        type=int,
        metavar="SECONDS",
        help="lifetime of cp1 (CAE) access tokens (default 24 h)",
    )
    parser.add_argument(
        "--no-auto-approve",
        action="store_true",
        help="device codes wait for an admin approval instead of being approved at once",
    )
    parser.add_argument("--seconds", type=float, help="stop after this many seconds")
    parser.set_defaults(handler=run)


def _settings(args: argparse.Namespace) -> Any:
    from ..devidp import IdPSettings

    settings = IdPSettings()
    if args.token_lifetime is not None:
        if args.token_lifetime <= 0:
            raise CLIError("--token-lifetime must be positive")
        settings.cp1_token_lifetime = args.token_lifetime
    if args.no_auto_approve:
        settings.device_code_auto_approve = False
    return settings


def _flatten(prefix: str, value: Any, rows: list[tuple[str, Any]]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, rows)
    else:
        rows.append((prefix, value))


def describe_rows(description: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``DevIdentityProvider.describe()`` as ``(dotted.name, value)`` rows."""
    rows: list[tuple[str, Any]] = []
    _flatten("", description, rows)
    return rows


def run(args: argparse.Namespace, out: Output) -> int:
    from ..devidp import DevIdentityProvider  # MissingExtra without uvicorn: exit 3

    stop = threading.Event()
    previous = signal.getsignal(signal.SIGTERM)
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:  # SIGTERM stops as cleanly as Ctrl-C
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with DevIdentityProvider(_settings(args), tenant_id=args.tenant_id, host=args.host) as idp:
            description = {**idp.describe(), "environment": idp.environment()}
            if out.json_mode:
                out.json(description)
            else:
                table = Table("Dev identity provider (throw-away tenant)", ("setting", "value"))
                for key, value in describe_rows(idp.describe()):
                    table.add(key, value)
                out.table(table)
                out.line(
                    f"MSAL: authority={idp.authority} instance_discovery=False, "
                    f"verify TLS with {idp.ca_bundle}"
                )
                out.line(
                    "azure-identity (EnvironmentCredential, DefaultAzureCredential): export the "
                    "variables below and pass disable_instance_discovery=True"
                )
                out.line("Shell environment for MSAL / azure-identity clients:")
                for name, value in idp.environment().items():
                    out.line(f"  export {name}={shlex.quote(value)}")
                out.line("Serving; press Ctrl-C to stop.")
            out.stream.flush()
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait(args.seconds)
    except (RuntimeError, OSError) as exc:
        raise CLIError(f"the dev identity provider failed: {exc}", ExitCode.UNAVAILABLE) from None
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    out.line("Stopped; its CA, keys and secrets were removed.")
    return ExitCode.OK
