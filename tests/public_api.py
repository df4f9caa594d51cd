"""What the public surface is, and what the API reference renders of it.

A module is public when no component of its dotted path starts with ``_``; its ``__all__`` lists
its public names. The API reference is ``docs/reference/*.md``: mkdocstrings renders each
``::: target`` directive, and for a module target (with this project's options: ``filters:
["!^_"]``, ``show_submodules: false``, no ``show_if_no_docstring``) that is every member whose
name does not start with ``_`` that the module defines, or imports and lists in ``__all__``, and
that carries a docstring (mkdocstrings-python, "Members options" and "Docstrings options").
mkdocstrings reads the source, never imports it, so everything here is decided statically too:
``__all__`` must be a literal list (a computed one renders nothing), and a docstring is found
where the name is defined, following re-exports the way griffe does.

``python -m tests.public_api SITE`` checks the same expectations against a built site (the HTML
anchors mkdocstrings writes), so the static reading above is itself checked in CI after
``make docs``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "PACKAGE",
    "REFERENCE",
    "ROOT",
    "Directive",
    "definition_docstring",
    "directives",
    "is_public_path",
    "literal_all",
    "public_modules",
    "rendered",
    "undocumented",
]

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "cae_sdk"
REFERENCE = ROOT / "docs" / "reference"

_DIRECTIVE = re.compile(r"^:::\s+(?P<target>[\w.]+)\s*$")
_OPTION = re.compile(r"^\s+(?P<key>\w+):\s*(?P<value>.*)$")
# Options a directive may carry; others could change what renders, and this model would not know.
_KNOWN_OPTIONS = {"options", "show_root_heading", "heading_level", "show_source", "members"}


def is_public_path(dotted: str) -> bool:
    return not any(part.startswith("_") for part in dotted.split("."))


def public_modules() -> list[str]:
    """Every public module of the package, found on disk (nothing imported to find them)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["cae_sdk", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        dotted = ".".join(parts)
        if is_public_path(dotted):
            found.append(dotted)
    return found


@dataclass(frozen=True)
class Directive:
    page: Path
    line: int
    target: str
    members: bool | tuple[str, ...] | None  # None: the default (every member that renders)

    @property
    def where(self) -> str:
        return f"{_shown(self.page)}:{self.line}"


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _members_option(value: str, where: str) -> bool | tuple[str, ...]:
    value = value.strip()
    if value.lower() in ("false", "no", "[]"):
        return False
    if value.lower() in ("true", "yes"):
        return True
    if value.startswith("[") and value.endswith("]"):
        return tuple(name.strip().strip("'\"") for name in value[1:-1].split(",") if name.strip())
    raise ValueError(f"{where}: write 'members:' as false, true or a [flow, list]")


def directives(reference: Path = REFERENCE) -> list[Directive]:
    """The ``::: target`` directives of the reference pages, with their ``members`` option."""
    found = []
    for page in sorted(reference.glob("*.md")):
        lines = page.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            match = _DIRECTIVE.match(line)
            if match is None:
                continue
            where = f"{_shown(page)}:{index + 1}"
            members: bool | tuple[str, ...] | None = None
            for option in lines[index + 1 :]:
                found_option = _OPTION.match(option)
                if found_option is None:
                    break
                key = found_option.group("key")
                if key not in _KNOWN_OPTIONS:
                    raise ValueError(f"{where}: option {key!r} is unknown to tests/public_api.py")
                if key == "members":
                    members = _members_option(found_option.group("value"), where)
            found.append(Directive(page, index + 1, match.group("target"), members))
    return found


# -- static reading (what griffe sees) -------------------------------------------------------


@cache
def _module_source(module: str) -> tuple[Path, ast.Module, bool] | None:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    path = Path(spec.origin)
    return path, ast.parse(path.read_text(encoding="utf-8")), path.name == "__init__.py"


def _is_module(dotted: str) -> bool:
    try:
        return importlib.util.find_spec(dotted) is not None
    except ModuleNotFoundError:
        return False


def _statements(body: list[ast.stmt]) -> Iterator[tuple[ast.stmt, ast.stmt | None]]:
    """Top-level statements with the one that follows each, looking inside ``if`` and ``try``
    (griffe reads ``if TYPE_CHECKING:`` imports as members too)."""
    for index, node in enumerate(body):
        following = body[index + 1] if index + 1 < len(body) else None
        if isinstance(node, ast.If):
            yield from _statements(node.body)
            yield from _statements(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _statements(block)
        else:
            yield node, following


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _string_after(following: ast.stmt | None) -> str | None:
    if (
        isinstance(following, ast.Expr)
        and isinstance(following.value, ast.Constant)
        and isinstance(following.value.value, str)
    ):
        return following.value.value
    return None


def _assigned_names(node: ast.stmt) -> list[str]:
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    names = []
    for target in targets:
        for leaf in ast.walk(target):
            if isinstance(leaf, ast.Name):
                names.append(leaf.id)
    return names


@dataclass(frozen=True)
class _Binding:
    """Where a module binds a name: ``local`` for a definition, else an import."""

    local: bool
    docstring: str | None = None
    has_docstrings: bool = False  # itself or, for a class, any member (what griffe renders on)
    source: tuple[str, str] | None = None  # (module, name) an import points at
    module: str | None = None  # an import of a whole module


def _members_documented(node: ast.AST) -> bool:
    """Whether a class has a member with a docstring (griffe's recursive ``has_docstrings``)."""
    if not isinstance(node, ast.ClassDef):
        return False
    for child, following in _statements(node.body):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if not child.name.startswith("_") and (
                ast.get_docstring(child) or _members_documented(child)
            ):
                return True
        elif (
            isinstance(child, (ast.Assign, ast.AnnAssign))
            and _string_after(following)
            and any(not name.startswith("_") for name in _assigned_names(child))
        ):
            return True
        if isinstance(child, ast.FunctionDef) and child.name == "__init__":
            # ``self.name = ...`` followed by a string: an instance attribute's docstring.
            for statement, after in _statements(child.body):
                targets = [statement.target] if isinstance(statement, ast.AnnAssign) else []
                targets += statement.targets if isinstance(statement, ast.Assign) else []
                if _string_after(after) and any(
                    isinstance(target, ast.Attribute) and not target.attr.startswith("_")
                    for target in targets
                ):
                    return True
    return False


def _binding(module: str, name: str) -> _Binding | None:
    """The last binding of ``name`` in ``module``'s source (Python keeps the last one)."""
    source = _module_source(module)
    if source is None:
        return None
    _, tree, is_package = source
    found: _Binding | None = None
    for node, following in _statements(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == name:
                docstring = ast.get_docstring(node)
                found = _Binding(True, docstring, bool(docstring) or _members_documented(node))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            if name in _assigned_names(node):
                docstring = _string_after(following)
                found = _Binding(True, docstring, bool(docstring))
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, is_package, node)
            for alias in node.names:
                if alias.name == "*":
                    if name in getattr(importlib.import_module(target), "__all__", ()):
                        found = _Binding(False, source=(target, name))
                elif (alias.asname or alias.name) == name:
                    submodule = f"{target}.{alias.name}"
                    if _is_module(submodule):
                        found = _Binding(False, module=submodule)
                    else:
                        found = _Binding(False, source=(target, alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname == name:
                    found = _Binding(False, module=alias.name)
    return found


def _definition(module: str, name: str) -> _Binding | None:
    """Where ``module.name`` is defined, following imports within its top-level package (griffe
    resolves aliases the same way); None when it is defined elsewhere or nowhere griffe sees."""
    package = module.partition(".")[0]
    seen = set()
    while (module, name) not in seen:
        seen.add((module, name))
        binding = _binding(module, name)
        if binding is None or binding.local:
            return binding
        if binding.module is not None:
            docstring = _module_docstring(binding.module)
            return _Binding(True, docstring, bool(docstring))
        assert binding.source is not None
        module, name = binding.source
        if module.partition(".")[0] != package:
            return None
    return None


def definition_docstring(module: str, name: str) -> str | None:
    """The docstring griffe shows for ``module.name``: the one where the name is defined."""
    definition = _definition(module, name)
    return definition.docstring if definition else None


def _module_docstring(module: str) -> str | None:
    source = _module_source(module)
    return ast.get_docstring(source[1]) if source else None


def literal_all(module: str) -> list[str] | None:
    """``__all__`` as the source spells it: a literal list or tuple of strings, else None."""
    source = _module_source(module)
    if source is None:
        return None
    value: list[str] | None = None
    for node, _ in _statements(source[1].body):
        if isinstance(node, ast.AugAssign) and getattr(node.target, "id", None) == "__all__":
            return None  # computed
        if "__all__" in _assigned_names(node):
            assigned = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
            try:
                literal = ast.literal_eval(assigned) if assigned is not None else None
            except ValueError:
                return None
            if not isinstance(literal, (list, tuple)) or not all(
                isinstance(item, str) for item in literal
            ):
                return None
            value = list(literal)
    return value


# -- what the reference renders ----------------------------------------------------------------


def _resolve(dotted: str) -> Any:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            value = getattr(value, attribute)
        return value
    raise ModuleNotFoundError(dotted)


def _rendered_members(module: ModuleType, members: bool | tuple[str, ...] | None) -> list[str]:
    name = module.__name__
    if members is False:
        return []
    if isinstance(members, tuple):
        return list(members)
    exported = set(literal_all(name) or ())
    source = _module_source(name)
    assert source is not None
    candidates: set[str] = set(exported)
    for node, _ in _statements(source[1].body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            candidates.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            candidates.update(_assigned_names(node))
    shown = []
    for member in sorted(candidates):
        if member.startswith("_") or not hasattr(module, member):
            continue
        binding = _binding(name, member)
        if binding is None or not (binding.local or member in exported):
            continue
        definition = _definition(name, member)
        if members is True or (definition is not None and definition.has_docstrings):
            shown.append(member)
    return shown


def rendered(reference: Path = REFERENCE) -> set[tuple[str, int]]:
    """(name, id(object)) of everything the reference renders under that name."""
    shown: set[tuple[str, int]] = set()
    for directive in directives(reference):
        target = _resolve(directive.target)
        shown.add((directive.target.rpartition(".")[2], id(target)))
        if isinstance(target, ModuleType):
            for member in _rendered_members(target, directive.members):
                shown.add((member, id(getattr(target, member))))
    return shown


def undocumented(shown: set[tuple[str, int]], *, docstrings: bool = True) -> list[str]:
    """Public names (``module.name`` of every public module's ``__all__``) not in ``shown``,
    or (with ``docstrings``) shown without a docstring. Dunder names (``__version__``) are not
    members mkdocstrings renders; the pages name them in prose."""
    missing = []
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            if name.startswith("__") and name.endswith("__"):
                continue
            value = getattr(module, name)
            if (name, id(value)) not in shown:
                missing.append(f"{module_name}.{name}: not rendered by docs/reference")
            elif (
                docstrings
                and not isinstance(value, ModuleType)
                and not definition_docstring(module_name, name)
            ):
                missing.append(f"{module_name}.{name}: no docstring where it is defined")
    return missing


# -- the built site -----------------------------------------------------------------------------

_ANCHOR = re.compile(r'\bid="(cae_sdk(?:\.\w+)*)"')


def anchors(site: Path) -> set[tuple[str, int]]:
    """(name, id(object)) of every object the built reference has an anchor for."""
    shown: set[tuple[str, int]] = set()
    for page in (site / "reference").rglob("*.html"):
        for dotted in set(_ANCHOR.findall(page.read_text(encoding="utf-8"))):
            try:
                value = _resolve(dotted)
            except (AttributeError, ModuleNotFoundError):
                continue  # a parameter or an attribute only the source knows
            shown.add((dotted.rpartition(".")[2], id(value)))
    return shown


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.public_api SITE_DIRECTORY", file=sys.stderr)
        return 2
    site = Path(argv[0])
    missing = undocumented(anchors(site), docstrings=False)
    if missing:
        print(f"{site}: the built API reference lacks:", *missing, sep="\n  ", file=sys.stderr)
        return 1
    print(f"{site}: the built API reference renders every public name")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
