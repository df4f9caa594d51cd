"""Run Python in a subprocess as if cae-sdk had been installed without any extra.

A meta path finder placed first refuses the optional packages (what ``pip install cae-sdk``
leaves out), so the code under test meets the same ``ModuleNotFoundError`` a plain install
gives. CI also installs the built wheel alone into a fresh virtual environment (``.ci/run``);
this is the fast, in-suite version of that check.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["OPTIONAL_MODULES", "run_plain"]

# Import names of every package an extra adds and a plain install lacks.
OPTIONAL_MODULES = frozenset(
    {"uvicorn", "fastapi", "redis", "rich", "prometheus_client", "azure", "requests_toolbelt"}
)

_PRELUDE = """
import importlib.abc, sys
_BLOCKED = {blocked!r}
class _PlainInstall(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in _BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _PlainInstall())
"""


def run_plain(
    code: str, *, cwd: Path | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter of this venv with the optional packages hidden."""
    prelude = _PRELUDE.format(blocked=sorted(OPTIONAL_MODULES))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-c", prelude + code],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
        check=False,
    )
