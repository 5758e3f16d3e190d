"""The one table of operators: name, fact kinds accepted, operand, three-valued meaning.

Adding an operator means adding one row to :data:`OPERATORS` (with its
documentation), and its tests. The parser, the compiler, the JSON Schema of
rule files and the documentation are all derived from this table.

Every test returns an :class:`Outcome`: ``MET``, ``NOT_MET`` or ``UNKNOWN``.
A fact that the record does not state is ``UNKNOWN`` for every operator but
``exists``; so is a value that cannot be compared (no exchange rate, an HS code
too coarse to tell).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from compliance import reference
from compliance.facts import Kind
from compliance.models import Money, TransferType, normalise_hs_code


class Outcome(Enum):
    """The three values of a condition."""

    MET = "met"
    NOT_MET = "not met"
    UNKNOWN = "unknown"

    def __invert__(self) -> Outcome:
        return _NEGATION[self]


_NEGATION = {Outcome.MET: Outcome.NOT_MET, Outcome.NOT_MET: Outcome.MET,
             Outcome.UNKNOWN: Outcome.UNKNOWN}


def all_of(outcomes: Iterable[Outcome]) -> Outcome:
    """Kleene conjunction: not met if any is, met if all are, unknown otherwise."""
    result = Outcome.MET
    for outcome in outcomes:
        if outcome is Outcome.NOT_MET:
            return Outcome.NOT_MET
        if outcome is Outcome.UNKNOWN:
            result = Outcome.UNKNOWN
    return result


def any_of(outcomes: Iterable[Outcome]) -> Outcome:
    """Kleene disjunction: met if any is, not met if all are, unknown otherwise."""
    result = Outcome.NOT_MET
    for outcome in outcomes:
        if outcome is Outcome.MET:
            return Outcome.MET
        if outcome is Outcome.UNKNOWN:
            result = Outcome.UNKNOWN
    return result


@dataclass(frozen=True, slots=True)
class Env:
    """What a test may know besides the fact: the transfer's date and a rate source."""

    date: dt.date
    rates: reference.ExchangeRates


class OperandError(Exception):
    """An operand that does not fit its operator; the parser adds the position."""

    def __init__(self, message: str, hint: str = "", code: str = "bad-operand") -> None:
        super().__init__(message)
        self.hint = hint
        self.code = code


Resolve = Callable[[str, str], tuple[Any, ...]]
"""Looks up a named list (``$name``) of a kind (``countries``, ``hs``, ``keywords``)."""

Result = tuple[Outcome, str]


@dataclass(frozen=True, slots=True)
class Operator:
    """One row of the operator table."""

    name: str
    kinds: frozenset[Kind]
    doc: str
    parse: Callable[[Any, Kind, Resolve], Any]
    test: Callable[[Any, Any, dict[str, Any], Env], Result]
    describe: Callable[[Any, dict[str, Any]], str]
    negate: Callable[[Any, dict[str, Any]], str]
    operand_schema: dict[str, Any]
    modifiers: dict[str, Callable[[Any, Kind, Resolve], Any]] = field(default_factory=dict)
    reads_missing: bool = False
    sql: Callable[[str, Any, dict[str, Any]], str] | None = None
    """The test as a SQL boolean over a column, NULL where unknown (Kleene logic)."""
    fast: Callable[[Any, dict[str, Any]], Callable[[Any], Outcome]] | None = None
    """The test prepared for an operand, giving the outcome alone (no note, no rates)."""

    def __repr__(self) -> str:
        return f"<operator {self.name}>"


# -- operand parsing ---------------------------------------------------------------------

_LIST_KIND = {Kind.COUNTRY: "countries", Kind.COUNTRIES: "countries", Kind.HS_CODE: "hs",
              Kind.TEXT: "keywords", Kind.TRANSFER_TYPE: "keywords"}


def _check_country(value: Any) -> str:
    if not isinstance(value, str) or reference.country_name(value) is None:
        hint = reference.country_hint(value) if isinstance(value, str) else ""
        raise OperandError(f"{value!r} is not an ISO 3166-1 alpha-2 country code",
                           hint or "", "unknown-country")
    return value


