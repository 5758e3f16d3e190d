"""The project itself: public API, one-way import layers, documentation, lint."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys

import pytest

import compliance
from compliance.cli import _parser
from tests.conftest import ROOT

PACKAGE = ROOT / "compliance"

# Lower rows never import from higher ones (docs/architecture.md draws the same table).
LAYERS = [
    {"_version"},
    {"source", "reference"},
    {"errors", "models", "expectations", "layouts"},
    {"facts"},
    {"operators"},
    {"conditions"},
    {"rules", "gates"},
    {"loader", "trace"},
    {"compiler", "satisfy", "vector"},
    {"correlate"},
    {"engine", "lint"},
    {"reports", "verify", "screening", "rete"},
    {"__init__"},
    {"cli"},
    {"__main__"},
]
ROW = {name: row for row, names in enumerate(LAYERS) for name in names}


def test_public_api_is_sorted_and_documented() -> None:
    assert compliance.__all__ == sorted(compliance.__all__)
    for name in compliance.__all__:
        value = getattr(compliance, name)
        if name != "__version__":
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"


def _imports(path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "compliance":
                for alias in node.names:  # a submodule, or a name from the public API
                    found.add(alias.name if alias.name in ROW else "__init__")
            elif node.module.startswith("compliance."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "compliance":
                    found.add("__init__")
                elif alias.name.startswith("compliance."):
                    found.add(alias.name.split(".")[1])
    return found


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.stem)
def test_imports_run_one_way(path) -> None:
    module = path.stem
    assert module in ROW, f"{module} is not placed in a layer (tests/test_project.py)"
    for imported in _imports(path):
        assert ROW[imported] < ROW[module] or imported == module, \
            f"{module} (row {ROW[module]}) imports {imported} (row {ROW[imported]})"


# The testing toolkit sits beside the stack: strategies use the models and the
# reference data, witnesses the rule language and its solver, the properties
# and the plugin the public API. Nothing in the core imports it.
TESTING_MAY_IMPORT = {
    "strategies": ROW["models"],
    "render": ROW["models"],
    "witnesses": ROW["satisfy"],
    "properties": ROW["reports"],
    "plugin": ROW["__init__"],
    "__init__": ROW["__init__"],
}


@pytest.mark.parametrize("path", sorted((PACKAGE / "testing").glob("*.py")),
                         ids=lambda p: p.stem)
def test_testing_toolkit_stays_beside_the_core(path) -> None:
    highest = TESTING_MAY_IMPORT[path.stem]
    for imported in _imports(path):
        if imported == "testing":
            continue
        assert ROW[imported] <= highest, f"testing/{path.name} imports {imported}"
    for core in PACKAGE.glob("*.py"):
        assert "testing" not in _imports(core), f"{core.name} imports compliance.testing"


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.stem)
def test_each_module_says_what_it_owns(path) -> None:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert doc and len(doc.splitlines()[0]) > 20, f"{path.name} needs a one-line docstring"


def test_optional_and_heavy_libraries_are_not_imported_by_import_compliance() -> None:
    code = ("import sys, compliance; "
            "print(sorted(m for m in ('rich', 'currency_converter', 'pycountry', "
            "'durable', 'jsonschema', 'duckdb', 'hypothesis') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    assert "pip install ." in blocks[0] and "compliance check cases/" in blocks[0]
    assert 'pip install -e ".[test]"' in blocks[1] and blocks[1].endswith("pytest")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install -e ".[test]"' in ci and re.search(r"^\s*pytest\b", ci, re.M)


def test_every_command_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = _parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, sub in commands.items():
        nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
        names = [f"{name} {n}" for n in nested[0].choices] if nested else [name]
        for full in names:
            assert f"compliance {full}" in readme, f"README does not show `compliance {full}`"


def test_bundled_rules_ship_inside_the_package_build() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"rules" = "compliance/_rules"' in pyproject
    assert importlib.resources.files("compliance").joinpath("data/hs2022").is_dir()


def test_ruff_finds_nothing() -> None:
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "compliance", "tests"],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_docs_cover_every_fact_operator_and_error_code() -> None:
    from compliance.errors import CODES
    from compliance.facts import FACTS
    from compliance.operators import OPERATORS

    language = (ROOT / "docs" / "rule-language.md").read_text(encoding="utf-8")
    errors = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    for name in [*FACTS, *OPERATORS]:
        assert f"| `{name}` |" in language, f"docs/rule-language.md does not document {name}"
    for code in CODES:
        assert f"| `{code}` |" in errors, f"docs/errors.md does not document {code}"


def test_architecture_doc_lists_every_module() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for path in PACKAGE.glob("*.py"):
        row = ROW[path.stem]
        assert f"| {row} | `{path.name}` |" in text, f"docs/architecture.md misses {path.name}"
