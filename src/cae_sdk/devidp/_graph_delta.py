"""Microsoft Graph delta query paging over the directory change log, as pure functions.

A delta round (Graph "delta query overview") pages with ``@odata.nextLink`` and ends with an
``@odata.deltaLink``; calling the delta link later returns the objects changed since, removed
ones as ``{"id", "@removed": {"reason": "changed"}}``. State lives in opaque tokens
(``$skiptoken`` / ``$deltatoken``): ``since`` (last change seen), ``upto`` (the log position the
round is pinned to, so paging is stable while the directory changes) and ``offset``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._directory import DirectoryChange
from ._errors import GraphError

__all__ = ["DeltaError", "DeltaPage", "DeltaState", "decode_state", "delta_page", "encode_state"]


class DeltaError(GraphError):
    """``status`` 400 (malformed request) or 410 (the state is unknown: resync)."""


@dataclass(frozen=True)
class DeltaState:
    since: int = 0
    upto: int | None = None
    offset: int = 0
    select: tuple[str, ...] = ()


def encode_state(state: DeltaState) -> str:
    raw = json.dumps(
        {"s": state.since, "u": state.upto, "o": state.offset, "sel": list(state.select)},
        separators=(",", ":"),
    ).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_state(token: str, latest_seq: int) -> DeltaState:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        state = DeltaState(
            since=int(data["s"]),
            upto=None if data["u"] is None else int(data["u"]),
            offset=int(data["o"]),
            select=tuple(str(s) for s in data["sel"]),
        )
    except (ValueError, KeyError, TypeError, RecursionError):  # ValueError: binascii, UTF-8
        raise DeltaError(400, "BadRequest", "The delta or skip token is malformed.") from None
    if (
        state.since < 0
        or state.offset < 0
        or state.since > latest_seq
        or (state.upto is not None and not state.since <= state.upto <= latest_seq)
    ):
        # A token from another run of the provider: Graph answers 410 and a full resync.
        raise DeltaError(410, "syncStateNotFound", "The delta state is unknown; resync.")
    return state


def parse_select(value: str | None, allowed: Sequence[str]) -> tuple[str, ...]:
    if not value:
        return ()
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    for name in names:
        if name not in allowed:
            raise DeltaError(
                400, "BadRequest", f"Could not find a property named '{name[:64]}' on the type."
            )
    return names


@dataclass(frozen=True)
class DeltaPage:
    items: list[dict[str, Any]]
    next_state: DeltaState | None  # more pages in this round
    delta_state: DeltaState | None  # end of round


def delta_page(
    changes: Sequence[DirectoryChange],
    kind: str,
    state: DeltaState,
    page_size: int,
    view: Callable[[str], Mapping[str, Any] | None],
) -> DeltaPage:
    """One page of a delta round over ``changes`` for objects of ``kind``.

    ``view(object_id)`` gives an object's current properties, or ``None`` if it is removed.
    The first round (``since == 0``) lists present objects only.
    """
    upto = state.upto if state.upto is not None else (changes[-1].seq if changes else 0)
    latest: dict[str, int] = {}
    for change in changes:
        if change.kind == kind and state.since < change.seq <= upto:
            latest[change.object_id] = change.seq
    ordered = sorted(latest, key=latest.__getitem__)
    items: list[dict[str, Any]] = []
    for object_id in ordered:
        current = view(object_id)
        if current is None:
            if state.since > 0:
                items.append({"id": object_id, "@removed": {"reason": "changed"}})
            continue
        if state.select:
            items.append({k: current.get(k) for k in ("id", *state.select)})
        else:
            items.append(dict(current))
    page = items[state.offset : state.offset + page_size]
    if state.offset + page_size < len(items):
        return DeltaPage(
            page, DeltaState(state.since, upto, state.offset + page_size, state.select), None
        )
    return DeltaPage(page, None, DeltaState(upto, None, 0, state.select))