def check_hs_prefix(value: Any) -> str:
    """Validate an HS code used as a prefix: 2 to 10 digits, and present in HS 2022."""
    if not isinstance(value, str):
        raise OperandError(f"{value!r} is not an HS code", 'write HS codes as text: "8703"')
    code = normalise_hs_code(value)
    if not code.isdigit() or not 2 <= len(code) <= 10 or len(code) % 2:
        raise OperandError(f"'{value}' is not an HS code: expected 2, 4, 6, 8 or 10 digits")
    if reference.hs_entry(code) is None:
        parent = reference.hs_known_parent(code)
        hint = f"{parent.code} exists: {parent.description}" if parent else ""
        raise OperandError(f"HS code '{value}' does not exist in the {reference.HS_VERSION}"
                           " nomenclature", hint, "unknown-hs-code")
    return code


def _check_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise OperandError(f"{value!r} is not a non-empty text")
    return value.strip()


def _check_transfer_type(value: Any) -> str:
    allowed = [t.value for t in TransferType]
    if value not in allowed:
        raise OperandError(f"{value!r} is not a transfer type",
                           "one of: " + ", ".join(allowed))
    return str(value)


_CHECKS: dict[Kind, Callable[[Any], Any]] = {
    Kind.COUNTRY: _check_country, Kind.COUNTRIES: _check_country,
    Kind.HS_CODE: check_hs_prefix, Kind.TEXT: _check_text,
    Kind.TRANSFER_TYPE: _check_transfer_type,
}


def _value_set(raw: Any, kind: Kind, resolve: Resolve) -> tuple[Any, ...]:
    """A literal, a list of literals, or named lists (``$name``), flattened and checked."""
    elements = raw if isinstance(raw, list) else [raw]
    if not elements:
        raise OperandError("the list is empty: a condition on no values can never be met")
    values: list[Any] = []
    for element in elements:
        if isinstance(element, str) and element.startswith("$"):
            values.extend(resolve(element[1:], _LIST_KIND[kind]))
        else:
            values.append(_CHECKS[kind](element))
    return tuple(dict.fromkeys(values))


def _single(raw: Any, kind: Kind, resolve: Resolve) -> Any:
    if isinstance(raw, list):
        raise OperandError("expected one value, not a list", "use `in` for several values")
    return _value_set(raw, kind, resolve)[0]


def _number(raw: Any) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | Decimal | str):
        raise OperandError(f"{raw!r} is not a number")
    try:
        number = Decimal(str(raw))
    except InvalidOperation:
        raise OperandError(f"{raw!r} is not a number") from None
    if not number.is_finite():
        raise OperandError(f"{raw!r} is not a finite number")
    return number


def _ordered(raw: Any, kind: Kind, resolve: Resolve) -> Any:
    if kind is Kind.MONEY:
        if not isinstance(raw, dict) or set(raw) != {"amount", "currency"}:
            raise OperandError("a value threshold needs an amount and a currency",
                               "for instance: {amount: 100, currency: USD}")
        try:
            return Money(amount=_number(raw["amount"]), currency=raw["currency"])
        except ValueError as exc:
            detail = exc.errors()[0]["msg"] if hasattr(exc, "errors") else str(exc)
            raise OperandError(f"invalid threshold: {detail}") from None
    if kind is Kind.DATE:
        if isinstance(raw, dt.date):
            return raw
        try:
            return dt.date.fromisoformat(str(raw))
        except ValueError:
            raise OperandError(f"{raw!r} is not a date (YYYY-MM-DD)") from None
    return _number(raw)


def _flag(raw: Any, kind: Kind, resolve: Resolve) -> bool:
    if not isinstance(raw, bool):
        raise OperandError(f"{raw!r} is not true or false")
    return raw


# -- rendering ---------------------------------------------------------------------------

def show_value(value: Any) -> str:
    """A fact's value as the explanation shows it."""
    if value is None:
        return "(not stated)"
    if isinstance(value, tuple):
        return " → ".join(value) if value else "(none)"
    return str(value)


def _join(values: Iterable[Any], limit: int = 8) -> str:
    items = [str(v) for v in values]
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# -- tests -------------------------------------------------------------------------------

def _under(code: str, prefix: str) -> Outcome:
    """Is ``code`` inside ``prefix`` on the HS hierarchy? Unknown when ``code`` is coarser."""
    if code.startswith(prefix):
        return Outcome.MET
    if prefix.startswith(code):
        return Outcome.UNKNOWN
    return Outcome.NOT_MET


