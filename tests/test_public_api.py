"""The public surface is the documented one (issue 14 item 4).

A module is public when no component of its path starts with ``_``. Every public module has a
literal ``__all__`` and a docstring, is rendered by the API reference (``docs/reference/*.md``),
and every name in its ``__all__`` appears there with a docstring. The docs, the README and the
examples import only public names. ``tests/public_api.py`` says how the reference is read.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
import textwrap
from pathlib import Path

import pytest

from tests import public_api
from tests.docs.snippets import collect

EXAMPLES = public_api.ROOT / "examples"
# Examples' plumbing for their --check runs (a dev server on loopback): not what they show.
EXAMPLE_PLUMBING = {"_devenv.py"}


def test_the_walk_finds_the_public_modules() -> None:
    modules = public_api.public_modules()
    assert {"cae_sdk", "cae_sdk.client.requests", "cae_sdk.devidp.pytest_plugin"} <= set(modules)
    assert not [name for name in modules if not public_api.is_public_path(name)]
    assert "cae_sdk.resource._path" not in modules


@pytest.mark.parametrize("module", public_api.public_modules())
def test_every_public_module_has_a_literal_all_and_a_docstring(module: str) -> None:
    imported = importlib.import_module(module)
    assert (imported.__doc__ or "").strip(), f"{module} has no docstring"
    declared = getattr(imported, "__all__", None)
    assert declared is not None, f"{module} is public: give it an __all__ (or make it _private)"
    literal = public_api.literal_all(module)
    assert literal == list(declared), (
        f"{module}.__all__ must be a literal list of strings: mkdocstrings reads it statically"
    )
    assert len(set(declared)) == len(declared), f"{module}.__all__ repeats a name"
    unresolved = [name for name in declared if not hasattr(imported, name)]
    assert not unresolved, f"{module}.__all__ names what it does not have: {unresolved}"


def test_every_public_name_is_in_the_api_reference() -> None:
    missing = public_api.undocumented(public_api.rendered())
    assert not missing, "document these in docs/reference (or make them private):\n" + "\n".join(
        missing
    )


def test_every_public_module_has_its_own_reference_entry() -> None:
    targets = {directive.target for directive in public_api.directives()}
    assert not set(public_api.public_modules()) - targets


def test_the_reference_renders_only_public_targets_that_exist() -> None:
    for directive in public_api.directives():
        assert public_api.is_public_path(directive.target), directive.where
        assert public_api._resolve(directive.target) is not None, directive.where


def test_logger_names_are_public_names() -> None:
    """Logger names are what users configure: a literal, public name (a private module's
    ``__name__`` would change whenever the module moves)."""
    found = []
    for path in sorted(public_api.PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "getLogger"
            ):
                continue
            where = f"{path.relative_to(public_api.ROOT)}:{node.lineno}"
            argument = node.args[0] if node.args else None
            if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
                if argument is not None and not isinstance(argument, ast.Name):
                    found.append(f"{where}: not a literal name")
                elif isinstance(argument, ast.Name) and argument.id == "__name__":
                    found.append(f"{where}: __name__")
                continue
            name = argument.value
            if not name.startswith("cae_sdk") or not public_api.is_public_path(name):
                found.append(f"{where}: {name!r}")
    assert not found, "\n".join(found)


def test_lazily_loaded_names_are_listed_in_all() -> None:
    for module in ("cae_sdk", "cae_sdk.events", "cae_sdk.devidp"):
        imported = importlib.import_module(module)
        assert set(imported._LAZY) <= set(imported.__all__), module


def test_cae_sdk_errors_carries_every_error() -> None:
    import cae_sdk.core.errors
    import cae_sdk.errors

    assert set(cae_sdk.core.errors.__all__) <= set(cae_sdk.errors.__all__)


# -- the docs use the public surface ---------------------------------------------------------

_PRIVATE_PATH = re.compile(r"\bcae_sdk(?:\.\w+)*\._[a-z]\w*")


def _code_units() -> list[tuple[str, str]]:
    """(where, Python source) of every README/docs block and every example file."""
    units = [(snippet.where, snippet.code) for snippet in collect()]
    for path in sorted(EXAMPLES.rglob("*.py")):
        if path.name not in EXAMPLE_PLUMBING:
            units.append((str(path.relative_to(public_api.ROOT)), path.read_text()))
    return units


def _private_imports(where: str, code: str) -> list[str]:
    flags = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    tree = compile(code, where, "exec", flags=flags, dont_inherit=True)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                f"{where}: import {alias.name}"
                for alias in node.names
                if alias.name.startswith("cae_sdk") and not public_api.is_public_path(alias.name)
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cae_sdk"):
            module = node.module or ""
            if not public_api.is_public_path(module):
                found.append(f"{where}: from {module} import ...")
                continue
            exported = set(getattr(importlib.import_module(module), "__all__", ()))
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                if alias.name in exported or (
                    public_api.is_public_path(submodule) and submodule in sys.modules
                ):
                    continue
                found.append(f"{where}: from {module} import {alias.name} (not in __all__)")
    return found


def test_docs_readme_and_examples_import_only_public_names() -> None:
    found = [entry for where, code in _code_units() for entry in _private_imports(where, code)]
    assert not found, "\n".join(found)


def test_docs_never_name_a_private_module() -> None:
    pages = [public_api.ROOT / "README.md", *sorted((public_api.ROOT / "docs").rglob("*.md"))]
    found = [
        f"{page.relative_to(public_api.ROOT)}: {match.group(0)}"
        for page in pages
        for match in _PRIVATE_PATH.finditer(page.read_text(encoding="utf-8"))
    ]
    assert not found, "\n".join(found)


# -- the checks above can fail -----------------------------------------------------------------


def test_an_undocumented_public_name_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import cae_sdk.keys

    def helper() -> None:
        """Documented in the source, but in no reference page."""

    monkeypatch.setattr(cae_sdk.keys, "helper", helper, raising=False)
    monkeypatch.setattr(cae_sdk.keys, "__all__", [*cae_sdk.keys.__all__, "helper"])
    assert public_api.undocumented(public_api.rendered()) == [
        "cae_sdk.keys.helper: not rendered by docs/reference"
    ]


def test_a_reference_without_a_page_misses_its_names(tmp_path: Path) -> None:
    (tmp_path / "index.md").write_text("::: cae_sdk\n    options:\n      members: false\n")
    missing = public_api.undocumented(public_api.rendered(tmp_path))
    assert "cae_sdk.client.CAEAuth: not rendered by docs/reference" in missing
    assert "cae_sdk.CAEAuth: not rendered by docs/reference" in missing


def test_unknown_directive_options_are_refused(tmp_path: Path) -> None:
    (tmp_path / "page.md").write_text("::: cae_sdk.keys\n    options:\n      filters: []\n")
    with pytest.raises(ValueError, match="filters"):
        public_api.directives(tmp_path)


def _package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> str:
    name = f"scratch_{abs(hash(tmp_path)) % 10**8}"
    root = tmp_path / name
    root.mkdir()
    for file, text in files.items():
        (root / file).write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_the_static_reading_matches_what_griffe_sees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _package(
        tmp_path,
        monkeypatch,
        {
            "__init__.py": '''
                """A package."""
                from typing import TYPE_CHECKING
                from ._impl import bare, told
                if TYPE_CHECKING:
                    from ._impl import LIMIT
                __all__ = ["LIMIT", "bare", "told"]
            ''',
            "_impl.py": '''
                LIMIT = 3
                """An attribute docstring."""
                def bare() -> None: ...
                def told() -> None:
                    """Told."""
            ''',
            "computed.py": """
                _NAMES = {"a": 1}
                __all__ = sorted(_NAMES)
            """,
        },
    )
    assert public_api.literal_all(package) == ["LIMIT", "bare", "told"]
    assert public_api.literal_all(f"{package}.computed") is None
    assert public_api.definition_docstring(package, "told") == "Told."
    assert public_api.definition_docstring(package, "LIMIT") == "An attribute docstring."
    assert public_api.definition_docstring(package, "bare") is None


def test_the_site_check_reads_mkdocstrings_anchors(tmp_path: Path) -> None:
    import cae_sdk.client

    page = tmp_path / "reference" / "client"
    page.mkdir(parents=True)
    (page / "index.html").write_text(
        '<h2 id="cae_sdk.client.CAEAuth">CAEAuth</h2><h3 id="cae_sdk.client.CAEAuth(x)">'
    )
    shown = public_api.anchors(tmp_path)
    assert ("CAEAuth", id(cae_sdk.client.CAEAuth)) in shown
    assert public_api.main([str(tmp_path)]) == 1  # the rest of the reference is missing
