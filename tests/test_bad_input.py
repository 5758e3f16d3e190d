"""Bad case and rule files: one clear diagnostic (file, line, field), exit 2, no traceback."""

from __future__ import annotations

import copy
import datetime as dt
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from compliance import loader

GOOD_CASE = """\
case: demo
transfers:
  - id: t1
    date: 2024-06-19
    type: gift
    supplier: {name: Supplier, country: RU}
    recipient: {name: Recipient, country: KP}
    items:
      - description: Limousine
        hs_code: "8703"
        quantity: 1
        unit_value: {amount: 250000, currency: USD}
"""

GOOD_RULES = """\
pack: demo
title: Demo pack
authority: Nobody
lists:
  countries:
    dprk: [KP]
rules:
  - id: demo.cars
    title: Cars to the DPRK
    citation: {instrument: "UNSCR 2397 (2017)", provision: paragraph 7, confidence: secondary}
    binds: All UN Member States
    in_force: {from: 2017-12-22}
    verdict: violation
    because: No cars.
    when:
      all:
        - destination: {in: $dprk}
        - hs_code: {prefix: ["8703"]}
"""


@dataclass(frozen=True)
class Bad:
    name: str
    text: str | bytes
    code: str
    at: str | None  # a text on the line the diagnostic must point to (None: line 1)
    field: str = ""
    hint: str = ""
    nth: int = 1  # which line holding `at`, when several do
    message: str = ""  # the diagnostic's words after its code, when they matter


def _swap(base: str, old: str, new: str) -> str:
    assert old in base, old
    return base.replace(old, new, 1)