def _test_prefix(actual: str, operand: tuple[str, ...], mods: dict[str, Any], env: Env) -> Result:
    inside = any_of(_under(actual, p) for p in operand)
    excluded = any_of(_under(actual, x) for x in mods.get("except", ()))
    outcome = all_of((inside, ~excluded))
    note = ""
    if outcome is Outcome.UNKNOWN:
        note = f"{actual} is too coarse to tell: a more specific code is needed"
    entry = reference.hs_entry(actual)
    if entry is not None:
        note = f"{entry.code}: {entry.description}" + (f"; {note}" if note else "")
    return outcome, note


def _compare(key: str) -> Callable[[Any, Any, dict[str, Any], Env], Result]:
    check = {">": Decimal.__gt__, ">=": Decimal.__ge__,
             "<": Decimal.__lt__, "<=": Decimal.__le__}[key]

    def test(actual: Any, operand: Any, mods: dict[str, Any], env: Env) -> Result:
        if isinstance(operand, Money):
            try:
                conversion = env.rates.convert(actual.amount, actual.currency,
                                               operand.currency, env.date)
            except reference.RateUnavailable as exc:
                return Outcome.UNKNOWN, f"cannot compare {actual} with {operand}: {exc}"
            met = check(conversion.amount, operand.amount)
            note = ""
            if actual.currency != operand.currency:
                note = (f"{actual} = {conversion.amount:,f} {operand.currency} at "
                        + conversion.describe(actual.currency, operand.currency, env.date))
            return (Outcome.MET if met else Outcome.NOT_MET), note
        if isinstance(operand, dt.date):
            met = {">": actual > operand, ">=": actual >= operand,
                   "<": actual < operand, "<=": actual <= operand}[key]
            return (Outcome.MET if met else Outcome.NOT_MET), ""
        return (Outcome.MET if check(Decimal(actual), operand) else Outcome.NOT_MET), ""

    return test


@functools.lru_cache(maxsize=4096)
def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    """A keyword at the start of a word, in any case (compiled once: traces test it often)."""
    return re.compile(r"(?<!\w)" + re.escape(keyword), re.IGNORECASE)


def _test_mentions(actual: str, operand: tuple[str, ...], mods: dict[str, Any],
                   env: Env) -> Result:
    found = [k for k in operand if _keyword_pattern(k).search(actual)]
    if found:
        return Outcome.MET, "mentions " + ", ".join(found)
    return Outcome.NOT_MET, ""


def fold(value: Any) -> Any:
    """A value as text tests compare it: without regard to case."""
    return value.casefold() if isinstance(value, str) else value


@functools.lru_cache(maxsize=4096)
def fold_all(operand: tuple[Any, ...]) -> frozenset[Any]:
    """An operand's values as ``in`` and ``equals`` compare them (kept per operand)."""
    return frozenset(fold(v) for v in operand)


def _test_in(actual: Any, operand: tuple[Any, ...], mods: dict[str, Any], env: Env) -> Result:
    return (Outcome.MET if fold(actual) in fold_all(operand) else Outcome.NOT_MET), ""


def _test_includes(actual: tuple[str, ...], operand: tuple[str, ...], mods: dict[str, Any],
                   env: Env) -> Result:
    hits = [c for c in actual if c in operand]
    if hits:
        return Outcome.MET, "includes " + ", ".join(dict.fromkeys(hits))
    return Outcome.NOT_MET, ""


def _test_exists(actual: Any, operand: bool, mods: dict[str, Any], env: Env) -> Result:
    present = actual is not None
    return (Outcome.MET if present == operand else Outcome.NOT_MET), ""


# -- SQL -----------------------------------------------------------------------------------
# Every test also has a SQL form for the vectorised evaluator. SQL's NULL is our
# unknown: AND, OR and NOT on NULL follow the same Kleene tables as all_of,
# any_of and ~. A missing fact is a NULL column, so every form below is NULL
# on a NULL column unless the test reads missing facts (exists).

def sql_text(value: Any) -> str:
    """A SQL literal for a text, date or number."""
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, Decimal | int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _sql_in(column: str, operand: tuple[Any, ...], mods: dict[str, Any]) -> str:
    values = ", ".join(sql_text(fold(v)) for v in operand)
    if operand and isinstance(operand[0], str):
        return f"(lower({column}) IN ({values}))"
    return f"({column} IN ({values}))"


def _sql_includes(column: str, operand: tuple[str, ...], mods: dict[str, Any]) -> str:
    return f"list_has_any({column}, [{', '.join(map(sql_text, operand))}])"


