"""Terminal output for ``cae``: rich tables when ``rich`` is installed, plain text otherwise,
and JSON for scripts (``--json``).

Commands build plain data (dicts, lists of rows) with pure functions and hand it here; nothing
else in the CLI prints. Exit codes are defined once, in :class:`ExitCode`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TextIO

__all__ = ["CLIError", "ExitCode", "Output", "Table"]


class ExitCode(IntEnum):
    """Exit codes of every ``cae`` command (documented in ``docs/cli.md``)."""

    OK = 0
    FINDINGS = 1
    """The command ran and found a problem: lint errors, a refused SET, a demo step misbehaved."""
    USAGE = 2
    """Bad arguments or bad input (a malformed token, header, policy file or key)."""
    UNAVAILABLE = 3
    """A needed part is missing or unreachable: an optional extra, a server, a store."""
    INTERRUPTED = 130


class CLIError(Exception):
    """An error the CLI reports as one clear line (never a traceback) with an exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Table:
    title: str
    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        self.rows.append(cells)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value) or "-"
    if isinstance(value, Mapping):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


class Output:
    """Where a command writes. ``json_mode`` switches every command to one JSON document."""

    def __init__(
        self,
        *,
        json_mode: bool = False,
        stream: TextIO | None = None,
        errors: TextIO | None = None,
        use_rich: bool | None = None,
    ) -> None:
        self.json_mode = json_mode
        self._stream = stream
        self._errors = errors
        self._rich: Any = None
        if use_rich is None:
            use_rich = self.stream.isatty()
        if use_rich and not json_mode:
            try:
                from rich.console import Console
            except ImportError:  # the "cli" extra is optional: fall back to plain text
                pass
            else:
                self._rich = Console(file=self.stream, highlight=False, soft_wrap=False)

    @property
    def stream(self) -> TextIO:
        # Resolved late so pytest's capsys (which swaps sys.stdout) sees the output.
        return self._stream if self._stream is not None else sys.stdout

    @property
    def errors(self) -> TextIO:
        return self._errors if self._errors is not None else sys.stderr

    def json(self, data: Any) -> None:
        self.stream.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
        self.stream.flush()

    def line(self, text: str = "", *, style: str | None = None) -> None:
        """A line of narration (suppressed in JSON mode so stdout stays one document)."""
        if self.json_mode:
            return
        if self._rich is not None:
            from rich.text import Text

            # soft_wrap: long narration and the sequence picture are not re-wrapped by rich.
            self._rich.print(Text(text, style=style or ""), soft_wrap=True)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def heading(self, text: str) -> None:
        if self._rich is not None and not self.json_mode:
            self._rich.rule(text)
        else:
            self.line(text)
            self.line("=" * len(text))

    def table(self, table: Table) -> None:
        if self.json_mode:
            return
        if self._rich is not None:
            from rich.table import Table as RichTable

            rich_table = RichTable(title=table.title or None, title_justify="left")
            for column in table.columns:
                rich_table.add_column(column, overflow="fold")
            for row in table.rows:
                rich_table.add_row(*(_cell(c) for c in row))
            self._rich.print(rich_table)
            return
        self.stream.write(render_plain(table))
        self.stream.flush()

    def key_values(self, title: str, pairs: Sequence[tuple[str, Any]]) -> None:
        table = Table(title, ("field", "value"))
        for key, value in pairs:
            table.add(key, value)
        self.table(table)

    def error(self, message: str) -> None:
        self.errors.write(f"cae: error: {message}\n")
        self.errors.flush()

    def warn(self, message: str) -> None:
        self.errors.write(f"cae: warning: {message}\n")
        self.errors.flush()


def render_plain(table: Table) -> str:
    """Fixed-width text table (no colour), used when rich is absent or output is piped."""
    cells = [[_cell(c) for c in row] for row in table.rows]
    widths = [len(c) for c in table.columns]
    for row in cells:
        for index, text in enumerate(row):
            widths[index] = max(widths[index], len(text))
    lines = []
    if table.title:
        lines.append(table.title)
    lines.append("  ".join(c.ljust(w) for c, w in zip(table.columns, widths, strict=True)))
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(t.ljust(w) for t, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n\n"
