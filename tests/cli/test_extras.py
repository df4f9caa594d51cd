"""Commands that need an optional extra say which one, in one line, with exit code 3."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

from cae_sdk import _extras
from cae_sdk.cli._app import build_parser
from tests.plain_install import run_plain

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def hide_distributions(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make the installed-package check see ``names`` as not installed."""
    real_version = _extras.metadata.version

    def version(name: str) -> str:
        if name in names:
            raise _extras.metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(_extras.metadata, "version", version)


def test_demo_checks_its_extra_before_starting_anything(cae, monkeypatch):
    hide_distributions(monkeypatch, "uvicorn", "fastapi")
    result = cae("demo")
    assert result.code == 3
    assert result.out == ""  # not even the heading: nothing was started
    assert result.err == (
        "cae: error: cae demo needs the 'demo' extra (missing: fastapi, uvicorn): "
        "pip install 'cae-sdk[demo]'\n"
    )


def test_idp_checks_its_extra(cae, monkeypatch):
    hide_distributions(monkeypatch, "uvicorn")
    result = cae("idp", "--seconds", "0")
    assert result.code == 3
    assert result.err.startswith("cae: error: cae idp needs the 'devidp' extra")


@pytest.mark.parametrize(
    "argv", [["demo", "--steps", "1"], ["idp", "--seconds", "0"]], ids=["demo", "idp"]
)
def test_plain_install_ends_in_one_line_not_a_traceback(argv):
    """The packages really missing (not only their metadata): the import on the way fails and
    the same one-line error and exit code come out."""
    done = run_plain(f"import sys; from cae_sdk.cli import main; sys.exit(main({argv!r}))")
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line == (
        "cae: error: the dev identity provider needs the 'devidp' extra (missing: uvicorn): "
        "pip install 'cae-sdk[devidp]'"
    )


def test_commands_that_run_without_extras_still_do():
    done = run_plain("import sys; from cae_sdk.cli import main; sys.exit(main(['decode', '-']))")
    # `decode -` with empty stdin is bad input (2), not a missing part (3) nor a crash.
    assert done.returncode == 2, done.stderr


def test_extras_are_read_from_the_package_metadata():
    """The extras the CLI names are the ones pyproject.toml declares (one list, not two)."""
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]

    def names(extra: str) -> set[str]:
        found: set[str] = set()
        for requirement in declared[extra]:
            name = requirement.split(">")[0].split("[")[0].split(";")[0].strip()
            if name == "cae-sdk":
                for inner in requirement.split("[")[1].rstrip("]").split(","):
                    found |= names(inner)
            else:
                found.add(name)
        return found

    for extra in ("demo", "devidp", "redis", "cli"):
        assert set(_extras.extra_packages(extra) or []) == names(extra), extra
    assert _extras.missing_packages("demo") == []  # the test venv has everything


def test_every_declared_command_extra_exists():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    needed = {name: sub.get_default("needs_extra") for name, sub in commands.items()}
    assert needed["demo"] == "demo" and needed["idp"] == "devidp"
    for extra in filter(None, needed.values()):
        assert _extras.extra_packages(extra), extra


def test_missing_extra_is_an_import_error():
    err = _extras.MissingExtra("x", "redis", ["redis"])
    assert isinstance(err, ImportError)
    assert str(err) == "x needs the 'redis' extra (missing: redis): pip install 'cae-sdk[redis]'"
