"""Tell the demo as it happens, and print the summary (the only module of the demo that prints)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from .._output import Output, Table
from .timeline import Beat, StepResult, StepStatus, Timeline, sequence_picture

__all__ = ["ACTORS", "Story"]

ACTORS = ("admin", "user", "workload", "managed", "IdP", "API")
_STATUS_STYLE = {
    StepStatus.PASSED: "bold green",
    StepStatus.FAILED: "bold red",
    StepStatus.UNAVAILABLE: "bold yellow",
}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


class Story:
    """The timeline being recorded plus its live narration."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.timeline = Timeline(time.perf_counter())

    def now(self) -> float:
        return time.perf_counter()

    def elapsed_ms(self, since: float) -> float:
        return round((time.perf_counter() - since) * 1000, 1)

    def step(self, number: int, title: str) -> None:
        self.out.line()
        self.out.heading(f"Step {number}: {title}")

    def say(self, text: str) -> None:
        self.out.line(f"    {text}", style="dim")

    def beat(
        self,
        step: int,
        source: str,
        target: str,
        action: str,
        outcome: str = "",
        latency_ms: float | None = None,
        *,
        at: float | None = None,
    ) -> Beat:
        """Record and tell one arrow; ``at`` (a ``perf_counter()`` instant) defaults to now."""
        at_ms = self.timeline.at_ms(self.now() if at is None else at)
        beat = Beat(step, at_ms, source, target, action, outcome, latency_ms)
        self.timeline.beats.append(beat)
        arrow = f"{source} -> {target}"
        result = f"  =>  {outcome}" if outcome else ""
        took = f"  ({_ms(latency_ms)})" if latency_ms is not None else ""
        self.out.line(f"  [{beat.at_ms / 1000:6.2f}s] {arrow:<18} {action}{result}{took}")
        return beat

    def result(self, result: StepResult) -> StepResult:
        self.timeline.steps.append(result)
        style = _STATUS_STYLE[result.status]
        self.out.line(f"  {result.status.value.upper()}: {result.detail}", style=style)
        return result

    def summary(self, decisions: Sequence[Any], sets: Sequence[Any]) -> None:
        """Step 6: every event, decision and latency, and the sequence picture."""
        out = self.out
        events = Table("Timeline", ("step", "t", "from -> to", "action", "outcome", "latency"))
        for beat in self.timeline.beats:
            events.add(
                beat.step,
                f"{beat.at_ms / 1000:.2f}s",
                f"{beat.source} -> {beat.target}",
                beat.action,
                beat.outcome,
                _ms(beat.latency_ms),
            )
        out.table(events)
        verdicts = Table("Decisions of the API", ("#", "path", "client IP", "outcome", "reason"))
        for index, record in enumerate(decisions, 1):
            decision = record.decision
            verdicts.add(
                index, record.path, record.client_ip, decision.outcome.value, decision.reason.value
            )
        out.table(verdicts)
        received = Table("Security events pushed to the API", ("event", "changed state"))
        for item in sets:
            received.add(item.event_type.rsplit("/", 1)[-1], bool(item.changed))
        out.table(received)
        measured = Table("Measurements", ("step", "measurement", "value"))
        for step in self.timeline.steps:
            for name, value in step.measurements.items():
                measured.add(step.number, name, _ms(value))
        out.table(measured)
        out.line("Sequence")
        out.line(sequence_picture(self.timeline.beats, ACTORS, width=18))
        results = Table("Steps", ("step", "title", "result", "detail"))
        for step in self.timeline.steps:
            results.add(step.number, step.title, step.status.value, step.detail)
        out.table(results)