def _sql_under(column: str, prefixes: Iterable[str]) -> str:
    """:func:`fast_under` in SQL: the code's first digits, one list per prefix length.

    A code shorter than a length is its own ``left``, so it is in no list of
    that length; a code that is a proper start of a prefix is coarser: unknown.
    """
    by_length: dict[int, set[str]] = {}
    for p in prefixes:
        by_length.setdefault(len(p), set()).add(p)
    coarser = sorted({p[:k] for group in by_length.values() for p in group
                      for k in range(1, len(p))})
    branches = [f"WHEN {column} IS NULL THEN NULL"]
    if by_length:
        inside = " OR ".join(f"left({column}, {n}) IN ({', '.join(map(sql_text, sorted(group)))})"
                             for n, group in sorted(by_length.items()))
        branches.append(f"WHEN {inside} THEN TRUE")
    if coarser:
        branches.append(f"WHEN {column} IN ({', '.join(map(sql_text, coarser))}) THEN NULL")
    return f"(CASE {' '.join(branches)} ELSE FALSE END)"


def _sql_prefix(column: str, operand: tuple[str, ...], mods: dict[str, Any]) -> str:
    inside = _sql_under(column, operand)
    if not mods.get("except"):
        return inside
    return f"({inside} AND NOT {_sql_under(column, mods['except'])})"


def _sql_compare(symbol: str) -> Callable[[str, Any, dict[str, Any]], str]:
    def sql(column: str, operand: Any, mods: dict[str, Any]) -> str:
        bound = operand.amount if isinstance(operand, Money) else operand
        return f"({column} {symbol} {sql_text(bound)})"

    return sql


def _sql_mentions(column: str, operand: tuple[str, ...], mods: dict[str, Any]) -> str:
    words = "|".join(re.escape(k).replace("'", "''") for k in operand)
    # after no letter, digit or underscore of any script, as Python's \w reads them; only
    # the words ignore case: under (?i) the class would also take in the marks that fold
    # to a letter (U+0345 folds to iota), which \w does not
    return f"regexp_matches({column}, '(^|[^\\pL\\pN_])(?i:{words})')"


def _sql_exists(column: str, operand: bool, mods: dict[str, Any]) -> str:
    return f"({column} IS {'NOT ' if operand else ''}NULL)"


# -- fast forms: the same tests prepared once per operand, outcome only -------------------

_MET, _NOT, _UNK = Outcome.MET, Outcome.NOT_MET, Outcome.UNKNOWN


def _fast_in(operand: tuple[Any, ...], mods: dict[str, Any]) -> Callable[[Any], Outcome]:
    folded = fold_all(operand)
    return lambda value: _MET if fold(value) in folded else _NOT


def _fast_includes(operand: tuple[str, ...], mods: dict[str, Any]) -> Callable[[Any], Outcome]:
    members = frozenset(operand)
    return lambda value: _MET if not members.isdisjoint(value) else _NOT


def fast_under(prefixes: tuple[str, ...]) -> Callable[[str], Outcome]:
    """Is a code under one of the prefixes: met inside, unknown if coarser, else not met."""
    coarser = frozenset(p[:k] for p in prefixes for k in range(1, len(p)))

    def under(code: str) -> Outcome:
        if code.startswith(prefixes):
            return _MET
        return _UNK if code in coarser else _NOT

    return under


def _fast_prefix(operand: tuple[str, ...], mods: dict[str, Any]) -> Callable[[Any], Outcome]:
    inside = fast_under(tuple(operand))
    if not mods.get("except"):
        return inside
    excluded = fast_under(tuple(mods["except"]))
    return lambda code: all_of((inside(code), ~excluded(code)))


def _fast_mentions(operand: tuple[str, ...], mods: dict[str, Any]) -> Callable[[Any], Outcome]:
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, operand)) + ")", re.IGNORECASE)
    return lambda text: _MET if pattern.search(text) else _NOT


def _fast_exists(operand: bool, mods: dict[str, Any]) -> Callable[[Any], Outcome]:
    return lambda value: _MET if (value is not None) == operand else _NOT


_SCALAR_KINDS = frozenset({Kind.COUNTRY, Kind.TEXT, Kind.TRANSFER_TYPE})
_ORDERED_KINDS = frozenset({Kind.MONEY, Kind.NUMBER, Kind.DATE})
_LIST_OR_ONE = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"},
                                                "minItems": 1}]}
