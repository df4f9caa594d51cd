"""``cae lint FILE...``: check Conditional Access policy files (naming, overlaps, coverage)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from ._commands import add_command
from ._lint_rules import SEVERITIES, lint_policies
from ._output import ExitCode, Output, Table
from ._policy_file import read_policies

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = add_command(
        commands,
        "lint",
        help="check Conditional Access policy files against the naming framework and each other",
        description=(
            "Check Conditional Access policies (Graph conditionalAccessPolicy JSON: one object, a "
            'list, or {"value": [...]}) for names that break the persona naming framework, '
            "policies that contradict, duplicate or overlap each other, no policy catching the "
            "unknown device platform, and report-only policies left on. Several files are "
            "checked as one policy set."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="policy JSON file(s)")
    parser.add_argument(
        "--report-only-max-days",
        type=int,
        default=30,
        metavar="DAYS",
        help="warn about report-only policies unchanged for longer than this (default 30)",
    )
    parser.add_argument(
        "--fail-on",
        choices=("error", "warning", "never"),
        default="warning",
        help="exit 1 when a finding of this severity or worse exists (default warning)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, out: Output) -> int:
    policies = [policy for path in args.files for policy in read_policies(path)]
    findings = lint_policies(
        policies,
        now=datetime.now(timezone.utc),
        report_only_max_days=args.report_only_max_days,
    )
    counts = {severity: sum(f.severity == severity for f in findings) for severity in SEVERITIES}
    failed = args.fail_on != "never" and any(
        SEVERITIES.index(f.severity) >= SEVERITIES.index(args.fail_on) for f in findings
    )
    if out.json_mode:
        out.json(
            {
                "files": args.files,
                "policies": len(policies),
                "findings": [asdict(f) for f in findings],
                "counts": counts,
                "ok": not failed,
            }
        )
    else:
        table = Table(
            f"{len(policies)} policies checked", ("severity", "rule", "policy", "finding")
        )
        for finding in findings:
            table.add(finding.severity, finding.rule, finding.policy, finding.message)
        if findings:
            out.table(table)
        summary = ", ".join(f"{counts[s]} {s}" for s in reversed(SEVERITIES))
        out.line(f"{len(policies)} policies, {summary}", style="bold red" if failed else "bold")
    return ExitCode.FINDINGS if failed else ExitCode.OK
