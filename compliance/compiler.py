"""Condition tree to evaluator closures, prepared once per rule and run for every item.

Compiling resolves each leaf's fact getter and operator test once, so that
evaluating a rule is a walk over closures with no look-ups by name. The
closures record a :class:`~compliance.trace.Trace` as they go.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

from compliance.conditions import AllOf, AnyOf, Leaf, Node, Not, leaves
from compliance.facts import FACTS, Kind
from compliance.gates import country_gate, hs_gate
from compliance.models import Item, Transfer
from compliance.operators import OPERATORS, Env, Outcome, all_of, any_of, fold, fold_all
from compliance.rules import Rule
from compliance.trace import Trace

Evaluator = Callable[[Transfer, Item, Env], Trace]
Decider = Callable[[Transfer, Item, Env], Outcome]


@dataclass(frozen=True, slots=True)
class PreparedRule:
    """A rule and its condition compiled twice: with a trace, and to a bare outcome.

    ``gate`` holds HS prefixes of which an item's code must be compatible with
    one (inside it, or coarser than it) for the rule to be anything but not
    met; None when the tree gives no such bound. ``countries`` does the same
    for the countries of the route and the parties. Together they let an
    engine skip rules that cannot apply to an item without evaluating them.
    """

    rule: Rule
    evaluate: Evaluator
    decide: Decider
    gate: frozenset[str] | None = None
    countries: tuple[tuple[str, frozenset[str]], ...] | None = None
    """(fact, countries) pairs of which one must hold for the rule to be met or unknown."""

    def __repr__(self) -> str:
        return f"<PreparedRule {self.rule.id}>"


def compile_node(node: Node) -> Evaluator:
    """Compile one node (and its subtree) to a closure that returns its trace."""
    if isinstance(node, Leaf):
        return _compile_leaf(node)
    if isinstance(node, Not):
        inner = compile_node(node.child)

        def negation(transfer: Transfer, item: Item, env: Env) -> Trace:
            child = inner(transfer, item, env)
            return Trace("not", ~child.outcome, (child,))

        return negation
    parts = tuple(compile_node(child) for child in node.children)
    kind, combine = ("all", all_of) if isinstance(node, AllOf) else ("any", any_of)
    assert isinstance(node, AllOf | AnyOf)

    def combination(transfer: Transfer, item: Item, env: Env) -> Trace:
        # Every child is evaluated, even once the outcome is settled: the
        # explanation shows each condition and the fact it looked at.
        children = tuple(part(transfer, item, env) for part in parts)
        return Trace(kind, combine(c.outcome for c in children), children)

    return combination


def _compile_leaf(leaf: Leaf) -> Evaluator:
    get = FACTS[leaf.fact].get
    operator = OPERATORS[leaf.op]
    test, operand, options = operator.test, leaf.operand, leaf.options
    reads_missing = operator.reads_missing

    def evaluate(transfer: Transfer, item: Item, env: Env) -> Trace:
        value = get(transfer, item)
        if value is None and not reads_missing:
            return Trace("test", Outcome.UNKNOWN, leaf=leaf, note="not stated in the record")
        outcome, note = test(value, operand, options, env)
        return Trace("test", outcome, leaf=leaf, value=value, note=note)

    return evaluate


def compile_outcome(node: Node) -> Decider:
    """Compile one node to a closure that returns only its outcome, stopping early.

    The same tree and the same operator table as :func:`compile_node`, without
    the trace: for screening many records where only verdicts are wanted.
    """
    decider = specialise(node, lambda leaf: None)
    assert not isinstance(decider, Outcome)  # nothing settled: every leaf is a test
    return decider


Settle = Callable[[Leaf], Outcome | None]
"""The outcome a leaf is already known to have for the records at hand, or None."""


def specialise(node: Node, settle: Settle) -> Decider | Outcome:
    """The node's outcome decider, with the leaves ``settle`` knows replaced by their outcomes.

    What is left decides as the whole tree would (three-valued, stopping
    early, children in the order written); when nothing is left, the outcome
    itself is returned. The engine settles the leaves a record's gated
    countries and its item's HS chapter decide, once per such combination.
    """
    if isinstance(node, Leaf):
        known = settle(node)
        return known if known is not None else _leaf_outcome(node)
    if isinstance(node, Not):
        inner = specialise(node.child, settle)
        if isinstance(inner, Outcome):
            return ~inner
        return lambda transfer, item, env: ~inner(transfer, item, env)
    stop, otherwise = ((Outcome.NOT_MET, Outcome.MET) if isinstance(node, AllOf)
                       else (Outcome.MET, Outcome.NOT_MET))
    start = otherwise
    tests: list[Decider] = []
    for child in node.children:
        part = specialise(child, settle)
        if part is stop:
            return stop
        if part is Outcome.UNKNOWN:
            start = Outcome.UNKNOWN
        elif isinstance(part, Outcome):
            continue  # the neutral outcome: it changes nothing
        else:
            tests.append(part)
    if not tests:
        return start
    if len(tests) == 1 and start is otherwise:
        return tests[0]
    parts = tuple(tests)

    def combination(transfer: Transfer, item: Item, env: Env) -> Outcome:
        result = start
        for part in parts:
            outcome = part(transfer, item, env)
            if outcome is stop:
                return stop
            if outcome is Outcome.UNKNOWN:
                result = Outcome.UNKNOWN
        return result

    return combination


def _leaf_outcome(node: Leaf) -> Decider:
    get = FACTS[node.fact].get
    operator = OPERATORS[node.op]
    test, operand, options = operator.test, node.operand, node.options
    reads_missing = operator.reads_missing
    if operator.fast is not None:
        fast = operator.fast(operand, options)

        def quick(transfer: Transfer, item: Item, env: Env) -> Outcome:
            value = get(transfer, item)
            if value is None and not reads_missing:
                return Outcome.UNKNOWN
            return fast(value)

        return quick

    def leaf(transfer: Transfer, item: Item, env: Env) -> Outcome:
        value = get(transfer, item)
        if value is None and not reads_missing:
            return Outcome.UNKNOWN
        return test(value, operand, options, env)[0]

    return leaf


_OTHER = object()
"""A country a tree names nowhere: any such one decides as any other does."""


def _reduction(fact: str, tests: list[Leaf]) -> Callable[[object], object] | None:
    """What the tests of a fact can tell apart of its values, as a key; None if not known.

    A country, by the tests ``in``, ``equals`` and ``exists``: whether it is
    stated, and which of the countries named it is (folded as they compare
    it), else one of the others. A list of countries, by ``includes`` and
    ``exists``: those of it named. A date, by comparisons and ``exists``: where
    it falls among the dates compared with, and whether it is one of them.
    """
    kind, ops = FACTS[fact].kind, {leaf.op for leaf in tests}
    operands = [v for leaf in tests if leaf.op != "exists" for v in leaf.operand] if all(
        isinstance(leaf.operand, tuple) for leaf in tests if leaf.op != "exists") else None
    if kind is Kind.COUNTRY and ops <= {"in", "equals", "exists"} and operands is not None:
        named = fold_all(tuple(operands))
        return lambda value: value if value is None else (
            folded if (folded := fold(value)) in named else _OTHER)
    if kind is Kind.COUNTRIES and ops <= {"includes", "exists"} and operands is not None:
        members = frozenset(operands)
        return lambda value: value if value is None else tuple(sorted(members.intersection(value)))
    if kind is Kind.DATE and ops <= {"gt", "ge", "lt", "le", "equals", "exists"}:
        bounds = sorted({leaf.operand[0] if isinstance(leaf.operand, tuple) else leaf.operand
                         for leaf in tests if leaf.op != "exists"})
        return lambda value: value if value is None else (bisect_left(bounds, value),
                                                          value in bounds)
    return None


def compile_kept(node: Node, size: int = 4096) -> Decider:
    """:func:`compile_outcome`, with each outcome kept by what the tree tells apart of its facts.

    A tree that tests only countries and dates (a pack's reach: the EU's
    hundreds of tests of membership by date) decides alike on records whose
    countries are the same where it names them and whose dates fall alike
    among the dates it compares with (:func:`_reduction`): it is decided once
    for each such key, and at most ``size`` keys are kept. Any other tree is
    :func:`compile_outcome`.
    """
    decide = compile_outcome(node)
    by_fact: dict[str, list[Leaf]] = {}
    for leaf in leaves(node):
        by_fact.setdefault(leaf.fact, []).append(leaf)
    reductions = []
    for fact, tests in by_fact.items():
        reduce = _reduction(fact, tests)
        if reduce is None:
            return decide
        reductions.append((FACTS[fact].get, reduce))
    kept: dict[tuple[object, ...], Outcome] = {}

    def decide_kept(transfer: Transfer, item: Item, env: Env) -> Outcome:
        key = tuple(reduce(get(transfer, item)) for get, reduce in reductions)
        outcome = kept.get(key)
        if outcome is None:
            if len(kept) >= size:
                kept.clear()
            outcome = kept[key] = decide(transfer, item, env)
        return outcome

    return decide_kept


def prepare(rule: Rule) -> PreparedRule:
    """Compile a rule once, to evaluate it many times."""
    return PreparedRule(rule, compile_node(rule.when), compile_outcome(rule.when),
                        hs_gate(rule.when), country_gate(rule.when))
