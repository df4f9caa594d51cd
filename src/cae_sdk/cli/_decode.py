"""``cae decode TOKEN|HEADER``: explain a JWT (without trusting it) or a challenge header."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ._commands import add_command
from ._explain import classify_input, explain_challenges, explain_token
from ._output import CLIError, ExitCode, Output, Table

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = add_command(
        commands,
        "decode",
        help="explain a token or a WWW-Authenticate challenge (nothing is verified)",
        description=(
            "Decode a JWT access token or Security Event Token WITHOUT verifying it, or a "
            "WWW-Authenticate value, and explain capabilities, lifetime, CAE claims and what a "
            "challenge asks for. Pass '-' to read from standard input."
        ),
    )
    parser.add_argument("value", help="a JWT, 'Bearer <jwt>', or a WWW-Authenticate value; '-'")
    parser.set_defaults(handler=run)


def read_argument(value: str) -> str:
    """The argument itself, or standard input for ``-``."""
    if value == "-":
        return sys.stdin.read()
    return value


def run(args: argparse.Namespace, out: Output) -> int:
    text = read_argument(args.value).strip()
    if not text:
        raise CLIError("nothing to decode: the value is empty")
    kind, value = classify_input(text)
    explained = (
        explain_token(value, now=int(time.time())) if kind == "token" else explain_challenges(value)
    )
    if out.json_mode:
        out.json(explained)
    elif explained["kind"] == "www-authenticate":
        _render_challenges(explained, out)
    else:
        _render_token(explained, out)
    return ExitCode.OK


def _render_token(data: dict[str, Any], out: Output) -> None:
    if data["kind"] == "security-event-token":
        out.key_values(
            "Security Event Token (RFC 8417)",
            [
                ("issuer", data["issuer"]),
                ("audience", data["audience"]),
                ("jti", data["jti"]),
                ("issued at", data["issued_at"]),
                ("subject", data["subject"]),
                ("events", data["event_types"]),
            ],
        )
    else:
        identity = data["identity"]
        lifetime = data["lifetime"]
        out.key_values(
            "Access token",
            [
                (
                    "algorithm / key id",
                    f"{data['header'].get('alg')} / {data['header'].get('kid')}",
                ),
                ("issuer", f"{data['issuer']} ({data['issuer_kind']})"),
                ("audience", data["audience"]),
                ("identity", identity["kind"]),
                ("tenant / object id", f"{identity['tenant_id']} / {identity['object_id']}"),
                ("client app id", identity["app_id"]),
                ("scopes / roles", [*identity["scopes"], *identity["roles"]]),
                ("capabilities (xms_cc)", data["capabilities"]),
                ("CAE capable", data["cae_capable"]),
                ("issued / expires", f"{lifetime['issued_at']} / {lifetime['expires_at']}"),
                ("lifetime / remaining", f"{lifetime['lifetime']} / {lifetime['remaining']}"),
                ("revocation subjects", data["revocation_subjects"]),
            ],
        )
        if data["cae_claims"]:
            out.key_values("CAE claims", sorted(data["cae_claims"].items()))
    _render_notes(data["notes"], out)


def _render_challenges(data: dict[str, Any], out: Output) -> None:
    for index, challenge in enumerate(data["challenges"], 1):
        table = Table(f"Challenge {index}: {challenge['scheme']}", ("parameter", "value"))
        for name, value in challenge["params"].items():
            table.add(name, value)
        if "claims_json" in challenge:
            table.add("claims (decoded)", challenge["claims_json"])
        out.table(table)
        _render_notes(challenge["meaning"], out)
    verdict = (
        "A cp1 client answers this with a new token request carrying the claims."
        if data["claims_challenge"]
        else "No usable CAE claims challenge: a cp1 client does not retry."
    )
    out.line(verdict, style="bold")


def _render_notes(notes: list[str], out: Output) -> None:
    for note in notes:
        out.line(f"  * {note}")
    out.line()
