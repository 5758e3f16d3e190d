"""Static analysis: a corpus of broken rule files, each with the exact diagnostics it must get."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from compliance.lint import lint
from tests.conftest import DATA

CORPUS = sorted((DATA / "lint").glob("*.yaml"))
EXPECT = re.compile(r'^# expect: (?P<code>[a-z-]+) (?P<line>\d+):(?P<col>\d+) "(?P<text>.*)"$')


def _expected(path: Path) -> list[tuple[str, int, int, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = EXPECT.match(line)
        if match:
            rows.append((match["code"], int(match["line"]), int(match["col"]), match["text"]))
    assert rows, f"{path.name} declares no expected diagnostic"
    return rows


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_lint_finds_exactly_the_planted_defects(path: Path) -> None:
    found = lint([path])
    expected = _expected(path)
    assert [(d.code, d.span.line, d.span.column) for d in found] == \
        [(code, line, col) for code, line, col, _ in expected]
    for diagnostic, (*_, text) in zip(found, expected, strict=True):
        assert text in diagnostic.message
        assert diagnostic.span.file == str(path)


def test_bundled_packs_lint_clean() -> None:
    found = lint()
    assert [d for d in found if d.severity != "note"] == []
    assert {d.code for d in found} <= {"unverified-citation"}


def test_lint_command_exit_status(cli) -> None:
    clean = cli("rules", "lint")
    assert clean.status == 0
    assert re.search(r"\n0 errors, 0 warnings, \d+ notes$", clean.out.rstrip())
    broken = cli("rules", "lint", DATA / "lint" / "contradiction.yaml")
    assert broken.status == 1
    assert "unsatisfiable: rule lint.contradiction can never be met" in broken.out
    as_json = cli("rules", "lint", DATA / "lint" / "redundant-prefix.yaml", "--format", "json")
    import json

    (row,) = json.loads(as_json.out)
    assert (row["code"], row["line"], row["column"], row["severity"]) == \
        ("redundant-prefix", 14, 7, "warning")