BAD_CASES = [
    Bad("invalid-yaml", _swap(GOOD_CASE, "type: gift", "type: [gift"), "yaml-syntax",
        "supplier"),
    Bad("empty", "", "empty-file", None),
    Bad("only-comments", "# nothing here\n", "empty-file", None),
    Bad("binary", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "not-text", None),
    Bad("latin1", "case: caf\xe9\n".encode("latin-1"), "not-text", None),
    Bad("missing-field", _swap(GOOD_CASE, "    date: 2024-06-19\n", ""), "missing-field",
        "- id: t1", "transfers[0].date"),
    Bad("unknown-field", _swap(GOOD_CASE, 'hs_code: "8703"', 'hs-code: "8703"'),
        "unknown-field", "hs-code", "transfers[0].items[0].hs-code", "did you mean 'hs_code'?"),
    Bad("wrong-type", _swap(GOOD_CASE, "quantity: 1", "quantity: [1, 2]"), "wrong-type",
        "quantity:", "transfers[0].items[0].quantity"),
    Bad("text-for-number", _swap(GOOD_CASE, "quantity: 1", "quantity: many"), "invalid-value",
        "quantity:", "transfers[0].items[0].quantity"),
    # in this project's words, not pydantic's ("Input should be a valid tuple")
    Bad("text-for-list", _swap(GOOD_CASE, "    items:\n", "    via: CN\n    items:\n"),
        "wrong-type", "via:", "transfers[0].via", "write a list, even of one: [CN]",
        message="expected a list; got text ('CN')"),
    Bad("number-for-text", _swap(GOOD_CASE, "name: Supplier", "name: 1984"), "wrong-type",
        "1984", "transfers[0].supplier.name", "put it in quotes",
        message="expected text; got a number (1984)"),
    Bad("quantity-zero", _swap(GOOD_CASE, "quantity: 1", "quantity: 0"), "invalid-value",
        "quantity:", "transfers[0].items[0].quantity",
        message="must be above 0; got a number (0)"),
    Bad("word-for-true-or-false", _swap(GOOD_CASE, "quantity: 1",
                                        "quantity: 1\n        value_estimated: maybe"),
        "invalid-value", "value_estimated:", "transfers[0].items[0].value_estimated",
        message="expected true or false; got text ('maybe')"),
    Bad("impossible-date", _swap(GOOD_CASE, "2024-06-19", "2024-02-30"), "invalid-date",
        "date:", "transfers[0].date"),
    Bad("number-for-date", _swap(GOOD_CASE, "2024-06-19", "20240619"), "wrong-type",
        "date:", "transfers[0].date",
        message="expected a date written YYYY-MM-DD; got a number (20240619)"),
    Bad("date-in-other-digits", _swap(GOOD_CASE, "2024-06-19", '"２０２４-０６-１９"'),
        "wrong-type", "date:", "transfers[0].date",
        message="expected a date written YYYY-MM-DD; got text ('２０２４-０６-１９')"),
    Bad("unknown-country", _swap(GOOD_CASE, "country: KP", "country: XX"), "unknown-country",
        "Recipient", "transfers[0].recipient.country"),
    Bad("uk-for-gb", _swap(GOOD_CASE, "country: RU", "country: UK"), "unknown-country",
        "Supplier", "transfers[0].supplier.country", "GB"),
    Bad("unknown-currency", _swap(GOOD_CASE, "currency: USD", "currency: USX"),
        "unknown-currency", "currency", "transfers[0].items[0].unit_value.currency"),
    Bad("non-numeric-hs", _swap(GOOD_CASE, '"8703"', '"87A3"'), "invalid-hs-code", "hs_code",
        "transfers[0].items[0].hs_code"),
    Bad("unknown-hs", _swap(GOOD_CASE, '"8703"', '"8799"'), "unknown-hs-code", "hs_code",
        "transfers[0].items[0].hs_code", "87 exists"),
    Bad("negative-quantity", _swap(GOOD_CASE, "quantity: 1", "quantity: -1"), "invalid-value",
        "quantity:", "transfers[0].items[0].quantity"),
    Bad("negative-value", _swap(GOOD_CASE, "amount: 250000", "amount: -5"), "invalid-value",
        "amount", "transfers[0].items[0].unit_value.amount"),
    Bad("duplicate-transfer-id", GOOD_CASE + GOOD_CASE.split("transfers:\n")[1],
        "duplicate-id", "- id: t1", "transfers[1].id", nth=2),
    Bad("duplicate-key", _swap(GOOD_CASE, "    type: gift\n", "    type: gift\n    type: sale\n"),
        "duplicate-key", "type: sale"),
    Bad("python-tag", _swap(GOOD_CASE, "case: demo",
                            "case: !!python/object/apply:os.system ['echo owned']"),
        "forbidden-tag", "python/object"),
    Bad("alias-bomb", textwrap.dedent("""\
        a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]
        b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
        c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
        d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
        e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
        f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
        g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
        h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
        i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
        """), "alias-limit", "a: &a"),
    Bad("not-a-mapping", "- just\n- a list\n", "wrong-type", None),
    Bad("text-for-a-party", _swap(GOOD_CASE, "{name: Supplier, country: RU}", "Supplier"),
        "wrong-type", "supplier:", "transfers[0].supplier", "its fields: name, country, role"),
    Bad("no-transfers", "case: demo\ntransfers: []\n", "invalid-value", "transfers",
        "transfers"),
    Bad("bad-slug", _swap(GOOD_CASE, "case: demo", "case: Demo Case"), "invalid-value",
        "case:", "case"),
    Bad("bad-type", _swap(GOOD_CASE, "type: gift", "type: present"), "invalid-value", "type:",
        "transfers[0].type", "sale"),
    Bad("deep-nesting", "case: " + "[" * 5000 + "]" * 5000 + "\n", "yaml-syntax", None),
]


def _line_of(text: str | bytes, marker: str | None, nth: int = 1) -> int:
    if marker is None:
        return 1
    assert isinstance(text, str)
    lines = [i for i, line in enumerate(text.splitlines(), 1) if marker in line]
    return lines[nth - 1]


def _assert_diagnostic(run, path, bad: Bad) -> None:
    assert run.status == 2, run.err
    assert "Traceback" not in run.err
    assert run.out == ""
    first = run.err.splitlines()[0]
    line = _line_of(bad.text, bad.at, bad.nth)
    assert first.startswith(f"{path}:{line}:"), first
    assert f": {bad.code}: " in first, first
    if bad.message:
        assert first.endswith(f": {bad.code}: {bad.message}"), first
    if bad.field:
        assert f"  field: {bad.field}\n" in run.err
    if bad.hint:
        assert "hint: " in run.err and bad.hint in run.err


@pytest.mark.parametrize("bad", BAD_CASES, ids=lambda b: b.name)
def test_bad_case_file(bad: Bad, cli, write) -> None:
    path = write("case.yaml", bad.text)
    _assert_diagnostic(cli("check", path), path, bad)