_MONEY_OR_NUMBER = {"oneOf": [
    {"type": "object", "required": ["amount", "currency"], "additionalProperties": False,
     "properties": {"amount": {"type": "number", "exclusiveMinimum": 0},
                    "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}}},
    {"type": "number"}, {"type": "string", "format": "date"}]}


def _ordered_row(name: str, key: str, symbol: str, opposite: str, words: str) -> Operator:
    return Operator(
        name=name, kinds=_ORDERED_KINDS,
        doc=f"The value is {words} the operand. A money threshold is compared in the"
            " operand's currency, converted at the ECB reference rate of the transfer's date;"
            " with no rate the condition is unknown.",
        parse=_ordered, test=_compare(key),
        describe=lambda o, m: f"{symbol} {o}", negate=lambda o, m: f"{opposite} {o}",
        operand_schema=_MONEY_OR_NUMBER, sql=_sql_compare(key),
    )


OPERATORS: dict[str, Operator] = {op.name: op for op in (
    Operator(
        name="equals", kinds=_SCALAR_KINDS | {Kind.NUMBER, Kind.DATE},
        doc="The value equals the operand (text is compared without regard to case).",
        parse=lambda raw, kind, resolve: (
            (_ordered(raw, kind, resolve),) if kind in _ORDERED_KINDS
            else (_single(raw, kind, resolve),)),
        test=_test_in,
        describe=lambda o, m: f"is {o[0]}", negate=lambda o, m: f"is not {o[0]}",
        operand_schema={"type": ["string", "number"]}, sql=_sql_in, fast=_fast_in,
    ),
    Operator(
        name="in", kinds=_SCALAR_KINDS,
        doc="The value is one of the operand's values: a list, or a named list `$name`.",
        parse=_value_set, test=_test_in,
        describe=lambda o, m: f"is {o[0]}" if len(o) == 1 else f"in {_join(o)}",
        negate=lambda o, m: f"is not {o[0]}" if len(o) == 1 else f"not in {_join(o)}",
        operand_schema=_LIST_OR_ONE, sql=_sql_in, fast=_fast_in,
    ),
    Operator(
        name="includes", kinds=frozenset({Kind.COUNTRIES}),
        doc="At least one country of the list fact (route, via) is among the operand's:"
            " `route: {includes: KP}` holds for a route through or to the DPRK.",
        parse=_value_set, test=_test_includes,
        describe=lambda o, m: f"includes {_join(o)}",
        negate=lambda o, m: f"does not include {_join(o)}",
        operand_schema=_LIST_OR_ONE, sql=_sql_includes, fast=_fast_includes,
    ),
    Operator(
        name="prefix", kinds=frozenset({Kind.HS_CODE}),
        doc="The HS code lies under one of the operand's chapters, headings or subheadings,"
            " and under none of those in `except`. A code coarser than a prefix (chapter 69"
            " against 6911.10) is unknown: it may or may not lie inside.",
        parse=_value_set, test=_test_prefix,
        describe=lambda o, m: f"under {_join(o)}"
        + (f" except {_join(m['except'])}" if m.get("except") else ""),
        negate=lambda o, m: f"not under {_join(o)}"
        + (f" (or under {_join(m['except'])})" if m.get("except") else ""),
        operand_schema=_LIST_OR_ONE, sql=_sql_prefix, fast=_fast_prefix,
        modifiers={"except": _value_set},
    ),
    _ordered_row("gt", ">", ">", "≤", "greater than"),
    _ordered_row("ge", ">=", "≥", "<", "at least"),
    _ordered_row("lt", "<", "<", "≥", "less than"),
    _ordered_row("le", "<=", "≤", ">", "at most"),
    Operator(
        name="mentions", kinds=frozenset({Kind.TEXT}),
        doc="The text has a word beginning with one of the keywords, without regard to case"
            " (`bust` finds 'Busts'). For items described in words rather than codes.",
        parse=_value_set, test=_test_mentions,
        describe=lambda o, m: f"mentions {_join(o)}",
        negate=lambda o, m: f"mentions none of {_join(o)}",
        operand_schema=_LIST_OR_ONE, sql=_sql_mentions,
        fast=_fast_mentions,
    ),
    Operator(
        name="exists", kinds=frozenset(Kind),
        doc="`exists: true` holds when the record states the fact, `exists: false` when it"
            " does not. The only operator that is never unknown.",
        parse=_flag, test=_test_exists,
        describe=lambda o, m: "is stated" if o else "is not stated",
        negate=lambda o, m: "is not stated" if o else "is stated",
        operand_schema={"type": "boolean"}, reads_missing=True, sql=_sql_exists,
        fast=_fast_exists,
    ),
)}
"""Every operator of the rule language, by name."""
