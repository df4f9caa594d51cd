"""Every example runs its scripted ``--check`` against the dev identity provider.

Each runs as its own process, exactly as a user would start it (``python examples/X.py``), so
environment changes (managed identity endpoints) and servers stay inside that process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[2] / "examples"

pytestmark = pytest.mark.e2e


def run_example(
    name: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        cwd=EXAMPLES.parent,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("fastapi_resource.py", "after the revocation: 200 responses seen: [401, 200]"),
        ("starlette_resource.py", "from 127.0.0.2: refused"),
        ("lob_app.py", "GET /payroll: 200"),
        ("aks_workload_identity.py", "disabled: (7000112,) admin"),
        ("vm_managed_identity.py", "token: cp1 = True"),
        ("graph_bridge.py", "second round changed"),
    ],
)
def test_example_check(name: str, expected: str) -> None:
    done = run_example(name, "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout.splitlines()[-1]
    assert expected in done.stdout


@pytest.mark.redis
def test_ssf_receiver_with_redis(redis_url: str) -> None:
    done = run_example("ssf_receiver_redis.py", "--check", env={"CAE_REDIS_URL": redis_url})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "replica B, the user's old token: 401" in done.stdout
    assert done.stdout.splitlines()[-1] == "OK"


def test_every_example_has_a_header_and_a_check() -> None:
    scripts = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))
    assert len(scripts) == 7
    for script in scripts:
        text = script.read_text()
        assert text.startswith('"""'), script.name
        header = text.split('"""')[1]
        assert "What it shows" in header and "--check" in header, script.name


def test_client_examples_refuse_missing_arguments() -> None:
    done = run_example("vm_managed_identity.py")
    assert done.returncode == 2 and "--url and --scope are required" in done.stderr