BAD_RULES = [
    Bad("unknown-fact", _swap(GOOD_RULES, "- destination:", "- destinaton:"), "unknown-fact",
        "destinaton", "rules[0].when.all[0].destinaton", "did you mean 'destination'?"),
    Bad("unknown-operator", _swap(GOOD_RULES, "{in: $dprk}", "{inn: $dprk}"),
        "unknown-operator", "inn", "rules[0].when.all[0].destination.inn", "'in'"),
    # as other languages name operators (MongoDB's gte; SQL's >=): how this one writes them
    Bad("operator-named-elsewhere", _swap(GOOD_RULES, '{prefix: ["8703"]}', '{startswith: "8703"}'),
        "unknown-operator", "startswith", "rules[0].when.all[1].hs_code.startswith",
        "hint: written here as prefix"),
    Bad("operator-named-elsewhere-gte", _swap(GOOD_RULES, "- hs_code:", "- quantity: {gte: 2}\n"
                                                "        - hs_code:"),
        "unknown-operator", "gte", "rules[0].when.all[1].quantity.gte",
        "hint: written here as ge"),
    Bad("operator-mismatch", _swap(GOOD_RULES, '{prefix: ["8703"]}', "{includes: KP}"),
        "operator-mismatch", "includes", "rules[0].when.all[1].hs_code.includes", "prefix"),
    Bad("unknown-list", _swap(GOOD_RULES, "{in: $dprk}", "{in: $dprkk}"), "unknown-list",
        "$dprkk", "rules[0].when.all[0].destination.in", "did you mean 'dprk'?"),
    Bad("unknown-country-operand", _swap(GOOD_RULES, "{in: $dprk}", "{in: [NK]}"),
        "unknown-country", "[NK]"),
    Bad("unknown-hs-operand", _swap(GOOD_RULES, '["8703"]', '["8799"]'), "unknown-hs-code",
        "8799"),
    Bad("malformed-citation", _swap(GOOD_RULES, " provision: paragraph 7,", ""),
        "missing-field", "citation:", "rules[0].citation.provision"),
    Bad("bad-confidence", _swap(GOOD_RULES, "confidence: secondary", "confidence: sure"),
        "invalid-value", "citation:", "rules[0].citation.confidence"),
    Bad("duplicate-rule-id", GOOD_RULES + GOOD_RULES.split("rules:\n")[1], "duplicate-id",
        "id: demo.cars", "rules[1].id", nth=2),
    Bad("bad-rule-id", _swap(GOOD_RULES, "id: demo.cars", "id: Demo Cars"), "invalid-value",
        "id: Demo", "rules[0].id"),
    Bad("rule-id-a-list", _swap(GOOD_RULES, "id: demo.cars", "id: [demo.cars]"),
        "wrong-type", "id: [demo", "rules[0].id"),  # no id to exempt, not a crash
    Bad("rule-id-a-mapping", _swap(GOOD_RULES, "id: demo.cars", "id: {demo: cars}"),
        "wrong-type", "id: {demo", "rules[0].id"),
    Bad("empty-window", _swap(GOOD_RULES, "{from: 2017-12-22}",
                              "{from: 2017-12-22, until: 2017-01-01}"),
        "invalid-value", "in_force", "rules[0].in_force.until"),
    Bad("two-keys-in-condition", _swap(GOOD_RULES, "      all:\n", "      any: []\n      all:\n"),
        "bad-condition", "when:"),
    Bad("bad-verdict", _swap(GOOD_RULES, "verdict: violation", "verdict: guilty"),
        "invalid-value", "verdict:", "rules[0].verdict"),
]


def test_a_whole_file_of_text_is_not_repeated_in_its_diagnostic(cli, write) -> None:
    """A ledger given as a case (or as a column mapping) is one YAML text: the diagnostic
    says what the file should hold, and shows the start of the text, not all of it."""
    ledger = "id,date,supplier.country,recipient.country\n" + "".join(
        f"t{n},2024-06-19,RU,KP\n" for n in range(200))
    path = write("ledger.yaml", ledger)
    for command in (("check", path), ("screen", write("ledger.csv", ledger), "--map", path)):
        run = cli(*command)
        assert run.status == 2, run.err
        first, *_, hint, count = run.err.splitlines()
        # YAML reads the lines as one text, each line end a space: 4,332 characters
        assert first == (f"{path}:1:1: wrong-type: expected a mapping of fields; got text"
                         " ('id,date,supplier.country,recipient.country t0,2024-06-19,RU,'..."
                         " (4,332 characters))")
        assert hint.startswith("  hint: its fields: case, " if command[0] == "check"
                               else "  hint: its fields: columns, constants, ")
        assert count == "1 problem in 1 file"


