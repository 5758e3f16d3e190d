"""Exemptions and licences, a pack's reach, and country groups with dates."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import compliance
from compliance.conditions import leaves, outline
from compliance.engine import Engine, FindingVerdict
from compliance.screening import screen
from compliance.testing.plugin import PROFILES
from compliance.testing.properties import PropertyFailure, exemptions_never_add_findings

PACK = """
pack: test.exempt
title: Exemption test pack
authority: Test authority
binds: persons in the Union
reach:
  any:
    - origin: {in: $eu}
    - supplier.country: {in: $eu}
lists:
  keywords:
    committee: [1718 Committee]
rules:
  - id: test.exempt.vehicles
    title: Vehicles to the DPRK
    citation:
      {instrument: Test Act, provision: article 1, url: "https://example.org/a1",
       confidence: verified}
    binds: everyone
    in_force: {from: 2018-01-01}
    verdict: violation
    because: no vehicles
    when:
      all:
        - destination: {in: [KP]}
        - hs_code: {prefix: ["87"]}
exemptions:
  - id: test.exempt.humanitarian
    title: Humanitarian approval
    citation:
      {instrument: Test Act, provision: article 2, url: "https://example.org/a2",
       confidence: verified}
    exempts: [test.exempt.vehicles]
    in_force: {from: 2019-01-01}
    because: approved for humanitarian delivery
    when:
      all:
        - licence.issuer: {mentions: $committee}
        - licence.covers: {mentions: [humanitarian]}
