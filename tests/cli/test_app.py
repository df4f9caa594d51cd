"""The ``cae`` entry point: help, version, exit codes, the installed script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cae_sdk import __version__

CAE = Path(sys.executable).parent / "cae"


def test_help_lists_commands(cae):
    result = cae()
    assert result.code == 0
    for command in ("decode", "lint", "events"):
        assert command in result.out


def test_usage_error_is_exit_2(cae):
    result = cae("no-such-command")
    assert result.code == 2
    assert cae("lint").code == 2


def test_installed_script_runs(tmp_path):
    version = subprocess.run(
        [str(CAE), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert version.returncode == 0 and __version__ in version.stdout
    bad = subprocess.run(
        [str(CAE), "decode", "not.a.token"], capture_output=True, text=True, timeout=60, check=False
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("cae: error:") and "Traceback" not in bad.stderr


def test_json_flag_before_the_command(cae):
    result = cae("--json", "decode", 'Bearer error="invalid_token"')
    assert result.code == 0
    assert result.json()["kind"] == "www-authenticate"
