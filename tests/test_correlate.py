"""Correlation rules: chains and totals across transfers, the Rete engine against the plain one."""

from __future__ import annotations

import datetime as dt
import json
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compliance
from compliance.correlate import Correlator, chains_in, window_start
from compliance.models import Transfer

PACK = """
pack: test.chains
title: Correlation test pack
authority: Test authority
lists:
  countries:
    dprk: [KP]
rules:
  - id: test.chains.placeholder
    title: A single-record rule
    citation: {instrument: Test Act, provision: article 1, url: "https://example.org/1",
               confidence: verified}
    binds: everyone
    in_force: {from: 2000-01-01}
    verdict: violation
    because: a rule a pack must have
    when: {hs_code: {prefix: ["93"]}}
correlations:
  - id: test.chains.three_legs
    title: Cars through two countries to the DPRK
    citation: {instrument: Test Act, provision: article 2, url: "https://example.org/2",
               confidence: verified}
    binds: everyone
    in_force: {from: 2010-01-01}
    verdict: violation
    because: indirect supply
    link: item.identifiers.vin
    within_days: 365
    sequence:
      - {name: out, when: {all: [{hs_code: {prefix: ["8703"]}}, {not: {destination: {in: $dprk}}}]}}
      - {name: on, when: {all: [{hs_code: {prefix: ["8703"]}}, {not: {destination: {in: $dprk}}}]}}
      - {name: in, when: {all: [{hs_code: {prefix: ["8703"]}}, {destination: {in: $dprk}}]}}
  - id: test.chains.consignments
    title: Luxury consignments to one consignee adding up
    citation: {instrument: Test Act, provision: article 3, url: "https://example.org/3",
               confidence: verified}
    binds: everyone
    in_force: {from: 2010-01-01}
    verdict: review
    because: split consignments
    link: recipient.name
    within_days: 90
    each: {all: [{destination: {in: $dprk}}, {hs_code: {prefix: ["2208"]}}]}
    total: {gt: {amount: 10000, currency: USD}}
"""


def _car(transfer_id: str, date: str, supplier: str, recipient: str, vin: str,
         hs_code: str = "8703.23") -> Transfer:
    return Transfer.model_validate({
        "id": transfer_id, "date": date, "type": "sale",
        "supplier": {"name": f"{supplier} dealer", "country": supplier},
        "recipient": {"name": f"{recipient} buyer", "country": recipient},
        "items": [{"description": "Saloon car", "hs_code": hs_code, "identifiers": {"vin": vin}}]})


def _spirits(transfer_id: str, date: str, amount: int) -> Transfer:
    return Transfer.model_validate({
        "id": transfer_id, "date": date, "type": "sale",
        "supplier": {"name": "Distiller", "country": "CN"},
        "recipient": {"name": "Store No. 1", "country": "KP"},
        "items": [{"description": "Cognac", "hs_code": "2208.20",
                   "unit_value": {"amount": amount, "currency": "USD"}}]})


