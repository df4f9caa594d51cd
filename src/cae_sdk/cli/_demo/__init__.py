"""``cae demo``: Continuous Access Evaluation end to end on loopback, narrated.

:mod:`.world` starts the parts (dev identity provider, protected API with the Shared Signals push
receiver, SDK clients), :mod:`.steps` plays the scenario and checks it, :mod:`.timeline` keeps
what happened as values and :mod:`.narrator` tells it. Exit code: 0 when every step that ran
behaved as narrated (steps whose parts are missing are listed as unavailable), 1 when a step
that ran misbehaved, 3 when the identity provider or the API cannot start at all.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from .._commands import add_command
from .._output import ExitCode, Output
from .narrator import Story
from .timeline import StepResult, StepStatus, verdict

__all__ = ["register", "run"]

SUMMARY_STEP = 6


def register(commands: Any) -> None:
    parser = add_command(
        commands,
        "demo",
        help="run the CAE scenario end to end on loopback (what `make demo` runs)",
        description=(
            "Start the dev identity provider, a FastAPI API protected by CAEMiddleware (with a "
            "Shared Signals push receiver and a strict named location) and three SDK clients, "
            "then play: cp1 tokens; sessions revoked; service principal disabled; a call from "
            "outside the named location; an authentication-context step-up; and a summary. "
            "Exit 0 when every step that ran behaved as narrated, 1 otherwise."
        ),
        extra="demo",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=SUMMARY_STEP - 1,
        choices=range(1, SUMMARY_STEP),
        metavar="N",
        help="play steps 1..N only (default: all five), then the summary",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, out: Output) -> int:
    from .steps import STEPS
    from .world import open_world

    started = time.perf_counter()
    story = Story(out)
    out.heading("cae demo: Continuous Access Evaluation, end to end on loopback")
    with open_world() as world:
        endpoints = {"idp_url": world.idp.base_url, "api_url": world.api_url}
        story.say(f"identity provider {world.idp.base_url} (tenant {world.tenant_id})")
        story.say(f"protected API {world.api_url}, strict named location 127.0.0.1/32")
        for part, why in sorted(world.missing.items()):
            out.warn(f"demo part unavailable: {part}: {why}")
        for step in STEPS[: args.steps]:
            try:
                result = step(world, story)
            except Exception as exc:  # noqa: BLE001 - a crash inside a step is that step failing
                result = StepResult(
                    len(story.timeline.steps) + 1,
                    step.__name__.removeprefix("step_").replace("_", " "),
                    StepStatus.FAILED,
                    f"{type(exc).__name__}: {exc}",
                )
            story.result(result)
        story.step(SUMMARY_STEP, "summary")
        story.summary(world.decisions, world.received)
    ok, failed, unavailable = verdict(story.timeline.steps)
    seconds = time.perf_counter() - started
    if out.json_mode:
        out.json({"ok": ok, "seconds": round(seconds, 2), **endpoints, **story.timeline.to_dict()})
    else:
        if unavailable:
            out.line(f"Not available (not run): steps {', '.join(map(str, unavailable))}")
        if failed:
            out.line(f"FAILED: steps {', '.join(map(str, failed))}", style="bold red")
        else:
            out.line(f"Every step that ran behaved as narrated ({seconds:.1f} s).", style="bold")
        out.line("All servers stopped; ports released; the throw-away tenant is gone.")
    return ExitCode.OK if ok else ExitCode.FINDINGS
