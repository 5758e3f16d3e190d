"""Every case in cases/ against its expected findings, and the Pyongyang case in detail."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import compliance
from compliance.correlate import chains_in
from compliance.loader import expectations_path, load_expectations
from tests.conftest import CASES

CASE_FILES = sorted(p for p in CASES.rglob("*.yaml") if not p.stem.endswith(".expected"))
PYONGYANG = CASES / "pyongyang-summit-2024.yaml"


def _expected(case_file: Path) -> dict:
    expected = expectations_path(case_file)
    assert expected.exists(), f"{case_file.name} has no expected findings beside it"
    return load_expectations(expected).model_dump(exclude_none=True)


def _actual(report: compliance.Report) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for case in report.evaluation.cases:
        for result in case.transfers:
            rows = found.setdefault(result.transfer.id, [])
            for f in result.findings:
                row = {"rule": f.rule.id, "verdict": f.verdict.value, "item": f.item_index + 1}
                if f.missing:
                    row["missing"] = list(f.missing)
                rows.append(row)
    return found


def _key(row: dict) -> tuple:
    return (row["item"], row["rule"], row["verdict"])


def test_the_corpus_holds_real_and_constructed_cases() -> None:
    real = [p for p in CASE_FILES if p.parent == CASES]
    assert len(real) >= 15, "at least 15 real cases, each with its sources"
    for case_file in real:
        assert compliance.load_case(case_file).sources, f"{case_file.name} cites no source"


@pytest.mark.parametrize("case_file", CASE_FILES, ids=lambda p: p.relative_to(CASES).as_posix())
def test_case_gives_expected_findings(case_file: Path, rules: compliance.RuleSet) -> None:
    expected = _expected(case_file)
    report = compliance.check(case_file, rules)
    actual = _actual(report)
    assert set(actual) == set(expected["transfers"]), "every transfer has expectations"
    for transfer_id, rows in expected["transfers"].items():
        wanted = sorted(rows, key=_key)
        got = sorted(actual[transfer_id], key=_key)
        for row in wanted:  # "missing" is asserted only where the expectation states it
            match = next((g for g in got if _key(g) == _key(row)), None)
            assert match is not None, f"{transfer_id}: expected {row}, got {got}"
            if "missing" in row:
                assert match.get("missing") == row["missing"], transfer_id
        assert [_key(r) for r in got] == [_key(r) for r in wanted], transfer_id
    standing = {result.transfer.id: {r.pack.pack: r.status.value for r in result.regimes}
                for case in report.evaluation.cases for result in case.transfers}
    for transfer_id, packs in expected.get("regimes", {}).items():
        for pack, status in packs.items():
            assert standing[transfer_id].get(pack) == status, (transfer_id, pack)
    wanted = sorted((c["rule"], c["link"], tuple(c["transfers"]))
                    for c in expected.get("chains", []))
    assert sorted(chains_in(report.chains)) == wanted


def _findings(report: compliance.Report, transfer_id: str) -> list[compliance.Finding]:
    return [f for f in report.findings if f.transfer.id == transfer_id]


@pytest.fixture(scope="module")
def pyongyang(rules: compliance.RuleSet) -> compliance.Report:
    return compliance.check(compliance.load_case(PYONGYANG), rules)


def test_limousines_violate_luxury_and_transport_bans(pyongyang: compliance.Report) -> None:
    for transfer in ("aurus-senat-2024-02", "aurus-senat-2024-06"):
        by_rule = {f.rule.id: f for f in _findings(pyongyang, transfer)}
        assert by_rule["un.dprk.transport_vehicles.supply"].citation == \
            "UNSCR 2397 (2017), paragraph 7"
        assert by_rule["un.dprk.luxury.vehicles"].citation.startswith("UNSCR 2094 (2013)")
        assert {f.verdict.value for f in by_rule.values()} == {"violation"}


def test_busts_violate_the_statues_ban(pyongyang: compliance.Report) -> None:
    busts = [f for f in _findings(pyongyang, "artworks-2024-06") if f.item_index == 0]
    assert [(f.rule.id, f.verdict.value) for f in busts] == \
        [("un.dprk.statues.export", "violation")]
    assert busts[0].citation == "UNSCR 2321 (2016), paragraph 29"


def test_dogs_engage_no_rule(pyongyang: compliance.Report) -> None:
    assert _findings(pyongyang, "pungsan-dogs-2024-06") == []


def test_tea_set_is_undetermined_for_want_of_value_and_subheading(
        pyongyang: compliance.Report) -> None:
    (finding,) = [f for f in _findings(pyongyang, "tea-set-2024-06")
                  if f.rule.id == "un.dprk.luxury.porcelain_tableware"]
    assert finding.verdict is compliance.FindingVerdict.UNDETERMINED
    assert finding.missing == ("hs_code", "unit_value")
    assert "unit_value ≤ 100 USD" in finding.clears_if


def test_dirk_is_left_for_review_not_called_a_violation(pyongyang: compliance.Report) -> None:
    (finding,) = [f for f in _findings(pyongyang, "naval-dirk-2024-06")
                  if f.rule.pack == "un.dprk"]
    assert (finding.rule.id, finding.verdict.value) == ("un.dprk.arms.bladed", "review")


def test_us_law_is_undetermined_only_for_want_of_where_goods_were_made(
        pyongyang: compliance.Report) -> None:
    (finding,) = [f for f in _findings(pyongyang, "naval-dirk-2024-06")
                  if f.rule.pack == "us.ear"]
    assert finding.verdict is compliance.FindingVerdict.UNDETERMINED
    assert finding.missing == ("made_in",)


def test_regimes_that_do_not_reach_a_transfer_are_outside_not_clear(
        pyongyang: compliance.Report) -> None:
    (result,) = [t for case in pyongyang.evaluation.cases for t in case.transfers
                 if t.transfer.id == "pungsan-dogs-2024-06"]
    standing = {r.pack.pack: r.status.value for r in result.regimes}
    assert standing["un.dprk"] == "no-findings"
    assert standing["eu.dprk"] == "outside"
    assert standing["us.ear"] == "outside"


def test_explanation_names_each_fact_and_value(pyongyang: compliance.Report) -> None:
    finding = next(f for f in _findings(pyongyang, "aurus-senat-2024-02")
                   if f.rule.id == "un.dprk.transport_vehicles.supply")
    text = finding.explanation
    assert "✓ destination is KP: destination = KP" in text
    assert "✓ hs_code under 86, 87, 88, 89: hs_code = 8703" in text


def test_json_report_validates_and_lists_every_transfer(cli) -> None:
    run = cli("check", PYONGYANG, "--format", "json")
    assert run.status == 1
    report = json.loads(run.out)
    jsonschema.validate(report, compliance.schema("report"))
    (case,) = report["cases"]
    assert [t["id"] for t in case["transfers"]] == [
        "aurus-senat-2024-02", "aurus-senat-2024-06", "tea-set-2024-06",
        "naval-dirk-2024-06", "pungsan-dogs-2024-06", "artworks-2024-06"]
    dogs = case["transfers"][4]
    assert dogs["findings"] == [] and dogs["status"] == "no-findings"
    first = case["transfers"][0]["findings"][0]
    assert first["citation"] and first["legal"]["instrument"]
    assert first["explanation"]["outcome"] == "met"
    leaves = first["explanation"]["children"][0]["children"]
    assert leaves[0] == {"test": "destination is KP", "outcome": "met",
                         "fact": "destination", "value": "KP",
                         "rule_line": leaves[0]["rule_line"]}
