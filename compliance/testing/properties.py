"""The properties every rule and every rule pack must have, as plain callables.

Each property takes an :class:`~compliance.engine.Engine` (the pack under
test) and, for the per-rule ones, a rule; it runs a hypothesis search and
raises :class:`PropertyFailure` with the shrunk transfer written as a case file.
The pytest plugin turns each into a test item; they can be called directly too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import hypothesis.strategies as st
from hypothesis import given, settings

from compliance import reports
from compliance.conditions import leaves
from compliance.engine import Engine, FindingVerdict
from compliance.models import Case, Licence, Money, Transfer
from compliance.reference import hs_nomenclature
from compliance.rules import Rule, RuleSet
from compliance.testing import strategies as s
from compliance.testing.render import case_yaml
from compliance.testing.witnesses import UnsatisfiableRule, clearing, undetermined, violating


class PropertyFailure(AssertionError):
    """A property does not hold; the message carries the counterexample as a case file."""


def _fail(rule: Rule | None, what: str, *records: Transfer | Case) -> None:
    """Raise with the records as one case file: a transfer, or a before and an after."""
    head = f"{rule.id} ({rule.source}): {what}" if rule else what
    comment = "counterexample, shrunk by hypothesis"
    if len(records) == 1:
        body = case_yaml(records[0], comment=comment)
    else:
        named = [r.model_copy(update={"id": name}) for r, name in
                 zip(records, ("before", "after"), strict=False) if isinstance(r, Transfer)]
        body = case_yaml(named, comment=comment + "; 'after' is 'before' changed")
    raise PropertyFailure(f"{head}\n\n{body}")


def _verdict(engine: Engine, transfer: Transfer, rule: Rule) -> FindingVerdict | None:
    for _, rule_id, verdict in engine.verdicts(transfer):
        if rule_id == rule.id:
            return verdict
    return None


def _met(verdict: FindingVerdict | None) -> bool:
    return verdict in (FindingVerdict.VIOLATION, FindingVerdict.REVIEW)


def reads(rule: Rule) -> set[str]:
    """The facts a rule's conditions read."""
    return {leaf.fact for leaf in leaves(rule.when)}


# -- per rule -----------------------------------------------------------------------------

def witnesses_violate(engine: Engine, rule: Rule, config: settings) -> None:
    """Transfers built to meet the rule get its verdict, citing it."""
    try:
        witnesses = violating(rule)
    except UnsatisfiableRule as exc:
        raise PropertyFailure(str(exc)) from None

    @settings(config)
    @given(witnesses)
    def check(transfer: Transfer) -> None:
        findings = [f for f in engine.evaluate_transfer(transfer).findings if f.rule is rule]
        if not findings or findings[0].verdict.value != rule.verdict.value:
            _fail(rule, f"a transfer meeting every condition is not a {rule.verdict.value}",
                  transfer)
        if findings[0].citation != rule.citation.text:
            _fail(rule, "the finding does not cite the rule", transfer)

    check()


def clearing_clears(engine: Engine, rule: Rule, config: settings) -> None:
    """Transfers built to fail one condition of the rule get no finding from it."""
    @settings(config)
    @given(clearing(rule))
    def check(transfer: Transfer) -> None:
        verdict = _verdict(engine, transfer, rule)
        if verdict is not None:
            _fail(rule, f"a transfer failing a condition still gives {verdict.value}", transfer)

    check()


def missing_is_undetermined(engine: Engine, rule: Rule, config: settings) -> None:
    """Transfers that omit a fact the rule needs are undetermined, never clear."""
    @settings(config)
    @given(undetermined(rule))
    def check(transfer: Transfer) -> None:
        verdict = _verdict(engine, transfer, rule)
        if verdict is not FindingVerdict.UNDETERMINED:
            _fail(rule, f"a transfer missing a needed fact gives {verdict} instead of"
                        " undetermined", transfer)

    check()


_UNREAD: dict[str, Callable[[Transfer, Any], Transfer]] = {
    "supplier.name": lambda t, v: t.model_copy(update={
        "supplier": t.supplier.model_copy(update={"name": v})}),
    "recipient.name": lambda t, v: t.model_copy(update={
        "recipient": t.recipient.model_copy(update={"name": v})}),
    "description": lambda t, v: t.model_copy(update={
        "items": (t.items[0].model_copy(update={"description": v}),)}),
    "type": lambda t, v: t.model_copy(update={"type": v}),
}


def unread_facts_do_not_matter(engine: Engine, rule: Rule, config: settings) -> None:
    """Changing facts that no condition of the rule reads never changes its verdict."""
    unread = [name for name in _UNREAD if name not in reads(rule)]
    values = {"supplier.name": s.names, "recipient.name": s.names, "description": s.names,
              "type": st.sampled_from(["sale", "gift", "loan", "lease", "barter", "donation"])}

    @settings(config)
    @given(violating(rule) | clearing(rule), st.data())
    def check(transfer: Transfer, data: st.DataObject) -> None:
        changed = transfer.model_copy(update={"notes": "changed", "id": "changed"})
        for name in unread:
            changed = _UNREAD[name](changed, data.draw(values[name], label=name))
        if _verdict(engine, changed, rule) != _verdict(engine, transfer, rule):
            _fail(rule, "changing facts the rule does not read changed its verdict",
                  transfer, changed)

    check()


