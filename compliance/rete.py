"""Correlation sequences on durable_rules' Rete engine (the optional ``rete`` extra).

Each record's steps are decided by the compiled condition trees, as in
:mod:`compliance.correlate`; durable_rules then joins the records: one
ruleset per sequence, one pattern per step, correlated on the link, in stream
order, on non-decreasing dates and within the window. Records are asserted as
facts (events posted to durable_rules can lose a second match of the same
record) and retracted once they fall out of the window. A fact that matches
no step is still handled (durable_rules raises on a message no rule takes).

Totals have no counterpart in durable_rules' patterns; they run in the plain
evaluator, and :attr:`ReteCorrelator.plain` says which correlations do.
durable_rules builds a C extension that does not import on Python 3.13; the
import is attempted only here, and its failure is a usage error.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import deque
from collections.abc import Iterable
from typing import Any

from compliance import reference
from compliance.correlate import (
    ChainFinding,
    Correlator,
    Record,
    chain_link,
    compile_steps,
    in_date_order,
    met_steps,
    records_of,
    window_start,
)
from compliance.errors import UsageError
from compliance.models import Transfer
from compliance.operators import Env
from compliance.rules import Correlation, RuleSet, link_value

_NAMES = itertools.count(1)


def _durable() -> Any:
    try:
        from durable import engine, lang
    except Exception as exc:  # ImportError, or the C extension failing on Python 3.13
        raise UsageError(f"durable_rules cannot be imported here ({type(exc).__name__})",
                         'install it with: pip install "compliance[rete]" (Python 3.11 or'
                         " 3.12), or use the plain evaluator") from None
    return lang, engine


class _Sequence:
    """One sequence correlation as a durable_rules ruleset, with its facts in the window."""

    def __init__(self, correlation: Correlation, lang: Any) -> None:
        self.correlation = correlation
        self.steps = compile_steps(correlation)
        self.name = f"compliance_{next(_NAMES)}"
        self.fired: list[tuple[int, ...]] = []
        self.facts: deque[tuple[Record, dict[str, Any]]] = deque()
        count, days = len(self.steps), correlation.within_days
        with lang.ruleset(self.name):
            patterns = []
            def ref(step: int, name: str) -> Any:
                # a fresh reference each time: durable_rules' references grow as they are read
                return getattr(getattr(lang.c, f"s{step}"), name)

            for n in range(count):
                test = lang.m.step == n
                if n:
                    test = (test & (lang.m.link == ref(0, "link"))
                            & (lang.m.seq > ref(n - 1, "seq")) & (lang.m.t >= ref(n - 1, "t"))
                            & (lang.m.t <= ref(0, "t") + days))
                patterns.append(getattr(lang.c, f"s{n}") << test)

            def chain(c: Any) -> None:
                self.fired.append(tuple(getattr(c, f"s{n}").seq for n in range(count)))

            def held(c: Any) -> None:
                return None  # every fact is taken by some rule

            lang.when_all(*patterns)(chain)
            lang.when_all(+lang.m.seq)(held)


_RULESETS: dict[int, _Sequence] = {}


def _ruleset(correlation: Correlation, lang: Any) -> _Sequence:
    """The ruleset of a correlation, made once per process and emptied for each new user.

    durable_rules' engine crashes after some hundreds of rulesets in one process, so
    a ruleset is reused: a new :class:`ReteCorrelator` retracts the facts the last
    one left. One ReteCorrelator per correlation is live at a time.
    """
    sequence = _RULESETS.get(id(correlation))
    if sequence is None or sequence.correlation is not correlation:
        sequence = _RULESETS[id(correlation)] = _Sequence(correlation, lang)
    while sequence.facts:
        _, fact = sequence.facts.popleft()
        lang.retract_fact(sequence.name, fact)
    sequence.fired.clear()
    return sequence


class ReteCorrelator:
    """Correlation rules with their sequences on durable_rules; same findings as the plain one."""

    def __init__(self, rules: RuleSet, rates: reference.ExchangeRates | None = None,
                 as_of: dt.date | None = None) -> None:
        self._lang, self._engine = _durable()
        self.rates = rates if rates is not None else reference.default_rates()
        self.as_of = as_of
        """Judge every record by the correlations in force on this day, not on its own."""
        sequences = [c for c in rules.correlations if c.total is None]
        totals = [c for c in rules.correlations if c.total is not None]
        self._sequences = [_ruleset(c, self._lang) for c in sequences]
        self._totals = Correlator(RuleSet((), (), (), totals), self.rates, as_of)
        self.plain: tuple[str, ...] = tuple(c.id for c in totals)
        """Correlations that run in the plain evaluator (totals)."""
        self._records: dict[int, Record] = {}
        self._seq = 0
        self.latest: Any = None

    def __repr__(self) -> str:
        return f"<ReteCorrelator {len(self._sequences)} sequences on durable_rules>"

    def feed(self, transfer: Transfer, case: str = "") -> list[ChainFinding]:
        """Take one transfer; return the findings it completes."""
        records = records_of(transfer, case, self._seq)
        self._seq += len(records)
        found = self._totals.feed(transfer, case)
        if self.latest is None or transfer.date > self.latest:
            self.latest = transfer.date
        day = self.as_of or transfer.date
        env = Env(day, self.rates)
        for sequence in self._sequences:
            correlation = sequence.correlation
            if not correlation.in_force.covers(day):
                continue
            sequence.fired.clear()
            for record in records:
                key = link_value(correlation.link, transfer, record.item_index)
                if key is None:
                    continue
                for step in met_steps(sequence.steps, record, env):
                    fact = {"seq": record.seq, "step": step, "link": key,
                            "t": record.day.toordinal()}
                    self._records[record.seq] = record
                    sequence.facts.append((record, fact))
                    self._lang.assert_fact(sequence.name, fact)
            found.extend(self._findings(sequence, key_of={r.seq: link_value(
                correlation.link, transfer, r.item_index) for r in records}))
        self._evict()
        return found

    def run(self, transfers: Iterable[tuple[Transfer, str]]) -> list[ChainFinding]:
        """Every finding of a batch, fed in date order (then in the order given)."""
        return in_date_order(self.feed, transfers)

    def _findings(self, sequence: _Sequence, key_of: dict[int, str | None]) -> list[ChainFinding]:
        # durable_rules fires once per combination. Per completing record, keep the latest
        # record at each middle step, and every first-step record that opens that tail
        # (the plain evaluator's choice).
        tails: dict[int, tuple[int, ...]] = {}
        for seqs in sequence.fired:
            last = seqs[-1]
            if last not in key_of:
                continue
            rank = [(self._records[s].day, s) for s in reversed(seqs[1:])]
            if last not in tails or rank > [(self._records[s].day, s)
                                            for s in reversed(tails[last])]:
                tails[last] = seqs[1:]
        found = []
        correlation = sequence.correlation
        for last in sorted(tails):
            opening = sorted({seqs[0] for seqs in sequence.fired if seqs[1:] == tails[last]},
                             key=lambda s: (self._records[s].day, s))
            chain = [(0, seq) for seq in opening]
            chain += [(step + 1, seq) for step, seq in enumerate(tails[last])]
            links = [chain_link(sequence.steps, step, self._records[seq], self.rates,
                                as_of=self.as_of)
                     for step, seq in chain]
            key = key_of[last]
            assert key is not None
            found.append(ChainFinding(correlation, correlation.verdict, key, tuple(links)))
        return found

    def _evict(self) -> None:
        for sequence in self._sequences:
            oldest = window_start(self.latest, sequence.correlation.window)
            while sequence.facts and sequence.facts[0][0].day < oldest:
                _, fact = sequence.facts.popleft()
                self._lang.retract_fact(sequence.name, fact)
        live = {r.seq for s in self._sequences for r, _ in s.facts}
        for seq in [s for s in self._records if s not in live]:
            del self._records[seq]
