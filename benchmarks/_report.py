"""The goal table most benchmarks print: measure, value, goal, ok."""

from __future__ import annotations

from collections.abc import Sequence

Row = tuple[str, str, str, bool]


def print_goal_table(rows: Sequence[Row]) -> int:
    """Print ``rows`` aligned; return 0 when every goal is met, else 1 (the script's exit)."""
    name_width = max(len(row[0]) for row in rows)
    value_width = max(len("value"), *(len(row[1]) for row in rows))
    print(f"{'measure'.ljust(name_width)}  {'value'.ljust(value_width)} {'goal':<8} ok")
    for name, value, goal, passed in rows:
        verdict = "yes" if passed else "NO"
        print(f"{name.ljust(name_width)}  {value.ljust(value_width)} {goal:<8} {verdict}")
    return 0 if all(row[3] for row in rows) else 1
