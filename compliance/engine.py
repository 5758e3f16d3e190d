"""Evaluate prepared rules over cases and transfers: findings, verdicts, traces.

The engine is pure: no I/O and no clock. The date that decides which rules
are in force is the transfer's own, or ``as_of`` when given; exchange rates
come from the rate source passed in.

For each transfer, each item and each rule in force, the rule's condition is
evaluated with three values: met gives the rule's verdict, not met gives no
finding, unknown gives an ``undetermined`` finding that names the facts
missing. A finding whose rule has an exemption in force that the transfer
meets (with one of its licences, when the exemption reads them) becomes
``exempted``: it stays in the report, naming the exemption and the licence.

Each transfer also gets a status per regime (rule pack): ``findings``,
``no-findings``, ``outside`` (the pack's reach is not met: its law does not
reach the transfer, which is not the same as compliant), ``undetermined``
(whether it reaches the transfer turns on facts the record does not state) or
``not-in-force``.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from compliance import reference
from compliance.compiler import (
    Decider,
    Evaluator,
    PreparedRule,
    compile_kept,
    compile_node,
    compile_outcome,
    prepare,
    specialise,
)
from compliance.conditions import leaves
from compliance.correlate import ChainFinding, Correlator
from compliance.facts import FACTS
from compliance.gates import Named, settled
from compliance.models import Case, Item, Licence, Transfer
from compliance.operators import Env, Outcome, fast_under
from compliance.rules import Exemption, Rule, RulePack, RuleSet
from compliance.trace import Trace, clearing, explain, missing_facts


class FindingVerdict(StrEnum):
    """The verdict of a finding, most severe first."""

    VIOLATION = "violation"
    REVIEW = "review"
    UNDETERMINED = "undetermined"
    EXEMPTED = "exempted"


SEVERITY = {FindingVerdict.VIOLATION: 0, FindingVerdict.REVIEW: 1,
            FindingVerdict.UNDETERMINED: 2, FindingVerdict.EXEMPTED: 3}


@dataclass(frozen=True, slots=True)
class Exempting:
    """The exemption that turned a finding into ``exempted``: which, by what licence, and why."""

    exemption: Exemption
    licence: Licence | None
    trace: Trace
    verdict: FindingVerdict
    """What the finding would have been without the exemption."""

    @property
    def citation(self) -> str:
        return self.exemption.citation.text

    @property
    def explanation(self) -> str:
        return explain(self.trace)


@dataclass(frozen=True, slots=True)
class Finding:
    """What one rule says of one item of one transfer, with the trace that explains it."""

    rule: Rule
    verdict: FindingVerdict
    case: str
    transfer: Transfer
    item_index: int
    trace: Trace
    exempted_by: Exempting | None = None

    @property
    def item(self) -> Item:
        return self.transfer.items[self.item_index]

    @property
    def citation(self) -> str:
        """Instrument and provision: ``UNSCR 2397 (2017), paragraph 7``."""
        return self.rule.citation.text

    @property
    def explanation(self) -> str:
        """Each condition, the fact it looked at, and whether it held, as indented text."""
        return explain(self.trace)

    @property
    def full_explanation(self) -> str:
        """The explanation, then that of the exemption that made the finding exempted, if any."""
        if self.exempted_by is None:
            return self.explanation
        exempting = self.exempted_by
        return (f"{self.explanation}\nexempted by {exempting.exemption.id}"
                f" ({exempting.citation}):\n{exempting.explanation}")

    @property
    def missing(self) -> tuple[str, ...]:
        """For an undetermined finding, the facts that would settle it."""
        return missing_facts(self.trace)

    @property
    def clears_if(self) -> tuple[str, ...]:
        """Alternative changes of fact that would have cleared the rule."""
        return clearing(self.trace)

    def __repr__(self) -> str:
        return (f"<Finding {self.verdict.value} {self.rule.id} "
                f"{self.case}/{self.transfer.id} item {self.item_index + 1}>")


class RegimeStatus(StrEnum):
    """Where a transfer stands under one regime (one rule pack)."""

    FINDINGS = "findings"
    NO_FINDINGS = "no-findings"
    OUTSIDE = "outside"
    UNDETERMINED = "undetermined"
    NOT_IN_FORCE = "not-in-force"


@dataclass(frozen=True, slots=True)
class Regime:
    """A transfer's standing under one pack, with the reason when it is outside."""

    pack: RulePack
    status: RegimeStatus
    note: str = ""


