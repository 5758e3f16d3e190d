"""The condition tree: frozen nodes (all, any, not, and a leaf per fact test), each with its span.

The tree is the single source of truth of a rule: the compiler, the
explanation, the documentation and the JSON Schema are derived from it and
from the tables in :mod:`compliance.facts` and :mod:`compliance.operators`.

In YAML a condition is one of::

    all: [condition, ...]              every condition holds
    any: [condition, ...]              at least one holds
    not: condition                     the condition does not hold
    <fact>: {<operator>: operand}      a test of one fact, e.g. route: {includes: KP}

An operand may name a list declared in the file's ``lists`` as ``$name``, or a
country group shipped as reference data (``$eu``). A group's membership is
dated: a test on a country of the group is met only on the days the country
belonged to it, which the parser writes into the tree as a date condition
(``origin is GB and date before 2021-01-01``), trimmed to the days the rule is
in force. Every evaluator then follows membership without knowing of groups.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from compliance import reference
from compliance.facts import FACTS
from compliance.operators import OPERATORS, OperandError, Resolve
from compliance.source import Span

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    """Holds when every child holds."""

    children: tuple[Node, ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Holds when at least one child holds."""

    children: tuple[Node, ...]
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    """Holds when its child does not; unknown stays unknown."""

    child: Node
    span: Span | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Leaf:
    """A test of one fact by one operator, e.g. ``hs_code: {prefix: ["8703"]}``."""

    fact: str
    op: str
    operand: Any
    modifiers: tuple[tuple[str, Any], ...] = ()
    refs: tuple[str, ...] = ()
    span: Span | None = field(default=None, compare=False)

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.modifiers)

    def describe(self) -> str:
        """The test in words: ``route includes KP``."""
        return f"{self.fact} {OPERATORS[self.op].describe(self.operand, self.options)}"

    def describe_negation(self) -> str:
        """The opposite test in words: ``route does not include KP``."""
        return f"{self.fact} {OPERATORS[self.op].negate(self.operand, self.options)}"


Node = AllOf | AnyOf | Not | Leaf


def leaves(node: Node) -> Iterator[Leaf]:
    """Every leaf of a tree, left to right."""
    if isinstance(node, Leaf):
        yield node
    elif isinstance(node, Not):
        yield from leaves(node.child)
    else:
        for child in node.children:
            yield from leaves(child)


@dataclass(frozen=True, slots=True)
class ConditionProblem:
    """A problem found while parsing a condition, at a path relative to the rule file."""

    path: Path
    code: str
    message: str
    hint: str = ""


Locate = Callable[[Path], Span | None]

_COMBINATORS = ("all", "any", "not")


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""


_OTHER_NAMES = {
    "gte": "ge", ">=": "ge", "lte": "le", "<=": "le", ">": "gt", "<": "lt",
    "eq": "equals", "==": "equals", "=": "equals", "is": "equals",
    "startswith": "prefix", "starts_with": "prefix",
    "contains": "mentions (in a text) or includes (in a list of countries)",
    "nin": "not: {fact: {in: [...]}}", "not_in": "not: {fact: {in: [...]}}",
}
"""Operators as other rule and query languages name them, and how this language says each."""


def _suggest_operator(word: str, choices: list[str]) -> str:
    """What to write for an unknown operator: this language's name of another's, else the
    nearest name."""
    if word.lower() in _OTHER_NAMES:
        return f"written here as {_OTHER_NAMES[word.lower()]}"
    return _suggest(word, choices)


Window = tuple[dt.date, dt.date]
"""The days a tree will be evaluated on: from the first, up to (not including) the second."""

ALWAYS: Window = (dt.date.min, dt.date.max)


