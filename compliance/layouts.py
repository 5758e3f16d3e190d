"""Column layouts of trade-record files: how a file's columns map onto the facts of a transfer.

A CSV or Parquet file of trade records has one row per item. Without a
mapping its columns carry the case-file names flattened with dots
(:data:`FIELDS`); a mapping file names, for each field, the column that holds
it in a real export, may give constants for fields the file lacks, and says how
the file writes dates and numbers and, for CSV, what separates its columns.
"""

from __future__ import annotations

import codecs
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

FIELDS = {
    "id": "transfer id; rows with the same id are items of one transfer (default: the row)",
    "date": "date of the transfer (required)",
    "type": "sale, gift, loan, lease, barter, donation or other",
    "supplier.name": "name of the supplier",
    "supplier.country": "country of the supplier (required)",
    "supplier.role": "role of the supplier",
    "recipient.name": "name of the recipient",
    "recipient.country": "country of the recipient (required)",
    "recipient.role": "role of the recipient",
    "origin": "country the goods leave (default: the supplier's)",
    "destination": "final destination (default: the recipient's)",
    "via": "transit countries, separated by ';'",
    "item.description": "description of the item",
    "item.hs_code": "HS code (dots and spaces ignored)",
    "item.quantity": "number of units (default 1)",
    "item.unit_value.amount": "value of one unit",
    "item.unit_value.currency": "ISO 4217 currency of the value",
    "item.made_in": "country where the goods were produced",
    "licence.issuer": "issuer of a licence the transfer holds (one per row)",
    "licence.reference": "reference of that licence",
    "licence.covers": "what that licence says it covers",
}
"""Every field a record may carry, with its meaning."""

REQUIRED = ("date", "supplier.country", "recipient.country")

NumberFormat = Literal["1234.56", "1,234.56", "1.234,56", "1 234,56"]
"""How a file writes its numbers, shown by example: its decimal mark, and what groups
thousands (nothing, a comma, a full stop, a space)."""

NUMBER_MARKS: dict[str, tuple[str, str | None]] = {
    "1234.56": (".", None), "1,234.56": (".", ","), "1.234,56": (",", "."),
    "1 234,56": (",", " ")}
"""Each number format's decimal mark and thousands separator."""


DATE_DIRECTIVES = frozenset(
    "%" + d for d in (*"aAbBcdfgGhHIjmMnpSTuUVwWxXyYzZ%", "-d", "-H", "-I", "-j", "-m", "-M",
                      "-S", "-y"))
"""The directives of a ``date_format`` that DuckDB's ``strptime`` reads (a test holds them)."""

USUAL_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y%m%d",
                      "%Y/%m/%d", "%d/%m/%y", "%m/%d/%y", "%d.%m.%y", "%d %B %Y", "%d %b %Y",
                      "%B %d, %Y", "%b %d, %Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                      "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%z")
"""Formats exports often write dates in: a date another format rejects is said to read in these."""

_DIRECTIVE = re.compile(r"%-?.?")
_WHOLE_DATE = {"%c", "%x"}
_DATE_PARTS = {
    "year": {"%Y", "%y", "%-y", "%G"}, "day of the year": {"%j", "%-j"},
    "month": {"%m", "%-m", "%b", "%B", "%h"}, "day of the month": {"%d", "%-d"},
    "week": {"%U", "%W", "%V"}, "day of the week": {"%u", "%w", "%a", "%A"}}
_DAY_OF_YEAR = (("day of the year",), ("month", "day of the month"), ("week", "day of the week"))
"""The ways a format names a day within its year: one must be whole."""


def four_digit_year(date_format: str) -> bool:
    """Whether a format reads the year written whole (``%Y``, ``%G``), not by its last two digits.

    DuckDB's ``strptime`` reads ``%Y`` from fewer digits too: ``19.06.24`` in
    ``%d.%m.%Y`` is a day of the year 24, which no record of trade holds.
    """
    return not {"%Y", "%G"}.isdisjoint(_DIRECTIVE.findall(date_format))


