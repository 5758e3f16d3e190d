"""Static checks of rule packs, each diagnostic with a stable code, a severity and a span.

Errors: the file does not load (every loader diagnostic), or a rule can never
be met. Warnings: a rule that can never clear, a rule made redundant by
another with the same verdict and citation, an HS prefix shadowed by a
shorter one, a threshold in a currency with no reference rates, a citation
without a link, an exemption never in force while a rule it names is. Notes:
citations (of rules and exemptions) still marked unverified.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from compliance import reference
from compliance.conditions import AllOf, Leaf, Node, Not, leaves
from compliance.errors import Diagnostic, InputError
from compliance.loader import load_rules
from compliance.models import Money
from compliance.operators import Outcome
from compliance.rules import Correlation, Exemption, Rule, RuleSet
from compliance.satisfy import solutions


def _canonical(node: Node) -> Any:
    """The tree as a value that ignores the order of children and where lists came from."""
    if isinstance(node, Leaf):
        operand = tuple(sorted(map(str, node.operand))) if isinstance(node.operand, tuple) \
            else str(node.operand)
        return ("test", node.fact, node.op, operand, tuple(sorted(
            (k, tuple(sorted(map(str, v)))) for k, v in node.modifiers)))
    if isinstance(node, Not):
        return ("not", _canonical(node.child))
    kind = "all" if isinstance(node, AllOf) else "any"
    return (kind, tuple(sorted(map(repr, map(_canonical, node.children)))))


def _conjuncts(node: Node) -> frozenset[str]:
    parts = node.children if isinstance(node, AllOf) else (node,)
    return frozenset(repr(_canonical(p)) for p in parts)


def _rate_gap(currency: str, rule: Rule, rates: reference.EcbRates) -> str:
    covered = rates.coverage(currency)
    if covered is None:
        return f"threshold in {currency}, for which the ECB publishes no reference rate"
    last_usd = (rates.coverage("USD") or covered)[1]
    stopped = covered[1] < last_usd  # quoting ended, not merely the shipped history
    if stopped and (rule.in_force.until is None or rule.in_force.until > covered[1]):
        return (f"threshold in {currency}, whose ECB reference rate ended on {covered[1]},"
                f" while the rule is in force {rule.in_force}")
    return ""


def _rule_checks(rule: Rule) -> Iterator[Diagnostic]:
    met, why = solutions(rule, Outcome.MET)
    if not met:
        yield Diagnostic("unsatisfiable", f"rule {rule.id} can never be met: "
                         + ("; or ".join(why[:3]) or "no way through its conditions"),
                         rule.source, "when")
    elif not solutions(rule, Outcome.NOT_MET)[0]:
        yield Diagnostic("never-clears", f"rule {rule.id} can never be cleared",
                         rule.source, "when", severity="warning")
    rates = reference.default_rates()
    for leaf in leaves(rule.when):
        span = leaf.span or rule.source
        if isinstance(leaf.operand, Money):
            problem = _rate_gap(leaf.operand.currency, rule, rates)
            if problem:
                yield Diagnostic("rate-unavailable", problem, span, leaf.fact,
                                 "state the threshold in the currency of the legal text"
                                 " (USD for the UN, EUR for the EU)", severity="warning")
        if leaf.op == "prefix":
            codes = list(leaf.operand)
            for code in codes:
                wider = [c for c in codes if c != code and code.startswith(c)]
                if wider:
                    yield Diagnostic("redundant-prefix", f"HS prefix {code} is already"
                                     f" covered by {wider[0]}", span, leaf.fact,
                                     f"remove {code}", severity="warning")
    yield from _citation_checks("rule", rule)


def _citation_checks(kind: str, entry: Rule | Exemption | Correlation) -> Iterator[Diagnostic]:
    if entry.citation.url is None:
        yield Diagnostic("missing-url", f"{kind} {entry.id} cites {entry.citation.text}"
                         " without a link", entry.source, "citation.url", severity="warning")
    if entry.citation.confidence == "unverified":
        yield Diagnostic("unverified-citation", f"{kind} {entry.id}: {entry.citation.text} is"
                         " not yet verified against the official text", entry.source,
                         "citation.confidence", severity="note")


def _exemption_checks(exemption: Exemption, rules: RuleSet) -> Iterator[Diagnostic]:
    yield from _citation_checks("exemption", exemption)
    for rule_id in exemption.exempts:
        rule = rules.get(rule_id)
        if rule is None:
            continue
        if (exemption.in_force.end <= rule.in_force.start
                or rule.in_force.end <= exemption.in_force.start):
            yield Diagnostic("exemption-never-applies", f"exemption {exemption.id} is never in"
                             f" force while {rule_id} is ({exemption.in_force} against"
                             f" {rule.in_force})", exemption.source, "in_force",
                             severity="warning")


def _redundancy(rules: RuleSet) -> Iterator[Diagnostic]:
    groups: dict[tuple[str, str], list[Rule]] = {}
    for rule in rules:
        groups.setdefault((rule.verdict.value, rule.citation.text), []).append(rule)
    for group in groups.values():
        for rule in group:
            mine = _conjuncts(rule.when)
            for other in group:
                theirs = _conjuncts(other.when)
                if other is rule or not theirs <= mine:
                    continue
                if theirs == mine and other.id > rule.id:
                    continue  # identical pair: report the second id only
                yield Diagnostic(
                    "redundant-rule", f"rule {rule.id} catches nothing that {other.id}"
                    " (same verdict and citation) does not", rule.source, "when",
                    f"{other.id} is at {other.source}", severity="warning")
                break


def lint(paths: Iterable[Path | str] | None = None) -> list[Diagnostic]:
    """Every diagnostic for the rule packs at ``paths`` (the bundled ones by default)."""
    try:
        rules = load_rules(list(paths) if paths is not None else None)
    except InputError as exc:
        return list(exc.diagnostics)
    found = [d for rule in rules for d in _rule_checks(rule)]
    found.extend(d for exemption in rules.exemptions for d in _exemption_checks(exemption, rules))
    found.extend(d for c in rules.correlations for d in _citation_checks("correlation", c))
    found.extend(_redundancy(rules))
    return sorted(found, key=Diagnostic.sort_key)


def failed(diagnostics: Iterable[Diagnostic]) -> bool:
    """Errors and warnings fail a lint run; notes do not."""
    return any(d.severity in ("error", "warning") for d in diagnostics)
