"""The explanation as data: a trace that mirrors the condition tree, and what can be read from it.

A :class:`Trace` records, for every node of a rule's condition, its outcome;
for every test, the fact it read, the value found and a note (the HS
description, the exchange rate used, why a comparison was impossible).
The functions below are pure readings of a trace: the facts whose absence
left the rule undetermined, the changes that would have cleared it, and the
trace as text or as JSON-ready data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from compliance.conditions import Leaf
from compliance.operators import Outcome, show_value

_MARKS = {Outcome.MET: "✓", Outcome.NOT_MET: "✗", Outcome.UNKNOWN: "?"}
MAX_ALTERNATIVES = 8


@dataclass(frozen=True, slots=True)
class Trace:
    """The outcome of one node of a condition tree, with its children or its test."""

    kind: str  # "all", "any", "not" or "test"
    outcome: Outcome
    children: tuple[Trace, ...] = ()
    leaf: Leaf | None = None
    value: Any = None
    note: str = ""

    @property
    def fact(self) -> str | None:
        return self.leaf.fact if self.leaf else None

    @property
    def test(self) -> str:
        """The test in words (``route includes KP``) or the combinator (``all of``)."""
        if self.leaf is not None:
            return self.leaf.describe()
        return {"all": "all of", "any": "any of", "not": "not"}[self.kind]


def deciding_unknowns(trace: Trace) -> Iterator[Trace]:
    """The unknown tests that left this trace unknown (those masked by a decided node are not)."""
    if trace.outcome is not Outcome.UNKNOWN:
        return
    if trace.leaf is not None:
        yield trace
        return
    for child in trace.children:
        yield from deciding_unknowns(child)


def missing_facts(trace: Trace) -> tuple[str, ...]:
    """The facts whose absence or vagueness left the rule undetermined, in order, once each."""
    return tuple(dict.fromkeys(t.fact for t in deciding_unknowns(trace) if t.fact))


def _ways(trace: Trace, target: bool) -> list[list[tuple[Trace, bool]]]:
    """Sets of test outcomes that would give ``trace`` the outcome ``target``."""
    wanted = Outcome.MET if target else Outcome.NOT_MET
    if trace.outcome is wanted:
        return [[]]
    if trace.leaf is not None:
        return [[(trace, target)]]
    if trace.kind == "not":
        return _ways(trace.children[0], not target)
    every_child = (trace.kind == "all") == target
    if every_child:
        needed: list[tuple[Trace, bool]] = []
        for child in trace.children:
            needed.extend(_ways(child, target)[0])
        return [needed]
    options: list[list[tuple[Trace, bool]]] = []
    for child in trace.children:
        options.extend(_ways(child, target))
    return options


def clearing(trace: Trace) -> tuple[str, ...]:
    """What would have cleared the rule: each line one alternative, in words."""
    lines: list[str] = []
    for option in _ways(trace, False):
        if not option:
            continue
        words = [
            (t.leaf.describe_negation() if not wanted else t.leaf.describe())
            for t, wanted in option if t.leaf is not None
        ]
        lines.append(" and ".join(words))
    return tuple(dict.fromkeys(lines))[:MAX_ALTERNATIVES]


def to_data(trace: Trace) -> dict[str, Any]:
    """The trace as JSON-ready data, mirroring the condition tree."""
    data: dict[str, Any] = {"test": trace.test, "outcome": trace.outcome.value}
    if trace.leaf is not None:
        data["fact"] = trace.leaf.fact
        data["value"] = show_value(trace.value)
        if trace.note:
            data["note"] = trace.note
        if trace.leaf.span is not None:
            data["rule_line"] = trace.leaf.span.line
    else:
        data["children"] = [to_data(child) for child in trace.children]
    return data


def lines(trace: Trace, depth: int = 0) -> Iterator[tuple[int, Trace]]:
    """Every node of the trace with its depth, top down: the skeleton of a printed explanation."""
    yield depth, trace
    for child in trace.children:
        yield from lines(child, depth + 1)


def mark(outcome: Outcome) -> str:
    """The one-character mark of an outcome: ✓ met, ✗ not met, ? unknown."""
    return _MARKS[outcome]


def printed_note(node: Trace) -> str | None:
    """A leaf's note as printed beside its value: none where the value, shown as
    "(not stated)", already says what the note would."""
    return node.note if node.note and node.value is not None else None


def explain(trace: Trace) -> str:
    """The trace as plain indented text, one node a line."""
    out = []
    for depth, node in lines(trace):
        text = f"{'  ' * depth}{mark(node.outcome)} {node.test}"
        if node.leaf is not None:
            text += f": {node.leaf.fact} = {show_value(node.value)}"
            if note := printed_note(node):
                text += f" ({note})"
        out.append(text)
    return "\n".join(out)