class _Parser:
    def __init__(self, lists: dict[str, dict[str, tuple[Any, ...]]], locate: Locate,
                 window: Window, facts: frozenset[str] | None) -> None:
        self.lists = lists
        self.locate = locate
        self.window = window
        self.facts = facts
        self.problems: list[ConditionProblem] = []

    def fail(self, path: Path, code: str, message: str, hint: str = "") -> None:
        self.problems.append(ConditionProblem(path, code, message, hint))

    def node(self, raw: Any, path: Path) -> Node | None:
        if not isinstance(raw, dict) or len(raw) != 1:
            shape = "an empty mapping" if raw == {} else type(raw).__name__
            if isinstance(raw, dict):
                shape = "a mapping with keys " + ", ".join(map(str, raw))
            self.fail(path, "bad-condition",
                      f"a condition is a mapping with exactly one key, got {shape}",
                      "use all/any/not, or one fact such as route: {includes: KP}")
            return None
        ((key, value),) = raw.items()
        span = self.locate(path)
        if key in ("all", "any"):
            return self.combination(key, value, (*path, key), span)
        if key == "not":
            child = self.node(value, (*path, key))
            return None if child is None else Not(child, span)
        return self.leaf(str(key), value, path, span)

    def combination(self, key: str, value: Any, path: Path, span: Span | None) -> Node | None:
        if not isinstance(value, list) or not value:
            self.fail(path, "bad-condition", f"'{key}' takes a non-empty list of conditions")
            return None
        children = [self.node(child, (*path, i)) for i, child in enumerate(value)]
        if any(child is None for child in children):
            return None
        kids = tuple(c for c in children if c is not None)
        return AllOf(kids, span) if key == "all" else AnyOf(kids, span)

    def leaf(self, name: str, test: Any, path: Path, span: Span | None) -> Leaf | None:
        fact = FACTS.get(name)
        allowed = [f for f in FACTS if self.facts is None or f in self.facts]
        if fact is None or name not in allowed:
            known = "unknown fact" if fact is None else "fact not available here:"
            self.fail((*path, name), "unknown-fact", f"{known} '{name}'",
                      _suggest(name, [*allowed, *_COMBINATORS])
                      or "facts: " + ", ".join(allowed))
            return None
        where = (*path, name)
        valid = [op for op, row in OPERATORS.items() if fact.kind in row.kinds]
        if not isinstance(test, dict) or not test:
            self.fail(where, "bad-condition",
                      f"the test of '{name}' is a mapping from an operator to its operand",
                      f"for instance {name}: {{{valid[0]}: ...}}; operators for {fact.kind}: "
                      + ", ".join(valid))
            return None
        names = [k for k in test if k in OPERATORS]
        unknown = [k for k in test if k not in OPERATORS]
        operator = OPERATORS.get(names[0]) if len(names) == 1 else None
        allowed_mods = operator.modifiers if operator else {}
        for key in unknown:
            if key in allowed_mods:
                continue
            self.fail((*where, key), "unknown-operator", f"unknown operator '{key}'",
                      _suggest_operator(str(key), [*OPERATORS, *allowed_mods])
                      or "operators: " + ", ".join(OPERATORS))
        if len(names) != 1:
            if not unknown:
                self.fail(where, "bad-condition",
                          f"one operator per test, got {', '.join(names)}",
                          "combine several tests with all: [...]")
            return None
        if operator is None or any(k not in allowed_mods for k in unknown):
            return None
        if fact.kind not in operator.kinds:
            self.fail((*where, operator.name), "operator-mismatch",
                      f"operator '{operator.name}' does not apply to '{name}', a {fact.kind}",
                      f"operators for {fact.kind}: " + ", ".join(valid))
            return None
        refs: list[str] = []
        dated: dict[str, reference.Membership] = {}
        resolve = self._resolver(refs, dated)
        try:
            operand = operator.parse(test[operator.name], fact.kind, resolve)
        except OperandError as exc:
            self.fail((*where, operator.name), exc.code, str(exc), exc.hint)
            return None
        modifiers: list[tuple[str, Any]] = []
        for key, parse in operator.modifiers.items():
            if key in test:
                try:
                    modifiers.append((key, parse(test[key], fact.kind, resolve)))
                except OperandError as exc:
                    self.fail((*where, key), exc.code, str(exc), exc.hint)
                    return None
        leaf = Leaf(name, operator.name, operand, tuple(modifiers), tuple(refs), span)
        return self._dated(leaf, dated, where) if dated else leaf

    def _dated(self, leaf: Leaf, dated: dict[str, reference.Membership],
               where: Path) -> Node | None:
        """A test on group members, split so that each is met only while a member."""
        first, end = self.window
        steady: list[str] = []
        branches: list[Node] = []
        for code in leaf.operand:
            member = dated.get(code)
            if member is None or (member.start <= first
                                  and (member.until or dt.date.max) >= end):
                steady.append(code)
                continue
            if member.start >= end or (member.until is not None and member.until <= first):
                continue  # never a member while the rule is in force
            tests: list[Node] = [Leaf(leaf.fact, leaf.op, (code,), leaf.modifiers, leaf.refs,
                                      leaf.span)]
            if member.start > first:
                tests.append(Leaf("date", "ge", member.start, span=leaf.span))
            if member.until is not None and member.until < end:
                tests.append(Leaf("date", "lt", member.until, span=leaf.span))
            branches.append(AllOf(tuple(tests), leaf.span))
        if steady:
            branches.insert(0, Leaf(leaf.fact, leaf.op, tuple(steady), leaf.modifiers,
                                    leaf.refs, leaf.span))
        if not branches:
            self.fail(where, "empty-group", f"no member of ${', $'.join(leaf.refs)} belongs"
                      " to it while the rule is in force")
            return None
        return branches[0] if len(branches) == 1 else AnyOf(tuple(branches), leaf.span)

    def _resolver(self, refs: list[str], dated: dict[str, reference.Membership]) -> Resolve:
        def resolve(name: str, kind: str) -> tuple[Any, ...]:
            table = self.lists.get(kind, {})
            group = reference.country_groups().get(name) if kind == "countries" else None
            if name not in table and group is not None:
                refs.append(name)
                dated.update((m.code, m) for m in group)
                return tuple(dict.fromkeys(m.code for m in group))
            if name not in table:
                known = [n for group in self.lists.values() for n in group]
                raise OperandError(
                    f"no {kind} list named '{name}' in this file",
                    _suggest(name, known) or f"declare it under lists: {kind}: {name}: [...]",
                    "unknown-list",
                )
            refs.append(name)
            return table[name]

        return resolve


