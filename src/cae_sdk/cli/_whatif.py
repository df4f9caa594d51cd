"""``cae whatif``: which Conditional Access policies apply to a request, and why."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core.locations import GeolocationSource, parse_ip
from ..core.policies import PolicyContext, PolicyOptions
from ..core.tokens import TokenClaims, decode_unverified
from ._commands import add_command
from ._decode import read_argument
from ._output import CLIError, ExitCode, Output, Table
from ._policy_file import read_locations_file, read_policy_file
from ._whatif_report import explain_evaluation

__all__ = ["build_context", "register"]


def register(commands: Any) -> None:
    parser = add_command(
        commands,
        "whatif",
        help="which policies apply to a request, which would block, which are undecided",
        description=(
            "Evaluate Conditional Access policies (Graph JSON) with the resource's own policy "
            "engine for one request, like Entra's What If tool, and say why for each policy. "
            "What the resource cannot observe is reported as undecided. "
            "The token is decoded without verification: it is an input here, not a credential."
        ),
    )
    parser.add_argument("--policies", required=True, type=Path, help="policy JSON file")
    parser.add_argument("--token", required=True, help="the access token (JWT) or '-' for stdin")
    parser.add_argument("--ip", help="client IP address as the resource sees it")
    parser.add_argument("--user-agent", default="", help="User-Agent (device platform)")
    parser.add_argument(
        "--locations",
        type=Path,
        help="named locations JSON (Graph ipNamedLocation and countryNamedLocation)",
    )
    parser.add_argument(
        "--country",
        help="the client IP's country (ISO 3166 alpha-2, or 'none' for an address in no "
        "country) as a geolocation source says; without it country locations are undecided",
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
        help="authentication context the route requires (c1..c99); repeatable",
    )
    parser.add_argument(
        "--mfa-auth-context",
        help="authentication context the tenant ties to MFA (enforces 'require MFA' through it)",
    )
    parser.add_argument(
        "--groups-claim-complete",
        action="store_true",
        help="the token's groups claim lists every group of the user as object ids "
        "(PolicyOptions.groups_claim_complete); without it a group missing from the claim is "
        "undecided",
    )
    parser.add_argument(
        "--strict-locations",
        action="store_true",
        help="CAE strict location enforcement (PolicyOptions.strict_locations): the client IP "
        "alone decides location conditions; by default a location the identity provider saw "
        "as allowed (the token's ipaddr) is honoured",
    )
    parser.add_argument(
        "--tenant-id",
        help="the tenant the policies belong to (PolicyOptions.tenant_id): they apply only to "
        "tokens whose tid names it; default: the token's tenant",
    )
    parser.add_argument(
        "--user-risk",
        choices=_RISKS,
        help="the user's risk level (default: not known, risk conditions are undecided)",
    )
    parser.add_argument(
        "--sp-risk", choices=_RISKS, help="the service principal's risk level (default: not known)"
    )
    parser.set_defaults(handler=run)


_RISKS = ("none", "low", "medium", "high")


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


def _geolocation(country: str | None) -> GeolocationSource | None:
    if country is None:
        return None
    if country.strip().lower() == "none":
        return lambda _address: None  # the address maps to no country
    code = country.strip().upper()
    if len(code) != 2 or not code.isalpha():
        raise CLIError(f"--country {country!r} is not an ISO 3166 alpha-2 country code or none")
    return lambda _address: code


def build_context(args: argparse.Namespace, claims: TokenClaims) -> PolicyContext:
    """The request ``cae whatif`` describes, as the resource's engine reads it."""
    if args.ip is not None and parse_ip(args.ip) is None:
        raise CLIError(f"--ip {args.ip!r} is not an IP address")
    options = PolicyOptions(
        mfa_auth_context=args.mfa_auth_context,
        geolocation=_geolocation(args.country),
        groups_claim_complete=args.groups_claim_complete,
        tenant_id=args.tenant_id,
        strict_locations=args.strict_locations,
    )
    return options.context(
        claims,
        client_ip=args.ip,
        user_agent=args.user_agent or None,
        app_ids=_app_ids(claims, args.app_id),
        auth_contexts=frozenset(c.strip().lower() for c in args.auth_context),
        named_locations=read_locations_file(args.locations) if args.locations else (),
        user_risk=args.user_risk,
        service_principal_risk=args.sp_risk,
    )


def run(args: argparse.Namespace, out: Output) -> int:
    _, payload = decode_unverified(read_argument(args.token).strip())
    claims = TokenClaims(payload)
    policies = read_policy_file(args.policies)
    report = explain_evaluation(policies, build_context(args, claims))
    if out.json_mode:
        out.json(report)
        return ExitCode.OK
    request = report["request"]
    out.key_values(
        "Request",
        [
            ("identity", request["identity"]),
            ("client IP", request["client_ip"]),
            ("identity provider saw (ipaddr)", request["token_ip"]),
            ("location enforcement", request["location_enforcement"]),
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
    if decision["undecided"]:
        names = [row["name"] for row in report["policies"] if row["id"] in decision["undecided"]]
        out.line(f"Undecided at the resource (not enforced here): {', '.join(names)}")
    return ExitCode.OK
