"""Every Python block of README.md and docs/ runs (see ``snippets.py`` for the markers).

A failure names the block as ``file:line`` (the test id) and its traceback shows the lines of
the Markdown file itself.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
from typing import Any

import pytest

from .harness import check_app, fixture_set
from .snippets import Snippet, collect

SNIPPETS = collect()
# Namespaces left by the last block of each file, for blocks marked `continue`.
_LEFT: dict[str, dict[str, Any]] = {}


def _param(snippet: Snippet) -> Any:
    marks = [pytest.mark.redis] if "redis" in snippet.uses else []
    return pytest.param(snippet, id=snippet.where, marks=marks)


def _execute(snippet: Snippet, ns: dict[str, Any]) -> None:
    # Padding keeps the Markdown file's line numbers in tracebacks and error messages.
    source = "\n" * (snippet.line - 1) + snippet.code
    code = compile(source, str(snippet.path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, ns))  # noqa: S307 - the project's own documentation
    else:
        exec(code, ns)  # noqa: S102


def _run_tests(ns: dict[str, Any]) -> None:
    """The block's ``test_*`` functions, called with the provider for ``cae_idp*``."""
    tests = {name: f for name, f in ns.items() if name.startswith("test_") and callable(f)}
    assert tests, "a block marked `pytest` defines no test_* function"
    for function in tests.values():
        arguments = {}
        for name in inspect.signature(function).parameters:
            assert name in ("cae_idp", "cae_idp_session"), f"no fixture {name!r} for docs"
            arguments[name] = ns["idp"]
        function(**arguments)


@pytest.mark.parametrize("snippet", [_param(s) for s in SNIPPETS])
def test_snippet_runs(snippet: Snippet, monkeypatch: pytest.MonkeyPatch) -> None:
    if snippet.illustrative:
        pytest.skip(f"illustrative: {snippet.illustrative}")
    key = str(snippet.path)
    if "continue" in snippet.modes:
        ns = _LEFT.get(key)
        assert ns is not None, "`continue` needs the block before it to have run first"
        _execute(snippet, ns)
        return
    ns = {"__name__": "__docs__"}
    uses = snippet.uses + (("idp",) if "pytest" in snippet.modes else ())
    with fixture_set(uses, ns, monkeypatch):
        _execute(snippet, ns)
        if "pytest" in snippet.modes:
            _run_tests(ns)
        if "app" in snippet.uses:
            check_app(ns)
    _LEFT[key] = ns


def test_illustrative_blocks_are_rare() -> None:
    """The point is that docs run: at most one block in ten may opt out."""
    skipped = [s.where for s in SNIPPETS if s.illustrative]
    assert len(skipped) * 10 <= len(SNIPPETS), skipped


def test_every_document_was_read() -> None:
    assert any(s.path.name == "README.md" for s in SNIPPETS)
    assert len({s.path for s in SNIPPETS}) >= 5
