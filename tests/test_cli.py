"""The command line: commands, options and exit statuses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import compliance
from compliance.loader import bundled_rules_path
from tests.conftest import CASES, ROOT

PYONGYANG = CASES / "pyongyang-summit-2024.yaml"

CLEAN_CASE = """
    case: clean
    transfers:
      - id: t1
        date: 2024-06-19
        type: sale
        supplier: {name: S, country: DE}
        recipient: {name: R, country: FR}
        items:
          - {description: Tractor, hs_code: "8701"}
"""


def test_check_exits_1_on_violations_and_0_without(cli, write) -> None:
    assert cli("check", PYONGYANG).status == 1
    run = cli("check", write("clean.yaml", CLEAN_CASE))
    assert run.status == 0 and "no findings" in run.out


def test_fail_on_chooses_the_verdicts_that_fail(cli, write) -> None:
    tea = write("tea.yaml", CLEAN_CASE.replace("country: FR", "country: KP")
                .replace('{description: Tractor, hs_code: "8701"}',
                         '{description: Tea set, hs_code: "69"}'))
    assert cli("check", tea).status == 0
    assert cli("check", tea, "--fail-on", "undetermined").status == 1
    bad = cli("check", tea, "--fail-on", "guilty")
    assert bad.status == 2 and "unknown verdict guilty" in bad.err


def test_as_of_judges_by_the_rules_of_another_day(cli) -> None:
    run = cli("check", PYONGYANG, "--as-of", "2015-01-01", "--format", "json")
    report = json.loads(run.out)
    rules = {f["rule"] for t in report["cases"][0]["transfers"] for f in t["findings"]}
    assert report["as_of"] == "2015-01-01"
    assert "un.dprk.transport_vehicles.supply" not in rules  # adopted 2017-12-22
    assert "un.dprk.luxury.vehicles" in rules                 # in force since 2013-03-07
    assert cli("check", PYONGYANG, "--as-of", "2015-02-30").status == 2


def test_output_file(cli, tmp_path) -> None:
    target = tmp_path / "report.json"
    run = cli("check", PYONGYANG, "--format", "json", "--output", target)
    assert run.status == 1 and run.out == ""
    assert json.loads(target.read_text(encoding="utf-8"))["summary"]["cases"] == 1


def test_the_report_is_never_written_over_a_file_the_check_reads(cli, tmp_path,
                                                                  monkeypatch) -> None:
    cases, rules = tmp_path / "cases", tmp_path / "rules"
    cases.mkdir()
    shutil.copy(PYONGYANG, cases / "summit.yaml")
    shutil.copytree(bundled_rules_path(), rules)
    pack = next(iter(sorted(rules.rglob("*.yaml"))))
    kept = {path: path.read_bytes() for path in (cases / "summit.yaml", pack)}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(compliance, "check", lambda *a, **k: pytest.fail("checked"))
    for given, output, read in [
            (["cases/summit.yaml"], "./cases/summit.yaml", "cases/summit.yaml"),
            (["cases"], f"{cases}/summit.yaml", str(Path("cases") / "summit.yaml")),
            (["cases", "--rules", "rules"], str(pack),
             str(Path("rules") / pack.relative_to(rules)))]:
        run = cli("check", *given, "--output", output)
        assert (run.status, run.err) == (
            2, f"error: cannot write {output}: it is {read}, read by the check\n"
               "  hint: write the report to a file of its own\n")
    assert kept == {path: path.read_bytes() for path in kept}


def test_a_missing_fact_is_said_once_in_the_text_report(cli) -> None:
    run = cli("check", CASES)
    assert run.status == 1
    assert "made_in = (not stated)\n" in run.out
    assert "(not stated in the record)" not in run.out  # the value says it already


def test_rules_list_shows_the_catalogue(cli) -> None:
    run = cli("rules", "list")
    assert run.status == 0
    header, *rows = run.out.splitlines()
    assert header.split() == ["ID", "VERDICT", "INSTRUMENT", "PROVISION", "IN_FORCE", "GOODS"]
    assert any(r.startswith("un.dprk.transport_vehicles.supply") and "86, 87, 88, 89" in r
               for r in rows)
    listed = json.loads(cli("rules", "list", "--format", "json").out)
    assert [r["id"] for r in listed] == sorted(r["id"] for r in listed)
    assert len(listed) == len(compliance.load_rules())


def test_rules_without_an_action_lists_the_catalogue(cli) -> None:
    run = cli("rules")
    assert (run.status, run.err) == (0, "")
    assert run.out == cli("rules", "list").out


def test_rules_options_before_the_action_serve_it(cli) -> None:
    un = str(ROOT / "rules" / "un")
    own = cli("rules", "list", "--rules", un, "--format", "json")
    assert own.status == 0
    listed = json.loads(own.out)
    assert listed and {r["pack"] for r in listed} == {listed[0]["pack"]}
    assert len(listed) < len(compliance.load_rules())
    assert cli("rules", "--rules", un, "--format", "json").out == own.out
    assert cli("rules", "--rules", un, "--format", "json", "list").out == own.out
    shown = cli("rules", "--rules", un, "show", "un.dprk.statues.export")
    assert shown.out == cli("rules", "show", "un.dprk.statues.export", "--rules", un).out
    linted = cli("rules", "--format", "json", "lint", un)
    assert linted.out == cli("rules", "lint", un, "--format", "json").out
    assert cli("rules", "--rules", un, "lint").out == cli("rules", "lint", un).out


def test_rules_show_refuses_a_format(cli) -> None:
    run = cli("rules", "--format", "json", "show", "un.dprk.statues.export")
    assert run.status == 2 and run.out == ""
    assert "compliance rules show has no --format" in run.err


def test_rules_show_prints_citation_and_condition_tree(cli) -> None:
    run = cli("rules", "show", "un.dprk.statues.export")
    assert run.status == 0
    assert "citation:      UNSCR 2321 (2016), paragraph 29" in run.out
    assert "    hs_code under 9703   (from $original_sculpture)" in run.out


def test_rules_show_suggests_a_close_id(cli) -> None:
    run = cli("rules", "show", "un.dprk.statues.exports")
    assert run.status == 2
    assert "did you mean un.dprk.statues.export?" in run.err


@pytest.mark.parametrize("name", ["cases", "rules", "report"])
def test_schema_command_prints_json_schema(cli, name) -> None:
    run = cli("schema", name)
    assert run.status == 0 and json.loads(run.out) == compliance.schema(name)


def test_usage_errors_exit_2(cli) -> None:
    assert cli("check").status == 2
    assert cli("frobnicate").status == 2


def test_version(cli) -> None:
    run = cli("--version")
    assert run.status == 0 and compliance.__version__ in run.out