@pytest.mark.parametrize("bad", BAD_RULES, ids=lambda b: b.name)
def test_bad_rule_file(bad: Bad, cli, write) -> None:
    case = write("case.yaml", GOOD_CASE)
    path = write("rules/pack.yaml", bad.text)
    _assert_diagnostic(cli("check", case, "--rules", path), path, bad)


def test_good_fixtures_load(cli, write) -> None:
    case = write("case.yaml", GOOD_CASE)
    rules = write("rules.yaml", GOOD_RULES)
    run = cli("check", case, "--rules", rules)
    assert run.status == 1 and "VIOLATION  demo.cars" in run.out


def test_huge_file_is_refused_before_reading(cli, write, monkeypatch) -> None:
    monkeypatch.setattr(loader, "MAX_FILE_BYTES", 64)
    path = write("case.yaml", GOOD_CASE)
    run = cli("check", path)
    assert run.status == 2
    assert run.err.startswith(f"{path}:1:1: file-too-large: ")


def test_a_rule_id_in_two_files_is_reported(cli, write) -> None:
    case = write("case.yaml", GOOD_CASE)
    write("rules/a.yaml", GOOD_RULES)
    second = write("rules/b.yaml", GOOD_RULES.replace("pack: demo", "pack: demo2"))
    run = cli("check", case, "--rules", second.parent)
    assert run.status == 2
    assert f"{second}:8:5: duplicate-id: rule id 'demo.cars' is also defined at" in run.err


def test_every_problem_in_a_file_is_reported_at_once(cli, write) -> None:
    text = _swap(_swap(GOOD_CASE, "country: KP", "country: XX"), "currency: USD", "currency: $")
    path = write("case.yaml", text)
    run = cli("check", path)
    assert run.status == 2
    assert "unknown-country" in run.err and "unknown-currency" in run.err
    assert run.err.rstrip().endswith("2 problems in 1 file")


def test_a_case_file_given_as_rules_is_named_as_such(cli, write) -> None:
    case = write("case.yaml", GOOD_CASE)
    run = cli("check", case, "--rules", case)
    assert run.status == 2
    assert run.err.splitlines()[0] == \
        f"{case}:1:1: wrong-file-kind: this is a case file, not a rule file"
    rules = write("rules.yaml", GOOD_RULES)
    run = cli("check", rules)
    assert run.status == 2 and "this is a rule file, not a case file" in run.err
    assert "hint: pass it with --rules" in run.err
    run = cli("test", case)
    assert run.status == 2
    assert "hint: pass it to compliance check, or to compliance test with --cases" in run.err


def test_missing_path_is_a_usage_error(cli, tmp_path) -> None:
    run = cli("check", tmp_path / "nope.yaml")
    assert run.status == 2 and run.err.startswith("error: no such file or folder")