def parse_condition(
    raw: Any, lists: dict[str, dict[str, tuple[Any, ...]]], locate: Locate, path: Path = (),
    window: Window = ALWAYS, facts: frozenset[str] | None = None,
) -> tuple[Node | None, list[ConditionProblem]]:
    """Parse a YAML condition into a tree; return the tree (None if invalid) and the problems.

    ``lists`` maps a list kind (``countries``, ``hs``, ``keywords``) to the named
    lists of that kind; ``locate`` gives the span of a path, so that every node
    remembers where it was written. ``window`` is the days the tree will be
    evaluated on (a rule's days in force), to which dated group membership is
    trimmed; ``facts`` limits the facts the tree may name (None: every fact
    but the licence facts, which only exemptions read).
    """
    if facts is None:
        facts = frozenset(name for name, fact in FACTS.items() if fact.scope != "licence")
    parser = _Parser(lists, locate, window, facts)
    node = parser.node(raw, path)
    return (node if not parser.problems else None), parser.problems


def condition_schema() -> dict[str, Any]:
    """The JSON Schema of a condition, derived from the fact and operator tables."""
    ref = {"$ref": "#/$defs/Condition"}
    alternatives: list[dict[str, Any]] = [
        {"type": "object", "properties": {"all": {"type": "array", "items": ref, "minItems": 1}},
         "required": ["all"], "additionalProperties": False},
        {"type": "object", "properties": {"any": {"type": "array", "items": ref, "minItems": 1}},
         "required": ["any"], "additionalProperties": False},
        {"type": "object", "properties": {"not": ref}, "required": ["not"],
         "additionalProperties": False},
    ]
    for name, fact in FACTS.items():
        tests = []
        for op, row in OPERATORS.items():
            if fact.kind not in row.kinds:
                continue
            properties = {op: row.operand_schema}
            properties.update({mod: {"type": ["string", "array"]} for mod in row.modifiers})
            tests.append({"type": "object", "properties": properties, "required": [op],
                          "additionalProperties": False, "description": row.doc})
        alternatives.append({
            "type": "object", "description": fact.doc, "required": [name],
            "additionalProperties": False, "properties": {name: {"oneOf": tests}},
        })
    return {"oneOf": alternatives}


def outline(node: Node, depth: int = 0) -> list[str]:
    """The tree as indented lines of words, for `compliance rules show`."""
    pad = "  " * depth
    if isinstance(node, Leaf):
        refs = f"   (from ${', $'.join(node.refs)})" if node.refs else ""
        return [f"{pad}{node.describe()}{refs}"]
    if isinstance(node, Not):
        return [f"{pad}not:", *outline(node.child, depth + 1)]
    head = "all of:" if isinstance(node, AllOf) else "any of:"
    body = [line for child in node.children for line in outline(child, depth + 1)]
    return [f"{pad}{head}", *body]
