"""Every Python block of README.md and docs/ runs (see ``snippets.py`` for the markers).

A failure names the block as ``file:line`` (the test id) and its traceback shows the lines of
the Markdown file itself.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
from typing import Any

import pytest

from .harness import check_app, fixture_set
from .snippets import ROOT, Snippet, collect

SNIPPETS = collect()

# Pages whose blocks another change is rewriting together with the code they show (issue 14):
# their failures are reported as xfail until it lands. Remove the entry when the page is merged;
# the page's blocks then run like every other.
PENDING: dict[str, str] = {}


def chains(snippets: list[Snippet]) -> list[tuple[Snippet, ...]]:
    """Each block with the ``continue`` blocks that follow it: they run as one program, in one
    namespace, with the first block's fixtures open until the last one has run."""
    grouped: list[list[Snippet]] = []
    for snippet in snippets:
        if "continue" in snippet.modes:
            head = grouped[-1][0] if grouped else None
            assert head is not None and head.path == snippet.path, (
                f"{snippet.where}: `continue` needs a block before it in the same file"
            )
            grouped[-1].append(snippet)
        else:
            grouped.append([snippet])
    return [tuple(chain) for chain in grouped]


def _param(chain: tuple[Snippet, ...]) -> Any:
    marks: list[Any] = [pytest.mark.redis] if any("redis" in s.uses for s in chain) else []
    pending = PENDING.get(chain[0].where.rpartition(":")[0])
    if pending:
        marks.append(pytest.mark.xfail(reason=f"pending: {pending}", strict=False))
    name = chain[0].where + "".join(f"+{s.line}" for s in chain[1:])
    return pytest.param(chain, id=name, marks=marks)


def _execute(snippet: Snippet, ns: dict[str, Any]) -> None:
    # Padding keeps the Markdown file's line numbers in tracebacks and error messages.
    source = "\n" * (snippet.line - 1) + snippet.code
    code = compile(source, str(snippet.path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, ns))
    else:
        exec(code, ns)


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


@pytest.mark.parametrize("chain", [_param(c) for c in chains(SNIPPETS)])
def test_snippet_runs(chain: tuple[Snippet, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    head = chain[0]
    if head.illustrative:
        pytest.skip(f"illustrative: {head.illustrative}")
    monkeypatch.chdir(ROOT)  # paths in the docs are relative to the repository
    # A block may configure logging (docs/deploy.md does): undone afterwards.
    logger = logging.getLogger("cae_sdk")
    monkeypatch.setattr(logger, "handlers", list(logger.handlers))
    ns: dict[str, Any] = {"__name__": "__docs__"}
    uses = head.uses + (("idp",) if "pytest" in head.modes else ())
    with fixture_set(uses, ns, monkeypatch):
        for snippet in chain:
            _execute(snippet, ns)
            if "pytest" in snippet.modes:
                _run_tests(ns)
        if "app" in head.uses:
            check_app(ns)


def test_illustrative_blocks_are_rare() -> None:
    """The point is that docs run: at most one block in ten may opt out."""
    skipped = [s.where for s in SNIPPETS if s.illustrative]
    assert len(skipped) * 10 <= len(SNIPPETS), skipped


def test_every_document_was_read() -> None:
    assert any(s.path.name == "README.md" for s in SNIPPETS)
    assert len({s.path for s in SNIPPETS}) >= 5
