"""Correlation rules over streams of transfers: chains that share a link, and windowed totals.

A record is one item of one transfer. Each correlation's steps (or its
per-record test) are condition trees of the rule language, compiled by the
same compiler as single-record rules and tested on each record with three
values; only a step that is met places a record in a chain. State is kept per
correlation and per link value, and only for the correlation's window of days
behind the latest date seen, so a stream needs memory bounded by its windows.

A sequence is complete when a record meets the last step and, for every
earlier step, a record with the same link met it, earlier in the stream and on
a day no later than the next one's, the first no more than ``within_days``
before the last. A stream is taken in date order (a batch is sorted so): a
record that arrives after a later step of its chain does not complete it.
Each record that completes a sequence gives one finding, naming the latest
record for each middle step and every record of the first step that can open
the chain (each leg of an indirect supply took part in it). A total is crossed when a record meets
``each`` and the values of the window's records (converted into the
threshold's currency at each record's date) add up to more than the
threshold, where they did not before.

:mod:`compliance.rete` runs the sequences on durable_rules' Rete engine instead;
this plain evaluator is the reference, and the two are held to the same
findings by a differential test.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from compliance import reference
from compliance.compiler import Decider, Evaluator, compile_node, compile_outcome
from compliance.models import Item, Money, Transfer
from compliance.operators import Env, Outcome
from compliance.rules import Correlation, RuleSet, Verdict, link_value
from compliance.trace import Trace, explain


@dataclass(frozen=True, slots=True)
class Record:
    """One item of one transfer, in the order the stream gave it."""

    seq: int
    case: str
    transfer: Transfer
    item_index: int

    @property
    def item(self) -> Item:
        return self.transfer.items[self.item_index]

    @property
    def day(self) -> dt.date:
        return self.transfer.date


@dataclass(frozen=True, slots=True)
class ChainLink:
    """A record in a finding: the step it met (or ``each``) and the trace of that step."""

    step: str
    record: Record
    trace: Trace
    value: Money | None = None

    @property
    def explanation(self) -> str:
        return explain(self.trace)


@dataclass(frozen=True, slots=True)
class ChainFinding:
    """A correlation met across records: which rule, the link they share, every record."""

    correlation: Correlation
    verdict: Verdict
    link: str
    chain: tuple[ChainLink, ...]
    total: Money | None = None

    @property
    def citation(self) -> str:
        return self.correlation.citation.text

    @property
    def final_destination(self) -> str:
        return self.chain[-1].record.transfer.route_destination

    def __repr__(self) -> str:
        ids = " → ".join(link.record.transfer.id for link in self.chain)
        return f"<ChainFinding {self.correlation.id} {self.link}: {ids}>"


@dataclass
class _Compiled:
    correlation: Correlation
    steps: tuple[tuple[str, Evaluator, Decider], ...]
    state: dict[str, deque[tuple[int, Record]]] = field(default_factory=lambda: defaultdict(deque))
    fired: dict[str, bool] = field(default_factory=dict)
    arrivals: deque[tuple[dt.date, str]] = field(default_factory=deque)
    """(day, link) of every record held, in arrival order: what eviction walks."""


def compile_steps(correlation: Correlation) -> tuple[tuple[str, Evaluator, Decider], ...]:
    """Each step (or ``each``) of a correlation compiled, with and without traces."""
    if correlation.each is not None:
        return (("each", compile_node(correlation.each), compile_outcome(correlation.each)),)
    return tuple((name, compile_node(node), compile_outcome(node))
                 for name, node in correlation.steps)


def met_steps(compiled: tuple[tuple[str, Evaluator, Decider], ...], record: Record,
              env: Env) -> list[int]:
    """The indexes of the steps this record meets."""
    return [n for n, (_, _, decide) in enumerate(compiled)
            if decide(record.transfer, record.item, env) is Outcome.MET]


def chain_link(compiled: tuple[tuple[str, Evaluator, Decider], ...], step: int, record: Record,
               rates: reference.ExchangeRates, value: Money | None = None,
               as_of: dt.date | None = None) -> ChainLink:
    """A record in a finding, with the trace of the step it met, judged on its own date
    (or on ``as_of``, as the correlator that found it judged it)."""
    name, evaluate, _ = compiled[step]
    env = Env(as_of or record.day, rates)
    return ChainLink(name, record, evaluate(record.transfer, record.item, env), value)


def window_start(day: dt.date, window: dt.timedelta) -> dt.date:
    """The first day of a window that ends on ``day``: no earlier than the first date there is.

    A record may be dated 0001-01-01, where ``day - window`` would overflow.
    """
    return day - window if day - dt.date.min >= window else dt.date.min


def records_of(transfer: Transfer, case: str, seq: int) -> list[Record]:
    """The records (items) of a transfer, numbered from ``seq``."""
    return [Record(seq + n, case, transfer, n) for n in range(len(transfer.items))]


class Correlator:
    """The plain-Python evaluator of correlation rules, fed one transfer at a time."""

    def __init__(self, rules: RuleSet, rates: reference.ExchangeRates | None = None,
                 as_of: dt.date | None = None) -> None:
        self.rates = rates if rates is not None else reference.default_rates()
        self.as_of = as_of
        """Judge every record by the correlations in force on this day, not on its own."""
        self._compiled = [_Compiled(c, compile_steps(c)) for c in rules.correlations]
        self._seq = 0
        self.latest: dt.date | None = None

    def __repr__(self) -> str:
        return f"<Correlator {len(self._compiled)} correlations>"

    @property
    def held(self) -> int:
        """How many records the state holds now (bounded by the windows)."""
        return sum(len(q) for c in self._compiled for q in c.state.values())

    def feed(self, transfer: Transfer, case: str = "") -> list[ChainFinding]:
        """Take one transfer; return the findings it completes."""
        records = records_of(transfer, case, self._seq)
        self._seq += len(records)
        if self.latest is None or transfer.date > self.latest:
            self.latest = transfer.date
        found: list[ChainFinding] = []
        day = self.as_of or transfer.date
        env = Env(day, self.rates)
        for compiled in self._compiled:
            correlation = compiled.correlation
            if not correlation.in_force.covers(day):
                continue
            for record in records:
                key = link_value(correlation.link, transfer, record.item_index)
                if key is None:
                    continue
                steps = met_steps(compiled.steps, record, env)
                if not steps:
                    continue
                queue = compiled.state[key]
                for step in steps:
                    queue.append((step, record))
                compiled.arrivals.append((record.day, key))
                if correlation.total is not None:
                    finding = self._total(compiled, key, record)
                elif len(compiled.steps) - 1 in steps:
                    finding = self._chain(compiled, key, record)
                else:
                    finding = None
                if finding is not None:
                    found.append(finding)
        self._evict()
        return found

    def run(self, transfers: Iterable[tuple[Transfer, str]]) -> list[ChainFinding]:
        """Every finding of a batch, fed in date order (then in the order given)."""
        return in_date_order(self.feed, transfers)

    def _evict(self) -> None:
        # Records arrive in date order, so the oldest are at the front of each queue; a
        # record that arrives out of order is evicted when the records before it are.
        assert self.latest is not None
        for compiled in self._compiled:
            oldest = window_start(self.latest, compiled.correlation.window)
            arrivals = compiled.arrivals
            while arrivals and arrivals[0][0] < oldest:
                _, key = arrivals.popleft()
                queue = compiled.state.get(key)
                while queue and queue[0][1].day < oldest:
                    queue.popleft()
                if queue is not None and not queue:
                    del compiled.state[key]
                    compiled.fired.pop(key, None)

    def _chain(self, compiled: _Compiled, key: str, last: Record) -> ChainFinding | None:
        correlation = compiled.correlation
        chosen = [last]
        bound = last
        for step in range(len(compiled.steps) - 2, 0, -1):
            candidates = [r for s, r in compiled.state[key]
                          if s == step and r.day <= bound.day and r.seq < bound.seq]
            if not candidates:
                return None
            bound = max(candidates, key=lambda r: (r.day, r.seq))
            chosen.append(bound)
        chosen.reverse()
        # every record of the first step that can open the chain: each leg took part in it
        opening = sorted((r for s, r in compiled.state[key]
                          if s == 0 and r.day <= bound.day and r.seq < bound.seq
                          and r.day >= window_start(last.day, correlation.window)),
                         key=lambda r: (r.day, r.seq))
        if not opening:
            return None
        steps = compiled.steps
        links = (tuple(chain_link(steps, 0, r, self.rates, as_of=self.as_of) for r in opening)
                 + tuple(chain_link(steps, n + 1, r, self.rates, as_of=self.as_of)
                         for n, r in enumerate(chosen)))
        return ChainFinding(correlation, correlation.verdict, key, links)

    def _total(self, compiled: _Compiled, key: str, last: Record) -> ChainFinding | None:
        correlation = compiled.correlation
        assert correlation.total is not None
        fact, threshold = correlation.total
        start = window_start(last.day, correlation.window)
        window = [r for _, r in compiled.state[key] if r.day >= start]
        values = [self._value(r, fact, threshold.currency) for r in window]
        known = sum((v for v in values if v is not None), Decimal(0))
        crossed = known > threshold.amount
        if not crossed or compiled.fired.get(key):
            return None
        compiled.fired[key] = True
        links = tuple(
            chain_link(compiled.steps, 0, r, self.rates, None if v is None else
                       Money.model_construct(amount=v, currency=threshold.currency),
                       as_of=self.as_of)
            for r, v in zip(window, values, strict=True))
        return ChainFinding(correlation, correlation.verdict, key, links,
                            Money.model_construct(amount=known, currency=threshold.currency))

    def _value(self, record: Record, fact: str, currency: str) -> Decimal | None:
        money = getattr(record.item, fact)
        if money is None:
            return None
        try:
            return self.rates.convert(money.amount, money.currency, currency,
                                      self.as_of or record.day).amount
        except reference.RateUnavailable:
            return None


def in_date_order(feed: Callable[[Transfer, str], list[ChainFinding]],
                  transfers: Iterable[tuple[Transfer, str]]) -> list[ChainFinding]:
    """Feed a batch to an evaluator in date order (then in the order given); every finding."""
    ordered = sorted(enumerate(transfers), key=lambda pair: (pair[1][0].date, pair[0]))
    return [f for _, (transfer, case) in ordered for f in feed(transfer, case)]


def chains_in(findings: Iterable[ChainFinding]) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """(rule, link, transfer ids of the chain) of each finding, for comparisons."""
    for finding in findings:
        yield (finding.correlation.id, finding.link,
               tuple(link.record.transfer.id for link in finding.chain))