@dataclass(frozen=True, slots=True)
class TransferResult:
    """A transfer with its findings (possibly none), the rules in force, and each regime."""

    transfer: Transfer
    findings: tuple[Finding, ...]
    judged_on: dt.date
    rules_in_force: int
    regimes: tuple[Regime, ...] = ()

    @property
    def status(self) -> str:
        """The most severe verdict of the findings, or ``no-findings``."""
        if not self.findings:
            return "no-findings"
        return min((f.verdict for f in self.findings), key=SEVERITY.__getitem__).value


@dataclass(frozen=True, slots=True)
class _Exemptions:
    """The exemptions of one rule, compiled: each with its trace and outcome evaluators."""

    entries: tuple[tuple[Exemption, Evaluator, Decider, bool], ...]

    @staticmethod
    def compile(exemptions: tuple[Exemption, ...]) -> _Exemptions:
        return _Exemptions(tuple(
            (e, compile_node(e.when), compile_outcome(e.when),
             any(FACTS[leaf.fact].scope == "licence" for leaf in leaves(e.when)))
            for e in exemptions))

    @staticmethod
    def _readings(transfer: Transfer, per_licence: bool) -> list[tuple[Licence | None, Transfer]]:
        # An exemption that reads licences is met with one licence at a time; with
        # none, the licence facts are missing and the exemption cannot be met.
        if not per_licence or len(transfer.licences) <= 1:
            return [(transfer.licences[0] if per_licence and transfer.licences else None,
                     transfer)]
        return [(licence, transfer.model_copy(update={"licences": (licence,)}))
                for licence in transfer.licences]

    def first(self, transfer: Transfer, item: Item, env: Env) -> tuple[Exemption, Licence | None,
                                                                      Trace] | None:
        """The first exemption in force (by id) that the transfer meets, with its trace."""
        for exemption, evaluate, _, per_licence in self.entries:
            if not exemption.in_force.covers(env.date):
                continue
            for licence, reading in self._readings(transfer, per_licence):
                trace = evaluate(reading, item, env)
                if trace.outcome is Outcome.MET:
                    return exemption, licence, trace
        return None

    def met(self, transfer: Transfer, item: Item, env: Env) -> bool:
        """Whether any exemption in force is met, without traces."""
        for exemption, _, decide, per_licence in self.entries:
            if exemption.in_force.covers(env.date) and any(
                    decide(reading, item, env) is Outcome.MET
                    for _, reading in self._readings(transfer, per_licence)):
                return True
        return False


