"""What happened during the demo, as plain values (pure: no printing, no clock of its own).

Every step records :class:`Beat` values (who did what to whom, what came back, how long it took)
and ends with a :class:`StepResult`. The narrator renders them; tests read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

__all__ = ["Beat", "StepResult", "StepStatus", "Timeline", "sequence_picture", "verdict"]


class StepStatus(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"  # a part it needs is missing: not run, not a failure


@dataclass(frozen=True, slots=True)
class Beat:
    """One arrow of the sequence picture: ``source -> target: action => outcome``."""

    step: int
    at_ms: float
    source: str
    target: str
    action: str
    outcome: str = ""
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class StepResult:
    number: int
    title: str
    status: StepStatus
    detail: str
    measurements: dict[str, float] = field(default_factory=dict)


@dataclass
class Timeline:
    """Beats and step results in order; ``start`` is the ``perf_counter()`` of the demo start."""

    start: float
    beats: list[Beat] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)

    def at_ms(self, now: float) -> float:
        """Milliseconds since the start, for a ``perf_counter()`` instant."""
        return round((now - self.start) * 1000, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "beats": [asdict(b) for b in self.beats],
            "steps": [{**asdict(s), "status": s.status.value} for s in self.steps],
        }


def verdict(steps: Sequence[StepResult]) -> tuple[bool, list[int], list[int]]:
    """(all that ran passed, failed step numbers, unavailable step numbers)."""
    failed = [s.number for s in steps if s.status is StepStatus.FAILED]
    unavailable = [s.number for s in steps if s.status is StepStatus.UNAVAILABLE]
    return not failed, failed, unavailable


def sequence_picture(beats: Sequence[Beat], actors: Sequence[str], *, width: int = 16) -> str:
    """An ASCII sequence diagram: one column per actor, one arrow per beat.

    ::

        client          API             IdP
          |--GET /api---->|               |
          |<-----200------|               |
    """
    column = {actor: index * width + width // 2 for index, actor in enumerate(actors)}
    total = width * len(actors)
    lines = ["".join(actor.center(width)[:width] for actor in actors).rstrip()]
    lifelines = [" "] * total
    for position in column.values():
        lifelines[position] = "|"
    empty = "".join(lifelines).rstrip()
    last_step = None
    for beat in beats:
        if beat.step != last_step:
            lines.append(empty)
            lines.append(f"-- step {beat.step} " + "-" * max(0, total - 10 - len(str(beat.step))))
            last_step = beat.step
        if beat.source not in column or beat.target not in column:
            continue
        lines.append(_arrow(lifelines, column[beat.source], column[beat.target], beat.action))
        if beat.outcome:
            lines.append(_arrow(lifelines, column[beat.target], column[beat.source], beat.outcome))
    lines.append(empty)
    return "\n".join(lines)


def _arrow(lifelines: list[str], start: int, end: int, label: str) -> str:
    row = list(lifelines)
    if start == end:  # an action on itself: a note beside the lifeline
        text = f"|  ({label})"
        row[start : start + len(text)] = list(text)
        return "".join(row).rstrip()
    low, high = sorted((start, end))
    span = high - low - 1
    text = label if len(label) <= span - 2 else label[: max(0, span - 3)] + "~"
    body = text.center(span, "-")
    body = body[:-1] + ">" if start < end else "<" + body[1:]
    row[low + 1 : high] = list(body)
    return "".join(row).rstrip()
