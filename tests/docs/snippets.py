"""Find the Python blocks of README.md and docs/*.md and how each one is to be run.

Every fenced block whose info string is ``python`` runs in CI (``tests/docs/test_snippets.py``).
A block that needs something to run against says so in an HTML comment on the line right before
its fence (blank lines between are allowed; the comment is invisible on the rendered page)::

    <!-- snippet: idp api -->
    ```python
    ...
    ```

The words after ``snippet:`` are, in any order:

* fixture sets, each giving the block real parts and the names that stand for them
  (``tests/docs/harness.py`` documents every name):
  ``idp`` a running dev identity provider, its environment exported (``idp``, ``tenant_id``,
  ``client_id``, ``secret``, ``authority_host``, ``api_scope``, ...);
  ``api`` a live ``CAEMiddleware`` API on loopback in front of that provider (``api_url``,
  ``store``, ``validator``);
  ``entra`` Entra-shaped ids (``APP_ID``, ``TENANT_ID``), nothing running;
  ``app`` an unprotected FastAPI ``app`` (and ``entra``), checked afterwards to refuse a
  request without a token;
  ``challenge`` a 401 ``response`` carrying a real claims challenge;
  ``redis`` a reachable Redis (``redis_url``);
* ``continue``: run in the namespace the previous block of the same file left (its fixtures
  too), for a page that builds one program step by step;
* ``pytest``: the block defines ``test_*`` functions; each is called with its fixtures
  (``cae_idp``, ``cae_idp_session``: the provider);
* ``illustrative: <why>``: not run. For shapes that cannot run anywhere (a fragment of a
  signature). Rare on purpose: a test caps how many there are.

Blocks run with top-level ``await`` allowed and with their own file and line numbers, so a
failure's traceback points at the line of the Markdown file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FIXTURE_SETS", "MODES", "Snippet", "SnippetMarkerError", "collect", "parse"]

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_SETS = frozenset({"idp", "api", "entra", "app", "challenge", "redis"})
MODES = frozenset({"continue", "pytest"})
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*snippet:\s*(?P<body>.*?)\s*-->\s*$")


class SnippetMarkerError(ValueError):
    """A ``<!-- snippet: ... -->`` comment that does not say something the runner knows."""


@dataclass(frozen=True)
class Snippet:
    path: Path
    line: int  # 1-based line of the first line of code (after the opening fence)
    code: str
    uses: tuple[str, ...] = ()
    modes: frozenset[str] = field(default_factory=frozenset)
    illustrative: str | None = None  # the reason, when the block is not run

    @property
    def where(self) -> str:
        try:
            name = self.path.relative_to(ROOT)
        except ValueError:
            name = self.path
        return f"{name}:{self.line}"


def _marker(lines: list[str], fence_index: int, where: str) -> str | None:
    index = fence_index - 1
    while index >= 0 and not lines[index].strip():
        index -= 1
    if index < 0:
        return None
    found = _MARKER.match(lines[index])
    if found is None:
        if "snippet" in lines[index] and "<!--" in lines[index]:
            raise SnippetMarkerError(f"{where}: malformed marker {lines[index].strip()!r}")
        return None
    return found.group("body")


def _snippet(path: Path, line: int, code: str, marker: str | None) -> Snippet:
    where = f"{path.name}:{line}"
    if marker is None:
        return Snippet(path, line, code)
    if marker.startswith("illustrative"):
        reason = marker.removeprefix("illustrative").lstrip(":").strip()
        if not reason:
            raise SnippetMarkerError(f"{where}: 'illustrative' needs a reason after a colon")
        return Snippet(path, line, code, illustrative=reason)
    words = marker.split()
    unknown = [w for w in words if w not in FIXTURE_SETS | MODES]
    if unknown:
        known = ", ".join(sorted(FIXTURE_SETS | MODES))
        raise SnippetMarkerError(f"{where}: unknown word(s) {unknown} in marker (known: {known})")
    uses = tuple(w for w in words if w in FIXTURE_SETS)
    return Snippet(path, line, code, uses, frozenset(w for w in words if w in MODES))


def parse(path: Path, text: str | None = None) -> list[Snippet]:
    """Every ```python block of one Markdown file, in order."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    snippets: list[Snippet] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening.group("fence")
        end = index + 1
        while end < len(lines):
            closing = _FENCE.match(lines[end])
            if closing and closing.group("fence").startswith(fence) and not closing["info"]:
                break
            end += 1
        info = opening.group("info").strip().split()
        if info and info[0] in ("python", "py", "python3"):
            code = "\n".join(lines[index + 1 : end])
            marker = _marker(lines, index, f"{path.name}:{index + 1}")
            snippets.append(_snippet(path, index + 2, code, marker))
        index = end + 1
    return snippets


def documents() -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def collect() -> list[Snippet]:
    return [snippet for path in documents() for snippet in parse(path)]