def _unread(directives: list[str]) -> list[str]:
    """The parts of a date that ``directives`` leave unread (none: they read a day)."""
    if _WHOLE_DATE.intersection(directives):
        return []
    read = {part for part, named in _DATE_PARTS.items() if named.intersection(directives)}
    missing = [] if "year" in read else ["year"]
    left = [[part for part in way if part not in read] for way in _DAY_OF_YEAR]
    if all(left):  # no way is whole: what the way begun lacks, else a day
        begun = [unread for unread, way in zip(left, _DAY_OF_YEAR, strict=True)
                 if len(unread) < len(way)]
        missing += begun[0] if begun else ["day"]
    return missing


_CODECS = {"utf-8": "utf-8", "ascii": "utf-8", "cp1252": "windows-1252", "iso8859-1": "latin-1"}
"""The encodings a layout names, by the name Python's codecs give them."""


class Layout(BaseModel):
    """A column mapping: ``columns`` maps our field to the file's column name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: dict[str, str] = Field(default_factory=dict,
                                    description="our field: the file's column")
    constants: dict[str, str] = Field(default_factory=dict,
                                      description="our field: a value for every row")
    date_format: str | None = Field(None, description="strptime format, e.g. %d.%m.%Y")
    numbers: NumberFormat = Field("1234.56", description="how quantities and amounts are"
                                  " written: 1234.56, 1,234.56, 1.234,56 or 1 234,56")
    delimiter: str | None = Field(None, min_length=1, max_length=1,
                                  description="the CSV delimiter (default: read from the header)")
    encoding: Literal["utf-8", "windows-1252", "latin-1"] = Field(
        "utf-8", description="the CSV file's character encoding: utf-8, windows-1252 (as"
        " spreadsheets on Windows save CSV) or latin-1 (ISO 8859-1)")

    @field_validator("encoding", mode="before")
    @classmethod
    def _encoding_named(cls, value: object) -> object:
        """Another name of an encoding (utf8, cp1252, iso-8859-1; ascii, part of UTF-8) as ours."""
        if not isinstance(value, str):
            return value
        try:
            codec = codecs.lookup(value).name
        except LookupError:
            return value
        return _CODECS.get(codec, value)

    @field_validator("date_format")
    @classmethod
    def _date_format_read(cls, value: str | None) -> str | None:
        """A format that reads a day of a year, in directives ``strptime`` knows."""
        if value is None:
            return value
        directives = _DIRECTIVE.findall(value)
        unknown = [d for d in directives if d not in DATE_DIRECTIVES]
        if unknown:
            raise PydanticCustomError(
                "unknown_directive", "'{directive}' in '{format}' is no strptime directive",
                {"directive": unknown[0], "format": value,
                 "hint": "for 19.06.2024 write %d.%m.%Y; a % itself is written %%"})
        missing = _unread(directives)
        if missing:
            raise PydanticCustomError(
                "incomplete_date_format", "'{format}' reads no {what}: a transfer's date is a day",
                {"format": value, "what": " and no ".join(missing),
                 "hint": "for 19.06.2024 write %d.%m.%Y; for 19 June 2024, %d %B %Y"})
        return value

    @field_validator("columns", "constants")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = [k for k in value if k not in FIELDS]
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], list(FIELDS), n=1)
            raise PydanticCustomError(
                "unknown_field", "unknown field '{field}'",
                {"field": unknown[0], "path": (unknown[0],),
                 "hint": f"did you mean '{close[0]}'?" if close
                 else "fields: " + ", ".join(FIELDS)})
        return value

    @model_validator(mode="after")
    def _one_source_a_field(self) -> Layout:
        """A field read from a column or given a constant, not both: which one holds it?"""
        for name, value in self.constants.items():
            if name in self.columns:
                raise PydanticCustomError(
                    "column_and_constant",
                    "'{field}' is given both a column ('{column}') and a constant ('{value}')",
                    {"field": name, "column": self.columns[name], "value": value,
                     "path": ("constants", name),
                     "hint": "keep the column if the records hold it, else the constant"})
        return self
