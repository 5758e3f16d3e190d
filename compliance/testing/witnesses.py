"""Rule witnesses: transfers that meet, fail or leave undetermined a rule, derived from its tree.

A witness is not random data filtered until it fits. :mod:`compliance.satisfy`
unfolds the rule's condition tree into ways to the wanted outcome and solves
each into a domain per fact; this module draws from those domains. A way that
cannot be solved is dropped; a rule with none left raises
:class:`UnsatisfiableRule`, naming the contradiction.

Every drawn transfer is finally checked against the compiled rule, so a
witness can be trusted even where drawing from a domain was approximate (an
amount compared through exchange rates).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import hypothesis.strategies as st

from compliance import reference
from compliance.compiler import compile_outcome
from compliance.models import Item, Party, Transfer, TransferType
from compliance.operators import Env, Outcome
from compliance.rules import Rule
from compliance.satisfy import (
    Absent,
    Domain,
    Interval,
    Pool,
    Solution,
    Text,
    Via,
    holds,
    solutions,
    ways,
)
from compliance.testing import strategies as s

__all__ = ["UnsatisfiableRule", "clearing", "undetermined", "violating", "ways"]


class UnsatisfiableRule(ValueError):
    """No transfer can give a rule the wanted outcome; the message names the contradiction."""

    def __init__(self, rule: Rule, wanted: str, reasons: Sequence[str]) -> None:
        self.rule, self.reasons = rule, tuple(reasons)
        detail = "; or ".join(reasons[:3]) or "no way through its conditions"
        super().__init__(f"rule {rule.id} ({rule.source}) can never be {wanted}: {detail}")


def draw_from(domain: Domain) -> st.SearchStrategy[Any]:
    """A strategy for the values of one solved domain."""
    if isinstance(domain, Absent):
        return st.none()
    if isinstance(domain, Pool):
        return st.sampled_from(domain.values)
    if isinstance(domain, Text):
        keywords = st.tuples(*(st.sampled_from(group) for group in domain.needed))
        text = st.builds(lambda head, words, tail: " ".join([head, *words, tail]),
                         s.names, keywords, s.names)
        return text.filter(lambda value: holds(value, domain.constraints))
    if isinstance(domain, Via):
        picks = st.tuples(*(st.sampled_from(group) for group in domain.required))
        free = [c for c in reference.country_codes() if c not in domain.forbidden]
        return st.tuples(picks, st.lists(st.sampled_from(free), max_size=1)).map(
            lambda parts: tuple(dict.fromkeys([*parts[0], *parts[1]])))
    assert isinstance(domain, Interval)
    if domain.currency is not None:
        return s.money(domain.currency, domain.low, domain.high).filter(
            lambda value: holds(value, domain.constraints))
    return st.integers(int(domain.low), int(domain.high)).map(Decimal)


_ROLES = st.none() | st.sampled_from(["head-of-state", "ministry", "trading-company"])


def _strategy(solution: Solution) -> st.SearchStrategy[Transfer]:
    found = {name: draw_from(d) for name, d in solution.domains.items()}

    def pick(name: str, default: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return found.get(name, default)

    money = "unit_value" in found
    fields = {
        "supplier": st.builds(Party, name=pick("supplier.name", s.names),
                              country=pick("supplier.country", s.countries()),
                              role=pick("supplier.role", _ROLES)),
        "recipient": st.builds(Party, name=pick("recipient.name", s.names),
                               country=pick("recipient.country", s.countries()),
                               role=pick("recipient.role", _ROLES)),
        "origin": pick("origin", s.countries()),
        "destination": pick("destination", s.countries()),
        "via": pick("via", st.just(())),
        "type": pick("type", st.sampled_from([t.value for t in TransferType])),
        "date": st.dates(solution.first, solution.last),
        "item": st.builds(
            Item, description=pick("description", s.names),
            hs_code=pick("hs_code", st.none() | s.hs_codes()),
            made_in=pick("made_in", st.none() | s.countries()),
            # a value threshold on the total is met through the unit value of one unit
            quantity=pick("quantity", st.just(Decimal(1)) if money
                          else st.integers(1, 20).map(Decimal)),
            unit_value=pick("unit_value", st.none() | s.money()),
        ),
    }

    def build(parts: dict[str, Any]) -> Transfer:
        return Transfer(id="witness", date=parts["date"], type=parts["type"],
                        supplier=parts["supplier"], recipient=parts["recipient"],
                        origin=parts["origin"], destination=parts["destination"],
                        via=parts["via"], items=(parts["item"],))

    return st.fixed_dictionaries(fields).map(build)


def _witnesses(rule: Rule, want: Outcome, wanted: str) -> st.SearchStrategy[Transfer]:
    found, reasons = solutions(rule, want)
    if not found:
        raise UnsatisfiableRule(rule, wanted, reasons)
    decide = compile_outcome(rule.when)
    rates = reference.default_rates()

    def reaches(transfer: Transfer) -> bool:
        return decide(transfer, transfer.items[0], Env(transfer.date, rates)) is want

    return st.one_of([_strategy(solution) for solution in found]).filter(reaches)


def violating(rule: Rule) -> st.SearchStrategy[Transfer]:
    """Transfers that meet every condition of ``rule`` on a date it is in force.

    Raises :class:`UnsatisfiableRule` at once if no transfer can meet it.
    """
    return _witnesses(rule, Outcome.MET, "met")


def clearing(rule: Rule) -> st.SearchStrategy[Transfer]:
    """Transfers that fail ``rule``: one branch for each way it can fail, the rest met."""
    return _witnesses(rule, Outcome.NOT_MET, "cleared")


def undetermined(rule: Rule) -> st.SearchStrategy[Transfer]:
    """Transfers that leave ``rule`` undetermined by omitting a fact it needs."""
    return _witnesses(rule, Outcome.UNKNOWN, "undetermined")