def _scale(money: Money | None, factor: Decimal) -> Money | None:
    if money is None:
        return None
    return Money(amount=(money.amount * factor).quantize(Decimal("0.01")),
                 currency=money.currency)


def raising_values_never_clears(engine: Engine, rule: Rule, config: settings) -> None:
    """Sanctions thresholds are floors: a higher value never clears a rule that was met."""
    @settings(config)
    @given(violating(rule), st.decimals(1, 1000, places=2))
    def check(transfer: Transfer, factor: Decimal) -> None:
        item = transfer.items[0]
        richer = transfer.model_copy(update={"items": (item.model_copy(
            update={"unit_value": _scale(item.unit_value, factor)}),)})
        if not _met(_verdict(engine, richer, rule)):
            _fail(rule, f"multiplying the value by {factor} cleared the rule", transfer, richer)

    check()


def narrower_codes_stay_caught(engine: Engine, rule: Rule, config: settings) -> None:
    """A subheading of a code that meets the rule meets it too."""
    table = hs_nomenclature()
    children: dict[str, list[str]] = {}
    for code in table:
        if len(code) > 2:
            children.setdefault(code[: len(code) - 2], []).append(code)

    @settings(config)
    @given(violating(rule), st.data())
    def check(transfer: Transfer, data: st.DataObject) -> None:
        item = transfer.items[0]
        below = children.get(item.hs_code or "", [])
        if not below:
            return
        code = data.draw(st.sampled_from(sorted(below)), label="narrower code")
        narrower = transfer.model_copy(update={"items": (item.model_copy(
            update={"hs_code": code}),)})
        if not _met(_verdict(engine, narrower, rule)):
            _fail(rule, f"the narrower code {code} escapes the rule", transfer, narrower)

    check()


def filling_facts_keeps_it_met(engine: Engine, rule: Rule, config: settings) -> None:
    """Stating a fact the record left out never turns a met rule into clear."""
    @settings(config)
    @given(violating(rule), s.hs_codes(), s.money(), s.countries())
    def check(transfer: Transfer, code: str, value: Money, country: str) -> None:
        item = transfer.items[0]
        filled = {"hs_code": item.hs_code or code, "unit_value": item.unit_value or value,
                  "made_in": item.made_in or country}
        fuller = transfer.model_copy(update={"items": (item.model_copy(update=filled),)})
        if _verdict(engine, fuller, rule) is None:
            _fail(rule, "stating facts that were missing cleared the rule", transfer, fuller)

    check()


def examples_hold(engine: Engine, rule: Rule, config: settings) -> None:
    """Every example the rule carries gets the verdict it states."""
    for example in rule.examples:
        verdict = _verdict(engine, example.transfer, rule)
        got = verdict.value if verdict else "clear"
        if got != example.verdict:
            _fail(rule, f"the example at {example.source} should be {example.verdict},"
                        f" got {got}", example.transfer)


@dataclass(frozen=True)
class RuleProperty:
    """A per-rule property and when it applies."""

    name: str
    check: Callable[[Engine, Rule, settings], None]
    applies: Callable[[Rule], bool] = lambda rule: True


def _can(strategy: Callable[[Rule], Any]) -> Callable[[Rule], bool]:
    def applies(rule: Rule) -> bool:
        try:
            strategy(rule)
        except UnsatisfiableRule:
            return False
        return True

    return applies


RULE_PROPERTIES = (
    RuleProperty("examples-hold", examples_hold, lambda rule: bool(rule.examples)),
    RuleProperty("witnesses-violate", witnesses_violate),
    RuleProperty("clearing-clears", clearing_clears, _can(clearing)),
    RuleProperty("missing-is-undetermined", missing_is_undetermined, _can(undetermined)),
    RuleProperty("unread-facts-do-not-matter", unread_facts_do_not_matter, _can(violating)),
    RuleProperty("raising-values-never-clears", raising_values_never_clears,
                 lambda rule: bool(reads(rule) & {"unit_value", "total_value"})
                 and _can(violating)(rule)),
    RuleProperty("narrower-codes-stay-caught", narrower_codes_stay_caught,
                 lambda rule: "hs_code" in reads(rule) and _can(violating)(rule)),
    RuleProperty("filling-facts-keeps-it-met", filling_facts_keeps_it_met, _can(violating)),
)
"""Every per-rule property, in the order the plugin runs them."""


# -- per pack -----------------------------------------------------------------------------

def _signature(engine: Engine, case: Case) -> list[tuple[str, str, str, str]]:
    rows = []
    for transfer in case.transfers:
        for index, rule_id, verdict in engine.verdicts(transfer):
            rows.append((transfer.id, transfer.items[index].description, rule_id,
                         verdict.value))
    return sorted(rows)


