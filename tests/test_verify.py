"""`compliance test`: rule examples, expected case findings, and coverage."""

from __future__ import annotations

import json

from tests.conftest import CASES, DATA


def test_bundled_examples_and_cases_pass(cli) -> None:
    run = cli("test", "--cases", CASES)
    assert run.status == 0, run.out
    assert run.out.startswith("ok: ") and " 0 failure(s)" in run.out


def test_coverage_names_rules_and_conditions(cli) -> None:
    run = cli("test", "--cases", CASES, "--coverage", "--format", "json")
    data = json.loads(run.out)
    rules = {r["rule"]: r for r in data["rules"]}
    vehicles = rules["un.dprk.luxury.vehicles"]
    assert vehicles["reached"] and "case pyongyang-summit-2024" in vehicles["reached_by"]
    tests = [c["test"] for c in vehicles["conditions"]]
    assert tests[0] == "all of" and "hs_code under 8703" in tests
    assert data["unreached"] == []


def test_a_failing_example_fails_the_run(cli) -> None:
    run = cli("test", DATA / "broken" / "wrong-threshold.yaml", "--cases", CASES)
    assert run.status == 1
    assert "FAIL " in run.out and "broken.tableware: example should be violation, got clear" \
        in run.out


def test_a_wrong_expectation_fails_the_run(cli, write) -> None:
    case = (CASES / "pyongyang-summit-2024.yaml").read_text(encoding="utf-8")
    expected = (CASES / "pyongyang-summit-2024.expected.yaml").read_text(encoding="utf-8")
    folder = write("cases/pyongyang-summit-2024.yaml", case).parent
    write("cases/pyongyang-summit-2024.expected.yaml",
          expected.replace("  pungsan-dogs-2024-06: []",
                           "  pungsan-dogs-2024-06:\n"
                           "    - {rule: un.dprk.food_agriculture.export, verdict: violation}"))
    run = cli("test", "--cases", folder)
    assert run.status == 1
    assert "pungsan-dogs-2024-06: expected un.dprk.food_agriculture.export violation (item 1);" \
        " got none" in run.out


def test_uncovered_rules_are_listed(cli, write) -> None:
    rules = write("pack.yaml", (DATA / "lint" / "never-clears.yaml").read_text(encoding="utf-8"))
    run = cli("test", rules, "--cases", CASES, "--coverage")
    assert "reached by no example or case: " not in run.out  # destination is always stated
    text = (DATA / "lint" / "contradiction.yaml").read_text(encoding="utf-8")
    run = cli("test", write("other.yaml", text), "--cases", CASES, "--coverage")
    assert "reached by no example or case: lint.contradiction" in run.out
