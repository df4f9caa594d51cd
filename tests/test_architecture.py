"""The import rules of the architecture, checked on the source and in a plain-install process.

``core`` is sans-I/O: it imports nothing of ours outside itself and no network, clock, thread or
framework module. Adapters import ``core``; ``resource`` may use ``events`` (stores) but never
``client``; ``events`` and ``keys`` never import ``resource``; nothing below the top imports
``devidp`` or ``cli``. Imports under ``if TYPE_CHECKING:`` are annotations, not dependencies.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "cae_sdk"

# package -> packages of ours it must not import at run time
FORBIDDEN: dict[str, set[str]] = {
    "core": {"client", "resource", "events", "keys", "observability", "devidp", "cli"},
    "keys": {"client", "resource", "events", "observability", "devidp", "cli"},
    "client": {"resource", "events", "keys", "observability", "devidp", "cli"},
    "events": {"client", "resource", "observability", "devidp", "cli"},
    "resource": {"client", "devidp", "cli"},
    "observability": {"client", "resource", "devidp", "cli"},
    "devidp": {"cli"},
}
# What would give the core a network, a clock, threads or a framework.
CORE_FORBIDDEN_MODULES = {
    "asyncio", "httpx", "msal", "redis", "requests", "socket", "sqlite3", "starlette",
    "threading", "time", "uvicorn",
}  # fmt: skip


def _runtime_imports(path: Path) -> set[str]:
    """Absolute module names imported by ``path``, leaving out ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package_parts = ["cae_sdk", *path.relative_to(PACKAGE).parent.parts]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                found.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                found.add(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _modules(package: str) -> list[Path]:
    return sorted((PACKAGE / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_import_only_downwards(package: str) -> None:
    violations = []
    for path in _modules(package):
        for module in _runtime_imports(path):
            parts = module.split(".")
            if parts[0] == "cae_sdk" and len(parts) > 1 and parts[1] in FORBIDDEN[package]:
                violations.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not violations, "\n".join(violations)


def test_core_has_no_io_clock_or_framework_imports() -> None:
    violations = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in _modules("core")
        for module in _runtime_imports(path)
        if module.split(".")[0] in CORE_FORBIDDEN_MODULES
    ]
    assert not violations, "\n".join(violations)


def test_every_package_is_covered() -> None:
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages - {"cli"} == set(FORBIDDEN), "add the new package's rules to FORBIDDEN"


def test_the_checker_sees_relative_and_guarded_imports() -> None:
    # A rule that can never fail is no rule: check the parser on a known module.
    imports = _runtime_imports(PACKAGE / "resource" / "_middleware.py")
    assert "cae_sdk.events._store" in imports and "cae_sdk.core.decisions" in imports
    guarded = _runtime_imports(PACKAGE / "observability" / "_metrics.py")
    assert "cae_sdk.resource._middleware" not in guarded  # only under TYPE_CHECKING


# -- plain install: nothing optional on the import path --------------------------------------

_IMPORT_PATH_PROBE = """
import json, sys
import pytest  # loaded first: what the plugin costs is measured on top of it
before = set(sys.modules)
import cae_sdk
import cae_sdk.devidp.pytest_plugin
loaded = sorted(set(sys.modules) - before)
public = {name: type(getattr(cae_sdk, name)).__name__ for name in cae_sdk.__all__}
print(json.dumps({"loaded": loaded, "public": public}))
"""


def test_import_and_plugin_load_nothing_optional() -> None:
    """``import cae_sdk`` and pytest's loading of our plugin (entry point ``cae_idp``) work on a
    plain install and import no optional package and not the dev identity provider; every name
    in ``cae_sdk.__all__`` resolves there too."""
    import json

    from tests.plain_install import OPTIONAL_MODULES, run_plain

    done = run_plain(_IMPORT_PATH_PROBE)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    top_level = {name.partition(".")[0] for name in report["loaded"]}
    assert not top_level & OPTIONAL_MODULES
    assert "cae_sdk.devidp._runner" not in report["loaded"]
    assert "uvicorn" not in top_level and "msal" not in top_level  # the plugin stays cheap
    assert report["public"]["CAEMiddleware"] == "type"


def test_the_plain_install_probe_can_fail() -> None:
    """The probe's blocker really hides an optional package (else the test above proves
    nothing)."""
    from tests.plain_install import run_plain

    done = run_plain("import uvicorn")
    assert done.returncode != 0 and "No module named 'uvicorn'" in done.stderr