def test_console_script_prints_no_traceback(write) -> None:
    path = write("case.yaml", _swap(GOOD_CASE, "2024-06-19", "2024-02-30"))
    done = subprocess.run([sys.executable, "-m", "compliance", "check", str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"{path}:4:11: invalid-date: '2024-02-30' is not a real date")


GOOD_LINE = {"id": "t1", "date": "2024-06-19", "type": "gift",
             "supplier": {"name": "S", "country": "RU"},
             "recipient": {"name": "R", "country": "KP"},
             "items": [{"description": "Limousine", "hs_code": "8703", "quantity": 1}]}


def _line(**changes: object) -> str:
    import json

    data = json.loads(json.dumps(GOOD_LINE))
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        where = data
        for part in parents:
            where = where[int(part)] if part.isdigit() else where[part]
        if value is None:
            del where[last]
        else:
            where[last] = value
    return json.dumps(data)


@pytest.mark.parametrize(("line", "reason"), [
    ("{not json", "not valid JSON: key must be a string at column 2"),
    ("[1, 2]", "not a JSON object; got a list"),
    (_line(date=None), "date: missing"),
    (_line(type="gifts"), "type: 'gifts' is not an allowed value (did you mean 'gift'?)"),
    (_line(type=5), "type: a number (5) is not an allowed value (expected 'sale', 'gift',"
                    " 'loan', 'lease', 'barter', 'donation' or 'other')"),
    (_line(items__0__quantity="x"), "items[0].quantity: 'x' is not a number"),
    (_line(items=[]), "items: needs at least 1 entry; got none"),
    (_line(items__0__colour="red"), "items[0].colour: unknown field 'colour' (allowed fields:"
                                    " description, hs_code, quantity, unit_value,"
                                    " value_estimated, made_in, identifiers, notes)"),
    (_line(recipient__country="XX"), "recipient.country: 'XX' is not an ISO 3166-1 alpha-2"
                                     " country code (use an ISO 3166-1 alpha-2 code such as"
                                     " KP, RU or CN)"),
])
def test_a_rejected_json_line_says_why_in_the_words_of_a_case_file(line: str, reason: str) -> None:
    from pydantic import ValidationError

    from compliance import Transfer

    with pytest.raises(ValidationError) as caught:
        Transfer.model_validate_json(line)
    assert loader.first_problem(caught.value) == reason


# -- any field of a file given an odd value: judged or refused, never a crash ---------------

ROOT = Path(__file__).resolve().parent.parent
ODD_VALUES = [
    None, 0, -1, 1.5, 10**30, True, "", "x", "KP", "kp", "870324", "2024-02-30", "%Q",
    "%d'%m{%Y}", "a" * 300, [], {}, ["KP"], [["KP"]], {"in": ["KP"]}, {"gt": 5}, {"any": []},
    {"not": None}, {"between": [5, 1]}, {"matches": "("},
    {"amount": "1e999", "currency": "USD"}, dt.date(2024, 2, 29), dt.date.max]
"""Values of every YAML type, and texts and mappings each part of the loaders reads."""
ODD_IN_A_MAPPING = [v for v in ODD_VALUES if not isinstance(v, dict) or v in ({}, {"in": ["KP"]})]
"""A column mapping holds no conditions: one mapping of text stands for all of them (each
value costs a screen)."""

RICH_RULES = GOOD_RULES + """\
    examples:
      - verdict: violation
        transfer: {recipient: {country: KP}, items: [{description: Car, hs_code: "8703"}]}
      - verdict: clear
        transfer: {recipient: {country: CN}, items: [{description: Car, hs_code: "8703"}]}
exemptions:
  - id: demo.approved
    title: Approved in advance
    citation: {instrument: "UNSCR 2397 (2017)", provision: paragraph 25, confidence: unverified}
    exempts: [demo.cars]
    in_force: {from: 2017-12-22, until: 2030-01-01}
    because: Approved.
    when:
      licence.issuer: {mentions: [Committee]}
"""
"""A pack with a rule, its examples and an exemption: every kind of field a pack has."""

FILES = {
    "rules": yaml.safe_load(RICH_RULES),
    "case": yaml.safe_load((ROOT / "cases" / "pyongyang-summit-2024.yaml")
                           .read_text(encoding="utf-8")),
    "mapping": {"columns": {"date": "day", "supplier.country": "from", "recipient.country": "to",
                            "item.hs_code": "hs", "item.unit_value.amount": "price"},
                "constants": {"item.unit_value.currency": "EUR", "type": "gift"},
                "date_format": "%d.%m.%Y", "numbers": "1.234,56", "delimiter": ";",
                "encoding": "utf-8"},
}


def _fields(node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a YAML document: each key's value and each list entry, depth first."""
    if at:
        yield at
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _fields(value, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _fields(value, (*at, index))


def _first_of_each_name(document: Any) -> list[tuple[Any, ...]]:
    """The first place of each key name (and the first list entry at each depth)."""
    first: dict[tuple[int, str] | str, tuple[Any, ...]] = {}
    for place in _fields(document):
        name = place[-1] if isinstance(place[-1], str) else (len(place), "[]")
        first.setdefault(name, place)
    return list(first.values())


def _with(document: Any, place: tuple[Any, ...], value: Any) -> Any:
    """A copy of the document with ``value`` at ``place``."""
    changed = copy.deepcopy(document)
    parent = changed
    for step in place[:-1]:
        parent = parent[step]
    parent[place[-1]] = copy.deepcopy(value)
    return changed


@pytest.mark.parametrize("kind", sorted(FILES))
def test_any_field_given_an_odd_value_is_judged_or_refused_never_a_crash(kind, cli,
                                                                        tmp_path) -> None:
    """A rule pack, a case file or a column mapping, each field of it given each odd value.

    Every run ends with findings or with diagnostics (exit 0, 1 or 2), never
    with an internal error: a rule id written as a list once stopped the load
    (exit 3), and so did a date format holding a quote.
    """
    path, records = tmp_path / f"{kind}.yaml", tmp_path / "records.csv"
    records.write_text("day;from;to;hs;price\n19.06.2024;RU;KP;8703.23;250.000,00\n",
                       encoding="utf-8")
    pack = tmp_path / "pack.yaml"  # the small pack: loading the bundled ones each time is slow
    pack.write_text(RICH_RULES, encoding="utf-8")
    command = {"rules": ("check", ROOT / "cases" / "pyongyang-summit-2024.yaml", "--rules", path),
               "case": ("check", path),
               "mapping": ("screen", records, "--map", path, "--rules", pack,
                           "--out", tmp_path / "found.csv")}
    crashed = []
    for place in _first_of_each_name(FILES[kind]):
        for value in ODD_IN_A_MAPPING if kind == "mapping" else ODD_VALUES:
            path.write_text(yaml.safe_dump(_with(FILES[kind], place, value), allow_unicode=True,
                                           sort_keys=False), encoding="utf-8")
            run = cli(*command[kind])
            if run.status not in (0, 1, 2) or "Traceback" in run.err:
                crashed.append((place, value, run.status, run.err[-300:]))
    assert crashed == []


RICH_LINE = {**GOOD_LINE, "origin": "RU", "destination": "KP", "via": ["CN"],
             "licences": [{"issuer": "Ministry", "reference": "L-1", "covers": "cars"}],
             "items": [{**GOOD_LINE["items"][0], "made_in": "RU",
                        "unit_value": {"amount": "250000", "currency": "EUR"}}]}
"""A JSON line with every kind of field a transfer has."""
ODD_IN_JSON = [value.isoformat() if isinstance(value, dt.date) else value
               for value in ODD_VALUES] + ["0001-01-01", "1e999", "NaN", 1e308, 10**40, "0.0000005"]
"""The odd values as JSON holds them (a date as text), and numbers past what an amount holds."""


def test_any_field_of_a_json_line_given_an_odd_value_is_screened_or_rejected(
        cli, tmp_path, monkeypatch) -> None:
    """Each field of a JSON line given each odd value, screened, explained and correlated;
    screened by worker processes too, to the same bytes.

    A line dated 0001-01-01 once stopped compliance watch: the correlators
    opened a window before the first date there is.
    """
    import json

    from compliance import screening
    from compliance.correlate import Correlator

    path = tmp_path / "lines.jsonl"
    path.write_text("".join(json.dumps(_with(RICH_LINE, place, value)) + "\n"
                            for place in _first_of_each_name(RICH_LINE)
                            for value in ODD_IN_JSON), encoding="utf-8")
    run = cli("screen", path, "--out", tmp_path / "found.csv", "--explain")
    assert run.status in (1, 2) and "Traceback" not in run.err, run.err
    read = int(run.out.split("rows read ")[1].split(";")[0].replace(",", ""))
    assert read == len(path.read_text(encoding="utf-8").splitlines())  # each read, none lost
    monkeypatch.setattr(screening, "PARALLEL_BYTES", 0)  # workers for this small file
    monkeypatch.setattr(screening, "cores", lambda: 2)  # on any machine
    monkeypatch.setattr(screening, "RUN_LINES", 50)
    workers = cli("screen", path, "--out", tmp_path / "workers.csv", "--explain", "--jobs", "2")
    assert (workers.status, workers.out.replace("workers", "found")) == (run.status, run.out)
    for name in ("{}.csv", "{}.rejects.csv"):
        assert ((tmp_path / name.format("workers")).read_bytes()
                == (tmp_path / name.format("found")).read_bytes())
    rules = loader.load_rules()
    with path.open("rb") as handle:
        for _, transfer in loader.transfer_lines(handle):
            if not isinstance(transfer, str):  # each line the first its correlator sees
                Correlator(rules).feed(transfer)
