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
    for command in ("demo", "idp", "decode", "whatif", "lint", "events"):
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


def test_plain_and_rich_tables_render_the_same_cells():
    import io

    from cae_sdk.cli._output import Output, Table, render_plain

    table = Table("T", ("a", "b"))
    table.add("x", None)
    table.add(True, ["p", "q"])
    plain = render_plain(table)
    assert plain.splitlines()[0] == "T"
    assert "x    -" in plain and "yes  p, q" in plain
    buffer = io.StringIO()
    Output(stream=buffer, use_rich=True).table(table)
    assert "p, q" in buffer.getvalue() and "yes" in buffer.getvalue()
    quiet = io.StringIO()
    Output(stream=quiet, json_mode=True).table(table)
    assert quiet.getvalue() == ""  # JSON mode prints only the JSON document