@pytest.fixture(scope="module")
def pack_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("pack") / "chains.yaml"
    path.write_text(PACK, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pack(pack_file) -> compliance.RuleSet:
    return compliance.load_rules(pack_file)


def _run(pack, transfers, engine=Correlator) -> list[tuple]:
    return list(chains_in(engine(pack).run((t, "c") for t in transfers)))


LEGS = [_car("a", "2018-06-14", "NL", "CN", "V1"), _car("b", "2018-08-01", "CN", "JP", "V1"),
        _car("c", "2018-10-07", "RU", "KP", "V1")]


def test_a_chain_through_two_countries_is_found_with_every_record(pack) -> None:
    chain = [("test.chains.three_legs", "vin:V1", ("a", "b", "c"))]
    assert _run(pack, LEGS) == chain
    # the order of the input does not matter in a batch: it is sorted by date
    assert _run(pack, list(reversed(LEGS))) == chain


def test_no_chain_across_links_outside_the_window_or_backwards(pack) -> None:
    other_vin = [LEGS[0], LEGS[1], _car("c", "2018-10-07", "RU", "KP", "V2")]
    assert _run(pack, other_vin) == []
    too_late = [LEGS[0], LEGS[1], _car("c", "2019-06-15", "RU", "KP", "V1")]
    assert _run(pack, too_late) == []
    delivered_first = [_car("c", "2018-05-01", "RU", "KP", "V1"), LEGS[0], LEGS[1]]
    assert _run(pack, delivered_first) == []
    a_boat = [LEGS[0], LEGS[1], _car("c", "2018-10-07", "RU", "KP", "V1", hs_code="8903")]
    assert _run(pack, a_boat) == []


def test_a_finding_explains_each_record_and_names_the_destination(pack) -> None:
    (finding,) = Correlator(pack).run((t, "c") for t in LEGS)
    assert [link.step for link in finding.chain] == ["out", "on", "in"]
    assert finding.final_destination == "KP"
    assert "destination is KP: destination = KP" in finding.chain[-1].explanation
    assert finding.citation == "Test Act, article 2"


def test_a_total_crossing_its_threshold_in_the_window(pack) -> None:
    stream = [_spirits("s1", "2020-01-10", 4000), _spirits("s2", "2020-02-10", 4000),
              _spirits("s3", "2020-03-10", 4000), _spirits("s4", "2020-03-20", 4000)]
    (finding,) = Correlator(pack).run((t, "c") for t in stream)
    assert finding.verdict.value == "review"
    assert [link.record.transfer.id for link in finding.chain] == ["s1", "s2", "s3"]
    assert str(finding.total) == "12,000 USD"
    spread = [_spirits("s1", "2020-01-10", 4000), _spirits("s2", "2020-06-10", 4000),
              _spirits("s3", "2020-11-10", 4000)]
    assert Correlator(pack).run((t, "c") for t in spread) == []


def test_state_stays_within_the_windows(pack) -> None:
    correlator = Correlator(pack)
    start = dt.date(2015, 1, 1)
    for n in range(2000):  # one car a day; each meets two steps (out, on), so is held twice
        day = start + dt.timedelta(days=n)
        correlator.feed(_car(f"t{n}", day.isoformat(), "NL", "CN", f"V{n % 50}"))
        assert correlator.held <= 2 * 366  # a window of 365 days: 366 days of records at most
    assert correlator.held == 2 * 366  # without eviction it would hold all 4,000


FIRST_DAYS = [_car("early", "0001-01-01", "NL", "CN", "V1"),
              _car("early2", "0001-01-02", "CN", "KP", "V1"), *LEGS]
"""Records dated on the first days a date can be, a window before which does not exist."""


def test_as_of_judges_chains_by_the_correlations_in_force_on_that_day(pack, pack_file, tmp_path,
                                                                       cli) -> None:
    """--as-of is a what-if for every rule: the chains' too, as the transfers' rules are."""
    def chains(as_of: str | None) -> list[tuple]:
        day = None if as_of is None else dt.date.fromisoformat(as_of)
        return list(chains_in(Correlator(pack, as_of=day).run((t, "c") for t in LEGS)))

    found = [("test.chains.three_legs", "vin:V1", ("a", "b", "c"))]
    assert chains(None) == chains("2010-01-01") == found  # in force from 2010-01-01
    assert chains("2009-12-31") == []
    case = tmp_path / "legs.yaml"
    case.write_text(json.dumps({"case": "legs", "transfers": [
        json.loads(t.model_dump_json()) for t in LEGS]}), encoding="utf-8")
    for as_of, expected in (("2009-12-31", 0), ("2010-01-01", 1)):
        run = cli("check", case, "--rules", pack_file, "--as-of", as_of, "--format", "json")
        assert len(json.loads(run.out)["cases"][0]["chains"]) == expected


def test_records_of_the_first_days_a_date_can_be_are_held_and_evicted(pack) -> None:
    assert window_start(dt.date(1, 1, 1), dt.timedelta(days=365)) == dt.date.min
    assert window_start(dt.date(2018, 10, 7), dt.timedelta(days=2)) == dt.date(2018, 10, 5)
    assert _run(pack, FIRST_DAYS) == [("test.chains.three_legs", "vin:V1", ("a", "b", "c"))]


# -- the Rete engine -------------------------------------------------------------------------

def _rete():
    from compliance.rete import ReteCorrelator

    try:
        import durable.lang  # noqa: F401
    except Exception:
        if sys.version_info >= (3, 13):  # durable_rules' C extension does not import there
            pytest.skip("durable_rules does not import on Python 3.13 and later")
        raise  # on 3.11 and 3.12 the test extra installs it: failing to import is a failure
    return ReteCorrelator


@st.composite
def _streams(draw) -> list[Transfer]:
    count = draw(st.integers(1, 25))
    records = []
    for n in range(count):
        day = dt.date(2017, 1, 1) + dt.timedelta(days=draw(st.integers(0, 900)))
        destination = draw(st.sampled_from(["CN", "JP", "RU", "KP", "KP"]))
        records.append(_car(f"t{n}", day.isoformat(), draw(st.sampled_from(["NL", "CN", "RU"])),
                            destination, draw(st.sampled_from(["V1", "V2", "V3"])),
                            draw(st.sampled_from(["8703.23", "8703.23", "8704.21"]))))
    return records


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(streams=_streams())
def test_the_rete_engine_finds_what_the_plain_evaluator_finds(pack, streams) -> None:
    rete = _rete()
    assert _run(pack, streams, rete) == _run(pack, streams, Correlator)


def test_the_rete_engine_on_the_bundled_chain(pack) -> None:
    assert _run(pack, LEGS, _rete()) == [("test.chains.three_legs", "vin:V1", ("a", "b", "c"))]
    assert _run(pack, FIRST_DAYS, _rete()) == _run(pack, FIRST_DAYS)
    rete = _rete()
    for day in (dt.date(2009, 12, 31), dt.date(2010, 1, 1)):  # --as-of, as the plain one
        assert (_run(pack, LEGS, lambda rules, day=day: rete(rules, as_of=day))
                == _run(pack, LEGS, lambda rules, day=day: Correlator(rules, as_of=day)))


# -- compliance watch ------------------------------------------------------------------------

def test_watch_reports_chains_as_they_complete_and_survives_bad_lines(tmp_path, cli,
                                                                       pack_file) -> None:
    path = tmp_path / "stream.jsonl"
    lines = [t.model_dump_json() for t in LEGS]
    path.write_text("\n".join([lines[0], "{not json", lines[1], lines[2], ""]), encoding="utf-8")
    run = cli("watch", path, "--rules", pack_file, "--format", "jsonl")
    assert run.status == 2  # a line was rejected
    (chain,) = [json.loads(line) for line in run.out.splitlines()]
    assert [r["transfer"] for r in chain["records"]] == ["a", "b", "c"]
    assert f"{path}:2: rejected:" in run.err
    assert "lines read 4; transfers 3; rejected 1; chains 1" in run.err
    clean = tmp_path / "clean.jsonl"  # with a byte-order mark, as Windows tools write UTF-8
    clean.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    assert cli("watch", clean, "--rules", pack_file).status == 1
    assert "CHAIN VIOLATION  test.chains.three_legs" in cli("watch", clean, "--rules",
                                                             pack_file).out


def test_watch_reads_a_gzipped_stream_and_refuses_csv_or_parquet(tmp_path, cli,
                                                                pack_file) -> None:
    import gzip

    lines = [t.model_dump_json() for t in LEGS]
    path = tmp_path / "stream.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    run = cli("watch", path, "--rules", pack_file, "--format", "jsonl")
    assert run.status == 1, run.err
    assert [r["transfer"] for r in json.loads(run.out)["records"]] == ["a", "b", "c"]
    assert "lines read 3; transfers 3; rejected 0; chains 1" in run.err
    cut = tmp_path / "cut.jsonl.gz"  # cut short: one error naming the file, no traceback
    cut.write_bytes(path.read_bytes()[:-12])
    run = cli("watch", cut, "--rules", pack_file)
    assert run.status == 2
    assert run.err.splitlines()[-1].startswith(f"error: {cut}: cannot be unzipped:")
    assert run.err.splitlines()[-2].startswith("lines read ")  # what was read before, counted
    for name in ("ledger.csv", "ledger.parquet"):  # rows of another kind, not lines to reject
        other = tmp_path / name
        other.write_text("id,date\n1,2024-01-01\n", encoding="utf-8")
        run = cli("watch", other, "--rules", pack_file)
        assert run.status == 2
        kind = name.rsplit(".", 1)[1]
        assert f"{other}: watch reads JSONL, one transfer a line, not {kind}" in run.err
        assert "rejected" not in run.err


def test_watch_rejects_a_line_not_utf_8_or_too_long_and_reads_on(tmp_path, cli,
                                                                 pack_file) -> None:
    from compliance.loader import MAX_LINE_BYTES

    lines = [t.model_dump_json().encode() for t in LEGS]
    path = tmp_path / "stream.jsonl"
    path.write_bytes(b"\n".join([lines[0], b'{"id": "caf\xe9"}', b"x" * (MAX_LINE_BYTES + 1),
                                 lines[1], lines[2]]) + b"\n")
    run = cli("watch", path, "--rules", pack_file, "--format", "jsonl")
    assert run.status == 2
    assert [r["transfer"] for r in json.loads(run.out)["records"]] == ["a", "b", "c"]
    assert run.err.splitlines() == [
        f"{path}:2: rejected: not valid JSON: invalid unicode code point at column 12",
        f"{path}:3: rejected: the line is longer than the {MAX_LINE_BYTES:,} bytes a line of"
        " records may have: it is damaged, or the file is not JSONL",
        "lines read 5; transfers 3; rejected 2; chains 1"]