"""


def _transfer(date: str = "2020-05-01", licences: list[dict] | None = None,
              supplier: str = "DE") -> compliance.Transfer:
    return compliance.Transfer.model_validate({
        "id": "t1", "date": date, "type": "donation",
        "supplier": {"name": "Agency", "country": supplier},
        "recipient": {"name": "Office", "country": "KP"},
        "licences": licences or [],
        "items": [{"description": "Water truck", "hs_code": "8704.22"}]})


@pytest.fixture
def pack(write) -> compliance.RuleSet:
    return compliance.load_rules(write("pack.yaml", PACK))


def _only(engine: Engine, transfer: compliance.Transfer) -> compliance.Finding:
    (finding,) = engine.evaluate_transfer(transfer).findings
    return finding


def test_a_matching_licence_exempts_and_the_finding_stays(pack) -> None:
    licence = {"issuer": "UN 1718 Committee", "reference": "X-1", "covers": "humanitarian aid"}
    finding = _only(Engine(pack), _transfer(licences=[licence]))
    assert finding.verdict is FindingVerdict.EXEMPTED
    assert finding.exempted_by is not None
    assert finding.exempted_by.exemption.id == "test.exempt.humanitarian"
    assert finding.exempted_by.licence.reference == "X-1"
    assert finding.exempted_by.verdict is FindingVerdict.VIOLATION
    assert finding.full_explanation == (
        f"{finding.explanation}\nexempted by test.exempt.humanitarian"
        f" ({finding.exempted_by.citation}):\n{finding.exempted_by.explanation}")


def test_without_a_licence_the_finding_stands(pack) -> None:
    finding = _only(Engine(pack), _transfer())
    assert finding.verdict is FindingVerdict.VIOLATION
    assert finding.full_explanation == finding.explanation


def test_two_licences_never_combine_into_one_that_matches(pack) -> None:
    licences = [{"issuer": "UN 1718 Committee", "reference": "A", "covers": "spare parts"},
                {"issuer": "BIS", "reference": "B", "covers": "humanitarian aid"}]
    engine = Engine(pack)
    assert _only(engine, _transfer(licences=licences)).verdict is FindingVerdict.VIOLATION
    assert engine.verdicts(_transfer(licences=licences)) == [
        (0, "test.exempt.vehicles", FindingVerdict.VIOLATION)]


def test_an_exemption_not_yet_in_force_does_not_exempt(pack) -> None:
    licence = {"issuer": "1718 Committee", "reference": "X", "covers": "humanitarian"}
    finding = _only(Engine(pack), _transfer(date="2018-06-01", licences=[licence]))
    assert finding.verdict is FindingVerdict.VIOLATION


def test_the_report_names_the_exemption_and_the_licence(pack) -> None:
    case = compliance.Case(case="c", transfers=(_transfer(licences=[
        {"issuer": "1718 Committee", "reference": "X-9", "covers": "humanitarian"}]),))
    report = compliance.check(case, pack)
    data = json.loads(report.to_json())
    (finding,) = data["cases"][0]["transfers"][0]["findings"]
    assert finding["verdict"] == "exempted"
    assert finding["exempted_by"]["exemption"] == "test.exempt.humanitarian"
    assert finding["exempted_by"]["licence"] == {"issuer": "1718 Committee", "reference": "X-9",
                                                 "covers": "humanitarian"}
    assert finding["exempted_by"]["verdict_without"] == "violation"
    assert report.exit_status() == 0


def test_an_exemption_naming_an_unknown_rule_is_refused(write) -> None:
    path = write("pack.yaml", PACK.replace("exempts: [test.exempt.vehicles]",
                                           "exempts: [test.exempt.vehicle]"))
    with pytest.raises(compliance.RuleFileError) as caught:
        compliance.load_rules(path)
    (problem,) = caught.value.diagnostics
    assert problem.code == "unknown-rule"
    assert problem.field == "exemptions[0].exempts[0]"
    assert "did you mean 'test.exempt.vehicles'?" in problem.hint


def test_a_rule_may_not_read_licence_facts(write) -> None:
    path = write("pack.yaml", PACK.replace("        - hs_code: {prefix: [\"87\"]}",
                                           "        - licence.issuer: {mentions: [BIS]}"))
    with pytest.raises(compliance.RuleFileError) as caught:
        compliance.load_rules(path)
    assert [d.code for d in caught.value.diagnostics] == ["unknown-fact"]
    assert "not available here" in caught.value.diagnostics[0].message


def test_a_transfer_the_reach_misses_is_outside_not_clear(pack) -> None:
    result = Engine(pack).evaluate_transfer(_transfer(supplier="CN"))
    assert result.findings == ()
    (regime,) = result.regimes
    assert regime.status.value == "outside"
    assert "persons in the Union" in regime.note


def test_reach_on_a_missing_fact_is_undetermined(rules) -> None:
    transfer = compliance.Transfer.model_validate({
        "id": "t", "date": "2023-01-05", "type": "sale",
        "supplier": {"name": "A", "country": "CN"}, "recipient": {"name": "B", "country": "FR"},
        "items": [{"description": "Laptop", "hs_code": "8471.30"}]})
    standing = {r.pack.pack: r for r in Engine(rules).evaluate_transfer(transfer).regimes}
    assert standing["us.ear"].status.value == "undetermined"
    assert "made_in" in standing["us.ear"].note


def test_eu_membership_is_dated_in_the_tree(pack, rules) -> None:
    # a rule of 2018 sees the United Kingdom only until the end of 2020 ...
    tree = "\n".join(outline(pack.get("test.exempt.vehicles").when))
    assert "origin is GB   (from $eu)\n        date < 2021-01-01" in tree
    # ... and a rule of 2022 sees the 27 members with no date test at all
    russia = rules.get("eu.russia.luxury.export")
    members = next(leaf for leaf in leaves(russia.when) if leaf.fact == "origin")
    assert len(members.operand) == 27 and "GB" not in members.operand
    assert not any(leaf.fact == "date" for leaf in leaves(russia.when))


def test_a_country_joins_the_eu_on_its_day(write) -> None:
    older = PACK.replace("in_force: {from: 2018-01-01}", "in_force: {from: 2010-01-01}")
    engine = Engine(compliance.load_rules(write("older.yaml", older)))
    day = dt.date(2013, 7, 1)  # Croatia
    for date, expected in ((day - dt.timedelta(days=1), "outside"), (day, "no-findings")):
        transfer = _transfer(date=str(date), supplier="HR").model_copy(
            update={"destination": "CN"})
        (regime,) = engine.evaluate_transfer(transfer).regimes
        assert regime.status.value == expected, date


def test_screening_exempts_as_the_engine_does(pack, tmp_path) -> None:
    good = {"issuer": "1718 Committee", "reference": "X", "covers": "humanitarian"}
    transfers = [_transfer(licences=[good]), _transfer(),
                 _transfer(licences=[{**good, "covers": "spare parts"},
                                     {**good, "issuer": "BIS"}])]
    path = tmp_path / "records.jsonl"
    path.write_text("".join(t.model_dump_json() + "\n" for t in transfers), encoding="utf-8")
    verdicts = [f[5] for f in screen(path, pack).findings]
    assert verdicts == ["exempted", "violation", "violation"]
    csv_path = tmp_path / "records.csv"
    csv_path.write_text(
        "date,supplier.country,recipient.country,destination,item.hs_code,licence.issuer,"
        "licence.reference,licence.covers\n"
        "2020-05-01,DE,KP,KP,8704,1718 Committee,X,humanitarian aid\n"
        "2020-05-01,DE,KP,KP,8704,,,\n", encoding="utf-8")
    assert [f[5] for f in screen(csv_path, pack).findings] == ["exempted", "violation"]


def test_the_exemption_property_catches_an_engine_that_drops_exempted_findings(rules) -> None:
    class Dropping(Engine):
        def verdicts(self, transfer, as_of=None):
            return [row for row in super().verdicts(transfer, as_of)
                    if row[2] is not FindingVerdict.EXEMPTED]

    exemptions_never_add_findings(Engine(rules), PROFILES["ci"])
    with pytest.raises(PropertyFailure, match="added or removed a finding"):
        exemptions_never_add_findings(Dropping(rules), PROFILES["ci"])
