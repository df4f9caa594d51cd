"""Every Python block of ``docs/events.md`` runs as written (issue 14).

Blocks follow the docs runner's markers (an HTML comment right before the fence:
``<!-- snippet: idp -->`` gives a running dev identity provider and the names ``idp``,
``tenant_id``, ``client_id``, ``secret``, ``ca_bundle``, ``object_id``; ``redis`` gives
``redis_url``). Top-level ``await`` is allowed; each block runs in its own namespace.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import os
import re
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
_FENCE = re.compile(r"^```python\s*$")
_MARKER = re.compile(r"^<!--\s*snippet:\s*(.*?)\s*-->$")


def _blocks() -> list[tuple[int, str, tuple[str, ...]]]:
    lines = DOC.read_text().splitlines()
    found = []
    index = 0
    while index < len(lines):
        if _FENCE.match(lines[index]):
            start = index + 1
            end = start
            while not lines[end].startswith("```"):
                end += 1
            marker = _MARKER.match(lines[index - 1].strip()) if index else None
            uses = tuple(marker.group(1).split()) if marker else ()
            found.append((start + 1, "\n".join(lines[start:end]), uses))
            index = end
        index += 1
    return found


BLOCKS = _blocks()


def _param(line: int, code: str, uses: tuple[str, ...]) -> Any:
    marks = [pytest.mark.redis] if "redis" in uses else []
    if "idp" in uses:
        marks.append(pytest.mark.e2e)
    return pytest.param(code, line, uses, id=f"docs/events.md:{line}", marks=marks)


@pytest.mark.parametrize(("code", "line", "uses"), [_param(*b) for b in BLOCKS])
def test_block_runs(code: str, line: int, uses: tuple[str, ...], tmp_path: Path) -> None:
    ns: dict[str, Any] = {"__name__": "__docs__"}
    with contextlib.ExitStack() as stack:
        if "idp" in uses:
            from cae_sdk.devidp import DevIdentityProvider

            idp = stack.enter_context(DevIdentityProvider())
            seed = idp.seed
            ns.update(
                idp=idp,
                tenant_id=idp.tenant_id,
                client_id=seed.secret_app.client_id,
                secret=seed.secret_app.client_secret,
                ca_bundle=idp.ca_bundle,
                object_id=seed.user.object_id,
            )
        if "redis" in uses:
            ns["redis_url"] = os.environ.get("CAE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
        source = "\n" * (line - 1) + code
        compiled = compile(source, str(DOC), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        cwd = os.getcwd()
        os.chdir(tmp_path)
        try:
            if compiled.co_flags & inspect.CO_COROUTINE:
                asyncio.run(eval(compiled, ns))
            else:
                exec(compiled, ns)
        finally:
            os.chdir(cwd)


def test_every_block_was_found() -> None:
    assert len(BLOCKS) >= 7
