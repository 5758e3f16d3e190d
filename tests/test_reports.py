"""Reports: the JSON schema, byte-for-byte determinism, and the text rendering."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import jsonschema

import compliance
from tests.conftest import CASES, ROOT

PYONGYANG = CASES / "pyongyang-summit-2024.yaml"


def _json_run(seed: str) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-m", "compliance", "check", "cases/", "--format", "json"],
        cwd=ROOT, env=env, capture_output=True, check=False)
    assert done.returncode == 1, done.stderr
    return done.stdout


def test_json_is_identical_byte_for_byte_across_runs() -> None:
    assert _json_run("1") == _json_run("2")


def test_report_schema_is_valid_and_describes_the_report(rules) -> None:
    schema = compliance.schema("report")
    jsonschema.Draft202012Validator.check_schema(schema)
    report = compliance.check(PYONGYANG, rules).to_dict()
    jsonschema.validate(report, schema)
    broken = dict(report)
    del broken["summary"]
    validator = jsonschema.Draft202012Validator(schema)
    assert any("summary" in e.message for e in validator.iter_errors(broken))


def test_case_and_rule_schemas_accept_the_bundled_files(rules) -> None:
    import yaml

    cases_schema = compliance.schema("cases")
    rules_schema = compliance.schema("rules")
    for schema in (cases_schema, rules_schema):
        jsonschema.Draft202012Validator.check_schema(schema)
    case = yaml.safe_load(PYONGYANG.read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(json.dumps(case, default=str)), cases_schema)
    for path in (ROOT / "rules").rglob("*.yaml"):
        pack = yaml.safe_load(path.read_text(encoding="utf-8"))
        jsonschema.validate(json.loads(json.dumps(pack, default=str)), rules_schema)


def test_rule_schema_checks_conditions_operator_by_fact() -> None:
    defs = compliance.schema("rules")["$defs"]
    validator = jsonschema.Draft202012Validator({"$defs": defs, "$ref": "#/$defs/Condition"})
    assert validator.is_valid({"all": [{"destination": {"in": ["KP"]}},
                                       {"hs_code": {"prefix": ["93"], "except": ["9307"]}}]})
    assert not validator.is_valid({"destination": {"inn": ["KP"]}})
    assert not validator.is_valid({"hs_code": {"includes": "KP"}})
    assert not validator.is_valid({"destinaton": {"in": ["KP"]}})


def test_text_report_has_no_colour_off_a_terminal(rules) -> None:
    out = io.StringIO()
    compliance.check(PYONGYANG, rules).write_text(out)
    text = out.getvalue()
    assert "\x1b[" not in text
    assert "VIOLATION  un.dprk.transport_vehicles.supply  UNSCR 2397 (2017), paragraph 7" in text
    assert re.search(r"no findings \(\d+ rules in force on 2024-06-19; none engaged;"
                     r" reached by un\.dprk\)", text)
    assert text.rstrip().splitlines()[-1].startswith("summary: 1 case(s), 6 transfer(s)")


def test_text_report_can_be_forced_to_colour(rules) -> None:
    out = io.StringIO()
    compliance.check(PYONGYANG, rules).write_text(out, color=True)
    assert "\x1b[" in out.getvalue()


def test_user_text_is_never_read_as_markup(write, rules) -> None:
    path = write("case.yaml", """
        case: markup
        transfers:
          - id: t1
            date: 2024-06-19
            type: sale
            supplier: {name: "[bold]S[/bold]", country: RU}
            recipient: {name: R, country: KP}
            items:
              - {description: "[red]Limousine[/red]", hs_code: "8703"}
    """)
    out = io.StringIO()
    compliance.check(path, rules).write_text(out)
    assert "[red]Limousine[/red]" in out.getvalue()
    assert "[bold]S[/bold] (RU)" in out.getvalue()