@dataclass(frozen=True, slots=True)
class CaseResult:
    """A case, the result of each of its transfers in the order of the file, and its chains."""

    case: Case
    file: str | None
    transfers: tuple[TransferResult, ...]
    chains: tuple[ChainFinding, ...] = ()


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Everything one check produced: the cases, the rules they were judged by, the as-of date."""

    cases: tuple[CaseResult, ...]
    rules: RuleSet
    as_of: dt.date | None


_NONE_NAMED: Named = (None, None, None, None, ())
_Entry = tuple[PreparedRule, dt.date, dt.date | None, Callable[[str], Outcome] | None,
               Decider | None, Outcome, str, FindingVerdict]
"""A rule the countries admit: its days in force (start, and until or None, tested as
:meth:`InForce.covers` tests them), the test of its HS gate, what is left
of its tree once the countries and the HS chapter are known (a decider, or None and the
outcome), its id and its verdict when met."""
_NOT = Outcome.NOT_MET
_ONLY_NOT_MET = {Outcome.NOT_MET}


def _binds(pack: RulePack) -> str:
    """What a pack's law binds, as a standing's detail ends with it (or nothing)."""
    return f"; it binds {pack.binds}" if pack.binds else ""


class _Index:
    """Rules by the countries and HS prefixes their trees need, so an item meets only those.

    Gates are derived from the trees (:func:`gates.country_gate`,
    :func:`gates.hs_gate`); a rule without a country gate is always a candidate.
    The rules a record's countries and an item's HS chapter admit are looked up
    once per combination of the gated countries it names and the chapter, and kept,
    each with what is left of its tree once those are known (:func:`gates.settled`).
    """

    CACHE = 4096
    """Combinations of named countries and HS chapter kept; past that the table starts afresh."""

    def __init__(self, prepared: tuple[PreparedRule, ...]) -> None:
        self.order = {p.rule.id: n for n, p in enumerate(prepared)}
        self.always = [p for p in prepared if p.countries is None]
        self.by_country: dict[tuple[str, str], list[PreparedRule]] = {}
        for p in prepared:
            for fact, members in p.countries or ():
                for code in members:
                    self.by_country.setdefault((fact, code), []).append(p)
        self.named = frozenset(code for _, code in self.by_country)
        # per rule, read once: its days in force and the prefix test of its HS gate
        self.checks = {p.rule.id: (p.rule.in_force.start, p.rule.in_force.until,
                                   fast_under(tuple(sorted(p.gate))) if p.gate else None)
                       for p in prepared}
        self.verdict = {p.rule.id: FindingVerdict(p.rule.verdict.value) for p in prepared}
        self._admitted: dict[tuple[Named, str | None], list[_Entry]] = {}

    def key(self, transfer: Transfer) -> Named | None:
        """The gated countries a transfer names, by fact; None when no rule can apply.

        Called for every record of a screening, so it reads the fields
        themselves: the route's origin and destination default to the parties'
        countries.
        """
        named = self.named
        supplier, recipient = transfer.supplier.country, transfer.recipient.country
        via = transfer.via
        if (supplier not in named and recipient not in named and not via
                and transfer.destination is None and transfer.origin is None):
            return _NONE_NAMED if self.always else None  # most records: the parties alone
        destination = transfer.destination or recipient
        origin = transfer.origin or supplier
        if (destination not in named and origin not in named and supplier not in named
                and recipient not in named and (not via or named.isdisjoint(via))):
            return _NONE_NAMED if self.always else None
        return (destination if destination in named else None,
                origin if origin in named else None,
                supplier if supplier in named else None,
                recipient if recipient in named else None,
                tuple(sorted(named.intersection(via))) if via else ())

    def _admit(self, key: Named, chapter: str | None) -> list[_Entry]:
        """The rules a record with these countries and an item of this HS chapter may meet.

        Each with its tree reduced by what the countries and the chapter settle;
        a rule they leave no way to meet is not admitted.
        """
        destination, origin, supplier, recipient, via = key
        keys = [("destination", destination), ("origin", origin),
                ("supplier.country", supplier), ("recipient.country", recipient)]
        keys.extend(("via", code) for code in via)
        found = {p.rule.id: p for p in self.always}
        for pair in keys:
            for p in self.by_country.get(pair, ()):
                found[p.rule.id] = p
        entries = []
        named = self.named
        for p in sorted(found.values(), key=lambda p: self.order[p.rule.id]):
            start, until, under = self.checks[p.rule.id]
            if under is not None and chapter is not None:
                # no code of a chapter outside the gate is inside it (prefixes have 2+ digits)
                within = under(chapter)
                if within is _NOT:
                    continue
                if within is Outcome.MET:
                    under = None  # the whole chapter is inside the gate
            rest = specialise(p.rule.when,
                              lambda leaf: settled(leaf, key, named, chapter))
            if rest is _NOT:
                continue  # these countries and this chapter cannot meet the rule
            decide, outcome = (None, rest) if isinstance(rest, Outcome) else (rest, _NOT)
            entries.append((p, start, until, under, decide, outcome, p.rule.id,
                            self.verdict[p.rule.id]))
        if len(self._admitted) >= self.CACHE:
            self._admitted.clear()
        self._admitted[key, chapter] = entries
        return entries

    def entries(self, key: Named, hs_code: str | None) -> list[_Entry]:
        """The admitted rules for a record's :meth:`key` and an item's HS code (kept)."""
        chapter = hs_code[:2] if hs_code is not None and len(hs_code) >= 2 else None
        entries = self._admitted.get((key, chapter))
        return entries if entries is not None else self._admit(key, chapter)

    def candidates(self, transfer: Transfer, hs_code: str | None, day: dt.date,
                   key: Named | None = None) -> list[PreparedRule]:
        """The rules in force on ``day`` that an item of this transfer may meet, by id.

        ``key`` is the transfer's :meth:`key`, when the caller has it already.
        """
        key = key or self.key(transfer)
        if key is None:
            return []
        chosen = []
        for p, start, until, under, *_ in self.entries(key, hs_code):
            if day < start or (until is not None and day >= until):
                continue
            if under is not None and hs_code is not None and under(hs_code) is _NOT:
                continue  # a known code outside the gate: the rule cannot be met
            chosen.append(p)
        return chosen


class Engine:
    """Rules prepared once, to evaluate many transfers."""

    def __init__(self, rules: RuleSet, rates: reference.ExchangeRates | None = None) -> None:
        self.rules = rules
        self.rates = rates if rates is not None else reference.default_rates()
        self.prepared: tuple[PreparedRule, ...] = tuple(prepare(rule) for rule in rules)
        self._index = _Index(self.prepared)
        self._by_id = {p.rule.id: p for p in self.prepared}
        self._envs: dict[dt.date, Env] = {}
        self._exemptions = {rule.id: _Exemptions.compile(rules.exemptions_for(rule.id))
                            for rule in rules if rules.exemptions_for(rule.id)}
        named: dict[str, RulePack] = {}
        for pack in rules.packs:
            named.setdefault(pack.pack, pack)
        self._regimes = tuple(
            (pack, None if pack.reach is None else (compile_kept(pack.reach),
                                                    compile_node(pack.reach)),
             tuple(p.rule for p in self.prepared if p.rule.pack == name))
            for name, pack in sorted(named.items())
            if any(p.rule.pack == name for p in self.prepared))
        # the standings that say the same of every transfer, made once per pack
        self._standings = tuple(
            (Regime(pack, RegimeStatus.FINDINGS), Regime(pack, RegimeStatus.NO_FINDINGS),
             Regime(pack, RegimeStatus.OUTSIDE, "its reach is not met" + _binds(pack)))
            for pack, _, _ in self._regimes)
        # Between two days on which some rule comes into force or ends, the same rules are
        # in force: what is in force is worked out once for each such period.
        self._bounds = sorted({day for p in self.prepared
                               for day in (p.rule.in_force.start, p.rule.in_force.end)})
        # period k starts on bounds[k - 1]; period 0 holds the days before the first
        self._periods = [self._in_force_on(day) for day in (dt.date.min, *self._bounds)]

    def __repr__(self) -> str:
        return f"<Engine {len(self.prepared)} rules>"

    def evaluate_transfer(self, transfer: Transfer, case: str = "",
                          as_of: dt.date | None = None) -> TransferResult:
        """The findings of every rule in force on the transfer's date (or ``as_of``)."""
        day = as_of or transfer.date
        env = self._env(day)
        active, packs_in_force = self._in_force(day)
        findings: list[Finding] = []
        key = self._index.key(transfer)
        for index, item in enumerate(transfer.items if key is not None else ()):
            for prepared in self._index.candidates(transfer, item.hs_code, day, key):
                finding = self._finding(prepared, transfer, index, env, case)
                if finding is not None:
                    findings.append(finding)
        findings.sort(key=lambda f: (f.item_index, f.rule.id))
        return TransferResult(transfer, tuple(findings), day, active,
                              self._standing(transfer, findings, env, packs_in_force))

    def explain(self, transfer: Transfer, index: int, rule_ids: Iterable[str],
                as_of: dt.date | None = None) -> dict[str, Finding]:
        """The findings, with traces, of the named rules on one item; a rule not met is left out.

        What :meth:`evaluate_transfer` finds for those rules, without judging
        the others or the packs' reach: for explaining findings already known.
        """
        env = self._env(as_of or transfer.date)
        found = {}
        for rule_id in rule_ids:
            prepared = self._by_id.get(rule_id)
            if prepared is not None and prepared.rule.in_force_on(env.date):
                finding = self._finding(prepared, transfer, index, env, "")
                if finding is not None:
                    found[rule_id] = finding
        return found

    def _finding(self, prepared: PreparedRule, transfer: Transfer, index: int, env: Env,
                 case: str) -> Finding | None:
        """One rule's finding on one item, with its trace and any exemption; None if not met."""
        item = transfer.items[index]
        trace = prepared.evaluate(transfer, item, env)
        if trace.outcome is Outcome.NOT_MET:
            return None
        verdict = (self._index.verdict[prepared.rule.id]
                   if trace.outcome is Outcome.MET else FindingVerdict.UNDETERMINED)
        exempting = None
        exemptions = self._exemptions.get(prepared.rule.id)
        if exemptions is not None:
            found = exemptions.first(transfer, item, env)
            if found is not None:
                exempting = Exempting(*found, verdict)
                verdict = FindingVerdict.EXEMPTED
        return Finding(prepared.rule, verdict, case, transfer, index, trace, exempting)

    def _env(self, day: dt.date) -> Env:
        """What the tests of a day may know: the day and the rates (one Env per day, kept)."""
        env = self._envs.get(day)
        if env is None or env.rates is not self.rates:
            if len(self._envs) >= _Index.CACHE:
                self._envs.clear()
            env = self._envs[day] = Env(day, self.rates)
        return env

    def _in_force_on(self, day: dt.date) -> tuple[int, tuple[bool, ...]]:
        """How many rules are in force on a day, and whether each pack has one."""
        return (sum(p.rule.in_force_on(day) for p in self.prepared),
                tuple(any(rule.in_force_on(day) for rule in rules)
                      for _, _, rules in self._regimes))

    def _in_force(self, day: dt.date) -> tuple[int, tuple[bool, ...]]:
        """:meth:`_in_force_on`, read from the period the day falls in."""
        return self._periods[bisect_right(self._bounds, day)]

    def _standing(self, transfer: Transfer, findings: list[Finding], env: Env,
                  packs_in_force: tuple[bool, ...]) -> tuple[Regime, ...]:
        """The transfer's status under each pack (``packs_in_force``: by :meth:`_in_force`)."""
        packs_found = {f.rule.pack for f in findings}
        regimes = []
        for (pack, reach, _), in_force, (found, clear, outside) in zip(
                self._regimes, packs_in_force, self._standings, strict=True):
            if not in_force:
                regimes.append(Regime(pack, RegimeStatus.NOT_IN_FORCE,
                                      f"no rule of the pack was in force on {env.date}"))
            elif pack.pack in packs_found:
                regimes.append(found)
            elif reach is None:
                regimes.append(clear)
            else:
                decide, evaluate = reach
                outcomes = {decide(transfer, item, env) for item in transfer.items}
                if outcomes == _ONLY_NOT_MET:
                    regimes.append(outside)
                elif Outcome.MET in outcomes:
                    regimes.append(clear)
                else:  # the traces, only to name the facts that would settle it
                    traces = [evaluate(transfer, item, env) for item in transfer.items]
                    missing = sorted({f for t in traces for f in missing_facts(t)})
                    regimes.append(Regime(pack, RegimeStatus.UNDETERMINED,
                                          "whether its law reaches the transfer turns on "
                                          + ", ".join(missing) + _binds(pack)))
        return tuple(regimes)

    def verdicts(self, transfer: Transfer,
                 as_of: dt.date | None = None) -> list[tuple[int, str, FindingVerdict]]:
        """(item index, rule id, verdict) of every finding, without traces: the fast path.

        Derived from the same condition trees as :meth:`evaluate_transfer`, and
        gives the same verdicts (the property tests hold the two to that).
        """
        key = self._index.key(transfer)
        return [] if key is None else self._verdicts(transfer, key, as_of)

    def verdicts_many(self, transfers: Iterable[Transfer], as_of: dt.date | None = None
                      ) -> Iterator[tuple[int, int, str, FindingVerdict]]:
        """(record number from 0, item index, rule id, verdict) for many transfers, in order.

        The same verdicts as :meth:`verdicts` for each transfer, with the test
        that no rule can apply (most records of a ledger) done in the loop.
        """
        key_of, judge = self._index.key, self._verdicts
        for number, transfer in enumerate(transfers):
            key = key_of(transfer)
            if key is not None:
                for index, rule_id, verdict in judge(transfer, key, as_of):
                    yield number, index, rule_id, verdict

    def _verdicts(self, transfer: Transfer, key: Named,
                  as_of: dt.date | None) -> list[tuple[int, str, FindingVerdict]]:
        day = as_of or transfer.date
        env = self._env(day)
        found = []
        entries_for, exempting = self._index.entries, self._exemptions
        for index, item in enumerate(transfer.items):
            code = item.hs_code
            admitted = entries_for(key, code)
            for _, start, until, under, decide, outcome, rule_id, verdict in admitted:
                if day < start or (until is not None and day >= until):  # InForce.covers
                    continue
                if under is not None and code is not None and under(code) is _NOT:
                    continue  # a known code outside the gate: the rule cannot be met
                if decide is not None:  # what the countries and the chapter left open
                    outcome = decide(transfer, item, env)
                    if outcome is _NOT:
                        continue
                exemptions = exempting.get(rule_id)
                if exemptions is not None and exemptions.met(transfer, item, env):
                    verdict = FindingVerdict.EXEMPTED
                elif outcome is not Outcome.MET:
                    verdict = FindingVerdict.UNDETERMINED
                found.append((index, rule_id, verdict))
        if len(found) > 1:
            found.sort(key=lambda row: (row[0], row[1]))
        return found

    def evaluate_case(self, case: Case, file: str | None = None,
                      as_of: dt.date | None = None) -> CaseResult:
        """Every transfer of a case, in the order of the file, and the chains across them.

        Correlation rules see the transfers of one case (a matter under review),
        in date order; each record is judged by the correlations in force on its
        date, or on ``as_of``, as the transfers are.
        """
        chains: tuple[ChainFinding, ...] = ()
        if self.rules.correlations:
            correlator = Correlator(self.rules, self.rates, as_of)
            chains = tuple(correlator.run((t, case.case) for t in case.transfers))
        return CaseResult(case, file, tuple(
            self.evaluate_transfer(t, case.case, as_of) for t in case.transfers), chains)

    def evaluate(self, cases: Iterable[tuple[Case, str | None]],
                 as_of: dt.date | None = None) -> Evaluation:
        """Every case given, with the file each came from."""
        return Evaluation(tuple(self.evaluate_case(c, f, as_of) for c, f in cases),
                          self.rules, as_of)
