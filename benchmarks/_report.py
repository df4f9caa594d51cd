"""The goal table most benchmarks print: measure, value, goal, ok."""

from __future__ import annotations

from collections.abc import Sequence

Row = tuple[str, str, str, bool]


def print_goal_table(rows: Sequence[Row]) -> int:
    """Print ``rows`` aligned; return 0 when every goal is met, else 1 (the script's exit)."""
    table = [("measure", "value", "goal", "ok")]
    table += [(name, value, goal, "yes" if ok else "NO") for name, value, goal, ok in rows]
    widths = [max(len(line[i]) for line in table) for i in range(3)]
    for name, value, goal, verdict in table:
        print(
            f"{name.ljust(widths[0])}  {value.ljust(widths[1])}  {goal.ljust(widths[2])}  {verdict}"
        )
    return 0 if all(row[3] for row in rows) else 1
