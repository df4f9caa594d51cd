"""Comments, docstrings, docs and tests cite primary sources (RFC and OpenID sections, Microsoft
docs pages by title), never notes a user of the repository does not have (issue 14 item 6)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED_DIRECTORIES = ("src", "tests", "docs", "examples", "benchmarks", ".ci")
SCANNED_FILES = ("README.md", "CHANGELOG.md", "pyproject.toml", "mkdocs.yml", "Makefile")
SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".txt", ".json", ".cfg", ""}

# Spelled so that this file does not match itself.
OUTSIDE_NOTES = re.compile(
    r"PROTOCOL\.md|LAYOUT\.md"  # the project's private fact sheet and code map
    r"|\bseeds?\s+0\d\d"  # the seed documents the project started from
    r"|/shared(?=/)",  # anything read from beside the repository
)


def _scanned() -> list[Path]:
    files = [ROOT / name for name in SCANNED_FILES]
    for directory in SCANNED_DIRECTORIES:
        files += [
            path
            for path in (ROOT / directory).rglob("*")
            if path.is_file() and path.suffix in SUFFIXES and "__pycache__" not in path.parts
        ]
    return files


def test_no_reference_to_notes_outside_the_repository() -> None:
    found = []
    for path in _scanned():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE_NOTES.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "cite the primary specification instead:\n" + "\n".join(found)


def test_the_pattern_catches_what_it_is_for() -> None:
    # Built from pieces, so that the scan above (and a grep) does not find them here.
    for text in (
        "(shared PROTOCOL" + ".md section 4)",
        "see LAYOUT" + ".md",
        "(seed " + "001)",
        "seeds " + "000 and 001",
        "read from /work/shared" + "/reference",
    ):
        assert OUTSIDE_NOTES.search(text), text
    for text in ("RFC 6750 section 3", "random seed 7", "shared signals", "a seed of 0x01"):
        assert not OUTSIDE_NOTES.search(text), text