def order_does_not_matter(engine: Engine, config: settings) -> None:
    """Verdicts do not depend on the order of rules, transfers or items."""
    shuffled = Engine(engine.rules, engine.rates)
    object.__setattr__(shuffled, "prepared", tuple(reversed(engine.prepared)))

    @settings(config)
    @given(s.cases())
    def check(case: Case) -> None:
        flipped = case.model_copy(update={"transfers": tuple(
            t.model_copy(update={"items": tuple(reversed(t.items))})
            for t in reversed(case.transfers))})
        if _signature(engine, case) != _signature(shuffled, flipped):
            _fail(None, "reordering rules, transfers or items changed the verdicts", case)

    check()


def evaluators_agree(engine: Engine, config: settings) -> None:
    """The explaining engine and the trace-free evaluator give the same verdicts."""
    pools = [s.transfers()]
    for rule in engine.rules:
        for make in (violating, clearing, undetermined):
            try:
                pools.append(make(rule))
            except UnsatisfiableRule:
                continue

    @settings(config)
    @given(st.one_of(pools))
    def check(transfer: Transfer) -> None:
        explained = sorted((f.item_index, f.rule.id, f.verdict)
                           for f in engine.evaluate_transfer(transfer).findings)
        if explained != engine.verdicts(transfer):
            _fail(None, "the explaining and the trace-free evaluators disagree", transfer)

    check()


def reports_are_deterministic(engine: Engine, config: settings) -> None:
    """Evaluating the same case twice gives the same report, byte for byte."""
    @settings(config)
    @given(s.cases())
    def check(case: Case) -> None:
        first = reports.to_json(engine.evaluate([(case, None)]))
        second = reports.to_json(Engine(engine.rules, engine.rates).evaluate([(case, None)]))
        if first != second:
            _fail(None, "two evaluations of the same case gave different reports", case)

    check()


def _words(engine: Engine, fact: str) -> list[str]:
    """The texts the pack's exemptions test ``fact`` against, to draw records that meet them."""
    found = {str(word) for e in engine.rules.exemptions for leaf in leaves(e.when)
             if leaf.fact == fact and isinstance(leaf.operand, tuple) for word in leaf.operand}
    return sorted(found)


def exemptions_never_add_findings(engine: Engine, config: settings) -> None:
    """Exemptions only turn findings into ``exempted``: never add one, drop one, or change one.

    Transfers are drawn to meet the exempted rules, then given licences and a
    recipient role drawn partly from the words the exemptions look for; the
    verdicts with the pack's exemptions and without them must differ only in
    findings that became ``exempted``, each by an exemption naming its rule.
    """
    plain = Engine(RuleSet(engine.rules.rules, engine.rules.packs), engine.rates)
    pools = [s.transfers()]
    for exemption in engine.rules.exemptions:
        for rule_id in exemption.exempts:
            rule = engine.rules.get(rule_id)
            try:
                pools.append(violating(rule) if rule is not None else s.transfers())
            except UnsatisfiableRule:
                continue
    issuers = [*_words(engine, "licence.issuer"), "BIS", "OFSI", "national authority"]
    covers = [*_words(engine, "licence.covers"), "spare parts"]
    roles = [*_words(engine, "recipient.role"), "trading-company"]
    licences = st.builds(Licence, issuer=st.sampled_from(issuers),
                         reference=st.sampled_from(["REF-1", "REF-2"]),
                         covers=st.none() | st.sampled_from(covers))

    @settings(config)
    @given(st.one_of(pools), st.lists(licences, max_size=2), st.none() | st.sampled_from(roles))
    def check(transfer: Transfer, held: list[Licence], role: str | None) -> None:
        transfer = transfer.model_copy(update={
            "licences": tuple(held),
            "recipient": transfer.recipient.model_copy(update={"role": role})})
        without = {(i, r): v for i, r, v in plain.verdicts(transfer)}
        found = engine.verdicts(transfer)
        if {(i, r) for i, r, _ in found} != set(without):
            _fail(None, "exemptions added or removed a finding", transfer)
        for index, rule_id, verdict in found:
            if verdict is FindingVerdict.EXEMPTED:
                if not engine.rules.exemptions_for(rule_id):
                    _fail(None, f"{rule_id} was exempted, but no exemption names it", transfer)
            elif verdict is not without[(index, rule_id)]:
                _fail(None, f"an exemption changed {rule_id} to {verdict.value}", transfer)

    check()


PACK_PROPERTIES: tuple[tuple[str, Callable[[Engine, settings], None]], ...] = (
    ("order-does-not-matter", order_does_not_matter),
    ("evaluators-agree", evaluators_agree),
    ("reports-are-deterministic", reports_are_deterministic),
    ("exemptions-never-add-findings", exemptions_never_add_findings),
)
"""Every property of a whole pack."""
