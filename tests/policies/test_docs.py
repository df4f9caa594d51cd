"""Every Python snippet of ``docs/policies.md`` runs as written, each block on its own (the
semantics of the project's docs runner, ``tests/docs``, for unmarked blocks)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).parents[2] / "docs" / "policies.md"
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_policies_page_snippets_run() -> None:
    blocks = _BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 3
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {"__name__": "docs_policies"})
