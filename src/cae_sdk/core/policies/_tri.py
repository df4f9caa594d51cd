"""Three-valued outcomes: a condition or control is met (True), not met (False), or
:class:`Undecided` when it hangs on something the resource cannot observe.

Kleene's strong three-valued logic: one observed False settles a conjunction, one observed True
settles a disjunction, whatever is undecided next to it. An :class:`Undecided` carries the
reasons, and only reasons that could still change the result travel upwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Tri", "Undecided", "all_of", "any_of", "negate", "undecided"]


@dataclass(frozen=True, slots=True)
class Undecided:
    reasons: tuple[str, ...]


Tri = bool | Undecided


def undecided(*reasons: str) -> Undecided:
    return Undecided(tuple(dict.fromkeys(reasons)))


def _merge(parts: Iterable[Undecided]) -> Undecided:
    return undecided(*(reason for part in parts for reason in part.reasons))


def all_of(parts: Iterable[Tri]) -> Tri:
    """Conjunction: False if any part is False, else undecided if any part is."""
    return _fold(parts, decisive=False)


def any_of(parts: Iterable[Tri]) -> Tri:
    """Disjunction: True if any part is True, else undecided if any part is."""
    return _fold(parts, decisive=True)


def _fold(parts: Iterable[Tri], *, decisive: bool) -> Tri:
    """Kleene's conjunction (``decisive`` False) or disjunction (True): the first part that is
    ``decisive`` decides; otherwise undecided if any part is, else ``not decisive``."""
    open_parts: list[Undecided] = []
    for part in parts:
        if part is decisive:
            return decisive
        if isinstance(part, Undecided):
            open_parts.append(part)
    return _merge(open_parts) if open_parts else not decisive


def negate(value: Tri) -> Tri:
    return value if isinstance(value, Undecided) else not value
