"""``cae whatif``: which Conditional Access policies apply to a request, and why."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..core.errors import ConfigurationError
from ..core.locations import NamedLocation, parse_ip
from ..core.policies import PolicyContext, load_policies
from ..core.tokens import TokenClaims, decode_unverified
from ._commands import add_command
from .decode import read_argument
from .output import CLIError, ExitCode, Output, Table
from .policy_file import load_policy_documents
from .whatif_report import explain_evaluation

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = add_command(
        commands,
        "whatif",
        help="which policies apply to a request, which would block, which are report-only",
        description=(
            "Evaluate Conditional Access policies (Graph JSON) with the resource's own policy "
            "engine for one request, like Entra's What If tool, and say why for each policy. "
            "The token is decoded without verification: it is an input here, not a credential."
        ),
    )
    parser.add_argument("--policies", required=True, type=Path, help="policy JSON file")
    parser.add_argument("--token", required=True, help="the access token (JWT) or '-' for stdin")
    parser.add_argument("--ip", help="client IP address as the resource sees it")
    parser.add_argument("--user-agent", default="", help="User-Agent (device platform)")
    parser.add_argument(
        "--locations", type=Path, help="named locations JSON (Graph ipNamedLocation list)"
    )
    parser.add_argument(
        "--app-id",
        action="append",
        default=[],
        help="this resource's application id (default: from the token's aud); repeatable",
    )
    parser.add_argument(
        "--auth-context",
        action="append",
        default=[],
        help="authentication context the route requires (c1..c25); repeatable",
    )
    parser.add_argument("--user-risk", choices=("none", "low", "medium", "high"))
    parser.add_argument("--sp-risk", choices=("none", "low", "medium", "high"))
    parser.set_defaults(handler=run)


def read_locations(path: Path) -> tuple[NamedLocation, ...]:
    """IP named locations from Graph JSON; country locations are skipped (not enforceable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise ConfigurationError(f"{path}: not valid JSON ({exc})") from None
    items = data.get("value", [data]) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ConfigurationError(f"{path}: expected a list of named locations")
    locations = []
    for item in items:
        if not isinstance(item, dict) or "ipRanges" not in item:
            continue
        try:
            locations.append(NamedLocation.from_dict(item))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"{path}: bad named location {item.get('id')!r}: {exc}"
            ) from None
    return tuple(locations)


def _app_ids(claims: TokenClaims, explicit: list[str]) -> frozenset[str]:
    if explicit:
        return frozenset(a.lower() for a in explicit)
    audiences = claims.get("aud")
    values = audiences if isinstance(audiences, list) else [audiences]
    ids = set()
    for value in values:
        if isinstance(value, str) and value:
            ids.add(value.lower())
            ids.add(value.lower().removeprefix("api://"))
    return frozenset(ids)


def run(args: argparse.Namespace, out: Output) -> int:
    _, payload = decode_unverified(read_argument(args.token).strip())
    claims = TokenClaims(payload)
    if args.ip is not None and parse_ip(args.ip) is None:
        raise CLIError(f"--ip {args.ip!r} is not an IP address")
    policies = load_policies(load_policy_documents(args.policies))
    context = PolicyContext(
        claims=claims,
        client_ip=args.ip,
        user_agent=args.user_agent or None,
        app_ids=_app_ids(claims, args.app_id),
        auth_contexts=frozenset(c.lower() for c in args.auth_context),
        named_locations=read_locations(args.locations) if args.locations else (),
        user_risk=args.user_risk,
        service_principal_risk=args.sp_risk,
    )
    report = explain_evaluation(policies, context)
    if out.json_mode:
        out.json(report)
        return ExitCode.OK
    request = report["request"]
    out.key_values(
        "Request",
        [
            ("identity", request["identity"]),
            ("client IP", request["client_ip"]),
            ("named locations", request["named_locations_matched"]),
            ("device platform", request["device_platform"]),
            ("resource app ids", request["app_ids"]),
            ("auth contexts", request["auth_contexts"]),
        ],
    )
    table = Table("Policies", ("policy", "state", "effect", "why"))
    for row in report["policies"]:
        table.add(row["name"], row["state"], row["effect"], row["why"])
    out.table(table)
    decision = report["decision"]
    verdict = decision["outcome"].upper()
    if decision["description"]:
        verdict += f": {decision['description']}"
    out.line(f"Decision: {verdict}", style="bold")
    if decision["report_only"]:
        out.line(f"Report-only policies that would apply: {', '.join(decision['report_only'])}")
    return ExitCode.OK
