"""Satisfiability of a condition tree: the ways to an outcome, and each fact's domain along a way.

A *way* is a set of tests, each with the outcome it must take, that together
give a node the wanted outcome. Solving a way groups its tests by fact and
computes each fact's *domain*: a finite set of values (countries, HS codes,
transfer types) filtered with the operator's own test; an interval (amounts,
quantities, dates); the keywords a text must and must not mention; or
"absent". A way whose domains are empty is a contradiction, reported in
words with the lines of the tests involved.

Static analysis (``compliance rules lint``) uses this to find rules that can
never be met; the testing toolkit turns the domains into hypothesis strategies.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from compliance import reference
from compliance.conditions import AllOf, Leaf, Node, Not
from compliance.facts import FACTS, Kind
from compliance.models import Money, TransferType
from compliance.operators import OPERATORS, Env, Outcome
from compliance.rules import Rule

Constraint = tuple[Leaf, Outcome]
Way = tuple[Constraint, ...]

MAX_WAYS = 64
OPTIONAL = frozenset({"hs_code", "made_in", "unit_value", "total_value", "supplier.role",
                      "recipient.role"})
"""Facts a record may leave out."""

CENT = Decimal("0.01")
TOP = Decimal("100000000")
FIRST_DAY = dt.date(2006, 10, 14)   # UNSCR 1718 (2006)
LAST_DAY = dt.date(2025, 12, 31)    # within the shipped reference-rate history


class Contradiction(Exception):
    """The tests of a way cannot all take their outcomes; the message says which."""


class _SameCurrencyOnly:
    def convert(self, amount: Decimal, src: str, dst: str, on: dt.date) -> Any:
        if src != dst:
            raise reference.RateUnavailable("no conversion while solving")
        return reference.Conversion(amount, Decimal(1), on, "same currency")


_ENV = Env(dt.date(2020, 1, 1), _SameCurrencyOnly())


# -- ways ------------------------------------------------------------------------------

def _product(groups: Sequence[list[Way]]) -> list[Way]:
    return [tuple(itertools.chain.from_iterable(parts))
            for parts in itertools.islice(itertools.product(*groups), MAX_WAYS)]


def ways(node: Node, want: Outcome) -> list[Way]:
    """Sets of (test, outcome) that each suffice to give ``node`` the outcome ``want``.

    An ``all`` fails one child at a time with the others met, so that each way
    to clear a rule fails it in exactly one place. At most ``MAX_WAYS`` ways.
    """
    if isinstance(node, Leaf):
        return [((node, want),)]
    if isinstance(node, Not):
        return ways(node.child, ~want)
    children = node.children
    conjunctive = isinstance(node, AllOf)
    settle = Outcome.MET if conjunctive else Outcome.NOT_MET   # what every child gives
    if want is settle:
        return _product([ways(c, want) for c in children])
    found: list[Way] = []
    for index, child in enumerate(children):
        if want is Outcome.MET:          # an `any` is met by one child alone
            found.extend(ways(child, want))
        else:
            others = [ways(o, settle) for i, o in enumerate(children) if i != index]
            found.extend(_product([ways(child, want), *others]))
        if len(found) >= MAX_WAYS:
            break
    return found[:MAX_WAYS]


# -- domains ---------------------------------------------------------------------------

def words(constraints: Sequence[Constraint]) -> str:
    """The tests of a way in words, each with its line."""
    parts = []
    for leaf, want in constraints:
        text = (leaf.describe() if want is Outcome.MET else leaf.describe_negation()
                if want is Outcome.NOT_MET else f"{leaf.fact} unknown")
        parts.append(text + (f" (line {leaf.span.line})" if leaf.span else ""))
    return " and ".join(parts)


@functools.lru_cache(maxsize=4096)
def _decide(leaf: Leaf) -> Callable[[Any], Outcome]:
    """The leaf's test on a stated value: the operator's fast form where it has one.

    The fast forms are held to the full tests by the property tests (the
    explaining and the trace-free evaluators agree); they matter here, where a
    pool of thousands of HS codes is filtered for each way through a rule.
    """
    operator = OPERATORS[leaf.op]
    if operator.fast is not None:
        return operator.fast(leaf.operand, leaf.options)
    return lambda value: operator.test(value, leaf.operand, leaf.options, _ENV)[0]


def holds(value: Any, constraints: Sequence[Constraint]) -> bool:
    """Does ``value`` give every test its wanted outcome (by the operators' own tests)?"""
    for leaf, want in constraints:
        if value is None and not OPERATORS[leaf.op].reads_missing:
            outcome = Outcome.UNKNOWN
        else:
            outcome = _decide(leaf)(value)
        if outcome is not want:
            return False
    return True


@functools.lru_cache(maxsize=1024)
def _allowed(values: tuple[Any, ...], constraints: tuple[Constraint, ...]) -> tuple[Any, ...]:
    # Many ways through a pack's rules share their tests: filter each pool once.
    return tuple(v for v in values if holds(v, constraints))


@dataclass(frozen=True)
class Absent:
    """The fact must be left out of the record."""


@dataclass(frozen=True)
class Pool:
    """The fact takes one of these values."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class Interval:
    """An amount, quantity or date between two bounds (inclusive); money in ``currency``."""

    low: Any
    high: Any
    currency: str | None = None
    constraints: tuple[Constraint, ...] = ()


@dataclass(frozen=True)
class Text:
    """A text mentioning one keyword of each ``needed`` group, and passing every test."""

    needed: tuple[tuple[str, ...], ...]
    constraints: tuple[Constraint, ...]


@dataclass(frozen=True)
class Via:
    """Transit countries: one of each ``required`` group, none of ``forbidden``."""

    required: tuple[tuple[str, ...], ...]
    forbidden: frozenset[str]


Domain = Absent | Pool | Interval | Text | Via


def _pool(values: Sequence[Any], constraints: Sequence[Constraint]) -> Pool:
    allowed = _allowed(tuple(values), tuple(constraints))
    if not allowed:
        raise Contradiction(words(constraints))
    return Pool(allowed)


def _interval(constraints: Sequence[Constraint], unit: Any) -> tuple[Any, Any]:
    low: Any = None
    high: Any = None
    for leaf, want in constraints:
        if leaf.op not in ("gt", "ge", "lt", "le", "equals"):
            continue
        bound = leaf.operand[0] if leaf.op == "equals" else leaf.operand
        value = bound.amount if isinstance(bound, Money) else bound
        op = leaf.op if want is Outcome.MET else {"gt": "le", "ge": "lt", "lt": "ge",
                                                   "le": "gt", "equals": "ne"}[leaf.op]
        if op in ("gt", "ge", "equals"):
            candidate = value + unit if op == "gt" else value
            low = candidate if low is None else max(low, candidate)
        if op in ("lt", "le", "equals"):
            candidate = value - unit if op == "lt" else value
            high = candidate if high is None else min(high, candidate)
    return low, high


def _text(constraints: Sequence[Constraint]) -> Text | Pool:
    exact = [set(leaf.operand) for leaf, want in constraints
             if want is Outcome.MET and leaf.op in ("equals", "in")]
    if exact:
        return _pool(sorted(set.intersection(*exact)), constraints)
    needed = tuple(tuple(leaf.operand) for leaf, want in constraints
                   if want is Outcome.MET and leaf.op == "mentions")
    combos = itertools.islice(itertools.product(*needed), 500)
    if not any(holds(" ".join(["Goods", *combo]), constraints) for combo in combos):
        raise Contradiction(words(constraints))
    return Text(needed, tuple(constraints))


def domain(name: str, constraints: list[Constraint]) -> Domain:
    """The values fact ``name`` may take under ``constraints``, or a Contradiction."""
    kind = FACTS[name].kind
    if any(want is Outcome.UNKNOWN for _, want in constraints) or (
            name in OPTIONAL and holds(None, constraints)):
        if name not in OPTIONAL or not holds(None, constraints):
            raise Contradiction(f"{words(constraints)}: {name} is always stated")
        return Absent()
    if kind is Kind.COUNTRY:
        return _pool(reference.country_codes(), constraints)
    if kind is Kind.HS_CODE:
        return _pool(reference.hs_codes(), constraints)
    if kind is Kind.TRANSFER_TYPE:
        return _pool([t.value for t in TransferType], constraints)
    if kind is Kind.TEXT:
        return _text(constraints)
    if kind is Kind.COUNTRIES:
        return _via(constraints)
    unit = {Kind.MONEY: CENT, Kind.NUMBER: Decimal(1), Kind.DATE: dt.timedelta(days=1)}[kind]
    low, high = _interval(constraints, unit)
    if kind is Kind.MONEY:
        currencies = sorted({leaf.operand.currency for leaf, _ in constraints
                             if isinstance(leaf.operand, Money)})
        low, high = max(low or CENT, CENT), min(high or TOP, TOP)
        if len(currencies) > 1:  # compared through exchange rates: bounds are not comparable
            return Interval(CENT, TOP, currencies[0], tuple(constraints))
        currency = currencies[0] if currencies else "USD"
    elif kind is Kind.NUMBER:
        low, high, currency = max(low or Decimal(1), Decimal(1)), min(
            high or Decimal(1000), Decimal(10**6)), None
    else:
        low, high, currency = low or FIRST_DAY, high or LAST_DAY, None
    if low > high:
        raise Contradiction(words(constraints))
    return Interval(low, high, currency, tuple(constraints))


def _via(constraints: Sequence[Constraint]) -> Via:
    if any(want is Outcome.UNKNOWN for _, want in constraints):
        raise Contradiction("the transit countries are always stated: they cannot be unknown")
    forbidden = frozenset(c for leaf, want in constraints if want is Outcome.NOT_MET
                          for c in leaf.operand)
    required = []
    for leaf, want in constraints:
        if want is Outcome.MET:
            options = tuple(c for c in leaf.operand if c not in forbidden)
            if not options:
                raise Contradiction(words(constraints))
            required.append(options)
    return Via(tuple(required), forbidden)


# -- routes and whole ways -----------------------------------------------------------------

def expand_routes(way: Way) -> list[Way]:
    """Rewrite tests of `route` into tests of origin, via and destination (one way each)."""
    plain = [c for c in way if c[0].fact != "route"]
    options: list[list[Constraint]] = [[]]
    for leaf, want in way:
        if leaf.fact != "route":
            continue
        members = leaf.operand
        ends = [Leaf("origin", "in", members, span=leaf.span),
                Leaf("destination", "in", members, span=leaf.span)]
        through = Leaf("via", "includes", members, span=leaf.span)
        if leaf.op != "includes" or want is Outcome.UNKNOWN:
            raise Contradiction(f"{leaf.describe()}: the route is always stated")
        if want is Outcome.NOT_MET:
            extra = [[(ends[0], want), (ends[1], want), (through, want)]]
        else:
            extra = [[(through, want)], [(ends[1], want)], [(ends[0], want)]]
        options = [o + e for o in options for e in extra]
    return [tuple(plain + o) for o in options]


@dataclass(frozen=True)
class Solution:
    """The domain of every fact a way constrains, and the dates in the rule's window."""

    domains: dict[str, Domain]
    first: dt.date
    last: dt.date
    money: list[Constraint] = field(default_factory=list)


def solve(rule: Rule, way: Way) -> Solution:
    """Solve one way of a rule (route tests already expanded), or raise a Contradiction."""
    by_fact: dict[str, list[Constraint]] = defaultdict(list)
    for leaf, want in way:
        by_fact[leaf.fact].append((leaf, want))
    money = by_fact.pop("unit_value", []) + by_fact.pop("total_value", [])
    dates = by_fact.pop("date", [])
    domains = {name: domain(name, constraints) for name, constraints in by_fact.items()}
    if money:
        domains["unit_value"] = domain("unit_value", money)
    first = rule.in_force.start
    last = LAST_DAY if rule.in_force.until is None else min(
        LAST_DAY, rule.in_force.until - dt.timedelta(days=1))
    if dates:
        window = domain("date", dates)
        assert isinstance(window, Interval)
        first, last = max(first, window.low), min(last, window.high)
    if first > last:
        raise Contradiction(f"no day from {first} to {last} in force"
                            + (f" and {words(dates)}" if dates else ""))
    return Solution(domains, first, last, money)


def solutions(rule: Rule, want: Outcome) -> tuple[list[Solution], list[str]]:
    """Every way of giving the rule the outcome ``want`` that can be solved, and why others fail."""
    found, reasons = [], []
    for way in ways(rule.when, want):
        try:
            expanded = expand_routes(way)
        except Contradiction as exc:
            reasons.append(str(exc))
            continue
        for option in expanded:
            try:
                found.append(solve(rule, option))
            except Contradiction as exc:
                reasons.append(str(exc))
    return found, list(dict.fromkeys(reasons))
