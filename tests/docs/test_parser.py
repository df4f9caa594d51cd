"""The snippet parser: which blocks run, with what, and where a failure points."""

from __future__ import annotations

from pathlib import Path

import pytest

from .snippets import SnippetMarkerError, parse
from .test_snippets import _execute, chains

PAGE = Path("/docs/page.md")


def test_blocks_markers_and_line_numbers() -> None:
    text = "\n".join(
        [
            "# Title",  # 1
            "```python",  # 2
            "a = 1",  # 3
            "```",  # 4
            "<!-- snippet: idp api -->",  # 5
            "",  # 6
            "```python",  # 7
            "b = 2",  # 8
            "```",  # 9
            "```sh",  # 10
            "echo not python",  # 11
            "```",  # 12
            "<!-- snippet: continue -->",  # 13
            "~~~python",  # 14
            "c = a",  # 15
            "~~~",  # 16
            "<!-- snippet: illustrative: a signature, not a program -->",  # 17
            "```python",  # 18
            "f(x, ...)",  # 19
            "```",  # 20
        ]
    )
    first, second, third, fourth = parse(PAGE, text)
    assert (first.line, first.code, first.uses) == (3, "a = 1", ())
    assert (second.line, second.uses) == (8, ("idp", "api"))
    assert (third.line, third.modes) == (15, frozenset({"continue"}))
    assert fourth.illustrative == "a signature, not a program"
    assert [len(c) for c in chains([first, second, third, fourth])] == [1, 2, 1]


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("<!-- snippet: idp databse -->", "unknown word"),
        ("<!-- snippet: illustrative -->", "needs a reason"),
        ("<!-- snippet idp -->", "malformed marker"),
    ],
)
def test_bad_markers_are_errors_not_silently_ignored(marker: str, message: str) -> None:
    with pytest.raises(SnippetMarkerError, match=message):
        parse(PAGE, f"{marker}\n```python\npass\n```\n")


def test_continue_without_a_block_before_is_an_error() -> None:
    snippets = parse(PAGE, "<!-- snippet: continue -->\n```python\npass\n```\n")
    with pytest.raises(AssertionError, match="needs a block before it"):
        chains(snippets)


def test_a_failure_points_at_the_markdown_line(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("intro\n\n```python\nx = 1\nraise RuntimeError(x)\n```\n")
    (snippet,) = parse(page)
    with pytest.raises(RuntimeError) as info:
        _execute(snippet, {})
    frame = info.traceback[-1]
    assert Path(frame.path) == page and frame.lineno + 1 == 5


def test_top_level_await_runs() -> None:
    (snippet,) = parse(PAGE, "```python\nimport asyncio\nawait asyncio.sleep(0)\ny = 3\n```\n")
    ns: dict[str, object] = {}
    _execute(snippet, ns)
    assert ns["y"] == 3
