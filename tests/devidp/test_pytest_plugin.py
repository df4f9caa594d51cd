"""The pytest plugin (entry point ``cae_idp``) in a project that merely has cae-sdk installed."""

from __future__ import annotations

from pathlib import Path

from tests.plain_install import run_plain

_RUN_PYTEST = "import sys, pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider']))"


def _project(tmp_path: Path, body: str) -> Path:
    (tmp_path / "test_app.py").write_text(body)
    return tmp_path


def test_plain_install_pytest_runs_and_the_fixture_names_the_extra(tmp_path):
    """pytest starts (our plugin must not break it); a test that asks for the provider fails
    with one line naming the extra, the others pass."""
    project = _project(
        tmp_path,
        "def test_trivial():\n    assert 1 + 1 == 2\n\n\n"
        "def test_wants_the_provider(cae_idp):\n    assert cae_idp.authority\n",
    )
    done = run_plain(_RUN_PYTEST, cwd=project)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "INTERNALERROR" not in output
    assert "1 passed, 1 error" in output
    assert "the cae_idp fixtures: the dev identity provider needs the 'devidp' extra" in output


def test_fixture_runs_a_provider_when_the_extra_is_there(cae_idp):
    assert cae_idp.authority.startswith("https://127.0.0.1:")
    assert cae_idp.admin.rotate_keys()
