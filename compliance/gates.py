"""Gates: the countries and HS prefixes without which a condition tree cannot be met.

A gate is read off the tree, never written by hand: a bound that every way
to met or unknown through the tree needs. An engine may skip a rule for a
record outside its gate, and a query may drop such records before judging
them, without changing any verdict (a property test holds gates to that).

For a record inside a gate, :func:`settled` gives the tests of a tree that
its gated countries and its HS chapter already decide, so that an engine
tests the rest only; :func:`within_gate` gives what is left of a tree once
the gate itself is known to hold, so that a query does not test it twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from compliance.conditions import AllOf, AnyOf, Leaf, Node, Not
from compliance.operators import OPERATORS, Outcome

CountryGate = tuple[tuple[str, frozenset[str]], ...]
"""(fact, countries) alternatives: one must hold for the tree to be met or unknown."""


def _gate(node: Node, leaf: Callable[[Leaf], Any], size: Callable[[Any], int],
          union: Callable[[list[Any]], Any]) -> Any:
    """A bound that every way to met or unknown through ``node`` needs, if the tree has one.

    A leaf gives its own bound (or None); ``all`` is bounded by its tightest
    bounded child; ``any`` only if every child is bounded (by their union);
    ``not`` never, since a negation can be met outside any bound.
    """
    if isinstance(node, Leaf):
        return leaf(node)
    if isinstance(node, Not):
        return None
    gates = [_gate(child, leaf, size, union) for child in node.children]
    if isinstance(node, AllOf):
        bounded = [g for g in gates if g is not None]
        return min(bounded, key=size) if bounded else None
    if any(g is None for g in gates):
        return None
    return union(gates)


def hs_gate(node: Node) -> frozenset[str] | None:
    """HS prefixes of which an item's code must be inside one (or coarser) to meet the node."""
    return _gate(node, lambda leaf: frozenset(leaf.operand) if leaf.op == "prefix" else None,
                 len, lambda gates: frozenset().union(*gates))


ALWAYS_STATED = ("destination", "origin", "supplier.country", "recipient.country", "via")
"""Country facts a record always states: the only ones a gate may rely on."""


def _country_leaf(leaf: Leaf) -> CountryGate | None:
    if leaf.op in ("in", "equals") and leaf.fact in ALWAYS_STATED:
        return ((leaf.fact, frozenset(leaf.operand)),)
    if leaf.op == "includes" and leaf.fact == "via":
        return (("via", frozenset(leaf.operand)),)
    if leaf.op == "includes" and leaf.fact == "route":  # origin, transit and destination
        members = frozenset(leaf.operand)
        return (("origin", members), ("via", members), ("destination", members))
    return None


def country_gate(node: Node) -> CountryGate | None:
    """(fact, countries) alternatives, one of which every way to met or unknown needs.

    From ``in``/``equals`` tests of the always-stated country facts and
    ``includes`` tests of ``via`` and ``route``.
    """
    return _gate(node, _country_leaf, lambda g: sum(len(members) for _, members in g),
                 lambda gates: tuple(pair for gate in gates for pair in gate))


def within_gate(node: Node, gate: CountryGate) -> Node | None:
    """What is left of ``node`` on the records inside ``gate``; None where the gate decides it.

    The children of an ``all`` that are the gate's own tests hold on every
    record inside it (the tree's gate is read off them): a leaf the gate is
    read from, or an ``any`` of such leaves, whose alternatives cover the
    gate's. They are dropped, so that a query that has tested the gate does
    not test it again.
    """
    def covers(test: Node) -> bool:
        parts = test.children if isinstance(test, AnyOf) else (test,)
        pairs = [_country_leaf(part) if isinstance(part, Leaf) else None for part in parts]
        if any(pair is None for pair in pairs):
            return False
        alternatives = [alternative for pair in pairs for alternative in pair or ()]
        return all(any(fact == other and members <= wider for other, wider in alternatives)
                   for fact, members in gate)

    if covers(node):
        return None
    if not isinstance(node, AllOf):
        return node
    rest = tuple(child for child in node.children if not covers(child))
    if not rest:
        return None
    return rest[0] if len(rest) == 1 else AllOf(rest)


def union_gate(trees: Iterable[Node]) -> CountryGate | None:
    """The countries, by fact, one of which a record needs for any of the trees to apply.

    None if a tree has no country gate (any record may meet it); empty if
    there are no trees.
    """
    merged: dict[str, set[str]] = {}
    for tree in trees:
        gate = country_gate(tree)
        if gate is None:
            return None
        for fact, members in gate:
            merged.setdefault(fact, set()).update(members)
    return tuple((fact, frozenset(members)) for fact, members in sorted(merged.items()))


# -- what the gate facts settle -----------------------------------------------------------

Named = tuple[str | None, str | None, str | None, str | None, tuple[str, ...]]
"""A record's ALWAYS_STATED facts, in that order, reduced to a set of named countries.

Each single country is kept when it is named, else None (the record states
another); ``via`` keeps its named members, sorted.
"""

_SINGLE = {fact: n for n, fact in enumerate(ALWAYS_STATED[:4])}


def settled(leaf: Leaf, countries: Named, named: frozenset[str],
            chapter: str | None) -> Outcome | None:
    """The outcome of a leaf that the named countries and the item's HS chapter decide.

    ``countries`` holds a record's countries reduced to ``named``; ``chapter``
    is the first two digits of a stated HS code of two or more digits. A test
    the reduction loses (a country outside ``named``) stays unsettled: None.
    """
    operator = OPERATORS[leaf.op]
    if leaf.fact == "hs_code" and leaf.op == "prefix" and chapter is not None:
        return _chapter_prefix(leaf.operand, leaf.options.get("except", ()), chapter)
    if leaf.op in ("in", "equals") and leaf.fact in _SINGLE:
        value = countries[_SINGLE[leaf.fact]]
        if value is not None:
            return operator.fast(leaf.operand, leaf.options)(value)
        return Outcome.NOT_MET if named.issuperset(leaf.operand) else None
    if leaf.op == "includes" and leaf.fact in ("via", "route") and named.issuperset(
            leaf.operand):
        destination, origin, _, _, via = countries
        if leaf.fact == "route":
            via = tuple(c for c in (origin, *via, destination) if c is not None)
        return operator.fast(leaf.operand, leaf.options)(via)
    return None


def _chapter_prefix(prefixes: tuple[str, ...], excluded: tuple[str, ...],
                    chapter: str) -> Outcome | None:
    """``prefix`` for every code of a chapter, when the chapter alone decides it, else None.

    Prefixes have two digits or more: the chapter's own holds for each of its
    codes, and one of another chapter for none of them.
    """
    if not any(p[:2] == chapter for p in prefixes):
        return Outcome.NOT_MET
    if chapter in prefixes and not any(e[:2] == chapter for e in excluded):
        return Outcome.MET
    return None  # it turns on the digits after the chapter
