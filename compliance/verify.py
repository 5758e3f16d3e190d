"""Rule examples and expected case findings run as tests, with coverage per rule and condition.

``compliance test`` is this module: every example a rule carries must get its
stated verdict, every case with a ``NAME.expected.yaml`` beside it must give
exactly the findings listed there, and while they run, every condition of
every rule in force records the outcomes it took. The coverage then says
which rules nothing reaches and which conditions never took both sides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from compliance.correlate import chains_in
from compliance.engine import Engine
from compliance.expectations import ExpectedCase
from compliance.models import Case, Transfer
from compliance.operators import Env, Outcome
from compliance.rules import Rule
from compliance.trace import Trace


@dataclass
class ConditionCoverage:
    """The outcomes one node of a rule's condition took."""

    path: str
    test: str
    line: int | None
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass
class RuleCoverage:
    """How often a rule was evaluated, what it gave, who reached it, and its conditions."""

    rule: Rule
    evaluations: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    reached_by: set[str] = field(default_factory=set)
    conditions: dict[str, ConditionCoverage] = field(default_factory=dict)

    @property
    def reached(self) -> bool:
        """Did any example or case get a finding (met or unknown) from this rule?"""
        return bool(self.outcomes[Outcome.MET.value] + self.outcomes[Outcome.UNKNOWN.value])


@dataclass(frozen=True)
class Failure:
    """An example or an expected case that did not hold."""

    source: str
    message: str


@dataclass
class TestRun:
    """What ``compliance test`` found: counts, failures, and coverage."""

    examples: int = 0
    cases: int = 0
    failures: list[Failure] = field(default_factory=list)
    coverage: dict[str, RuleCoverage] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.failures


def _walk(trace: Trace, path: str = "when") -> Iterator[tuple[str, Trace]]:
    yield path, trace
    for index, child in enumerate(trace.children):
        yield from _walk(child, f"{path}.{index}")


class Verifier:
    """Runs examples and expected cases over an engine, recording coverage as it goes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.run = TestRun(coverage={r.id: RuleCoverage(r) for r in engine.rules})

    def _record(self, transfer: Transfer, source: str) -> None:
        env = Env(transfer.date, self.engine.rates)
        for prepared in self.engine.prepared:
            if not prepared.rule.in_force_on(transfer.date):
                continue
            cover = self.run.coverage[prepared.rule.id]
            for item in transfer.items:
                trace = prepared.evaluate(transfer, item, env)
                cover.evaluations += 1
                cover.outcomes[trace.outcome.value] += 1
                if trace.outcome is not Outcome.NOT_MET:
                    cover.reached_by.add(source)
                for path, node in _walk(trace):
                    entry = cover.conditions.setdefault(path, ConditionCoverage(
                        path, node.test, node.leaf.span.line if node.leaf and node.leaf.span
                        else None))
                    entry.outcomes[node.outcome.value] += 1

    def _verdicts(self, transfer: Transfer) -> list[tuple[int, str, str]]:
        return [(index, rule_id, verdict.value)
                for index, rule_id, verdict in self.engine.verdicts(transfer)]

    def examples(self) -> None:
        """Check every example of every rule."""
        for rule in self.engine.rules:
            for example in rule.examples:
                self.run.examples += 1
                source = f"example {example.source}"
                self._record(example.transfer, source)
                got = {v for _, rule_id, v in self._verdicts(example.transfer)
                       if rule_id == rule.id} or {"clear"}
                if got != {example.verdict}:
                    self.run.failures.append(Failure(
                        str(example.source),
                        f"{rule.id}: example should be {example.verdict}, got "
                        + ", ".join(sorted(got))))

    def case(self, case: Case, file: str, expected: ExpectedCase | None) -> None:
        """Check one case against its expected findings (or only cover it, without any)."""
        self.run.cases += 1
        for transfer in case.transfers:
            self._record(transfer, f"case {case.case}")
        if expected is None:
            return
        ids = [t.id for t in case.transfers]
        if set(ids) != set(expected.transfers):
            missing = sorted(set(ids) - set(expected.transfers))
            extra = sorted(set(expected.transfers) - set(ids))
            self.run.failures.append(Failure(file, f"expected findings list transfers"
                                             f" {extra or '-'} not in the case, and omit"
                                             f" {missing or '-'}"))
        for transfer in case.transfers:
            wanted = sorted((e.item - 1, e.rule, e.verdict)
                            for e in expected.transfers.get(transfer.id, []))
            got = self._verdicts(transfer)
            if got != wanted:
                show = lambda rows: ", ".join(f"{r} {v} (item {i + 1})"  # noqa: E731
                                              for i, r, v in rows) or "none"
                self.run.failures.append(Failure(
                    f"{file}: {transfer.id}",
                    f"expected {show(wanted)}; got {show(got)}"))
            stated = expected.regimes.get(transfer.id)
            if stated:
                standing = {r.pack.pack: r.status.value
                            for r in self.engine.evaluate_transfer(transfer).regimes}
                for pack, status in sorted(stated.items()):
                    if standing.get(pack) != status:
                        self.run.failures.append(Failure(
                            f"{file}: {transfer.id}", f"expected {status} under {pack};"
                            f" got {standing.get(pack, 'no such pack loaded')}"))
        wanted_chains = sorted((c.rule, c.link, tuple(c.transfers)) for c in expected.chains)
        got_chains = sorted(chains_in(self.engine.evaluate_case(case).chains))
        if wanted_chains != got_chains:
            self.run.failures.append(Failure(file, f"expected chains {wanted_chains or 'none'};"
                                             f" got {got_chains or 'none'}"))
        for transfer_id in sorted(set(expected.regimes) - set(ids)):
            self.run.failures.append(Failure(file, f"regimes name transfer {transfer_id},"
                                             " which is not in the case"))


def verify(engine: Engine, cases: Iterable[tuple[Case, str, ExpectedCase | None]]) -> TestRun:
    """Run every example of the engine's rules and every case given; return the results."""
    verifier = Verifier(engine)
    verifier.examples()
    for case, file, expected in cases:
        verifier.case(case, file, expected)
    return verifier.run


def coverage_data(run: TestRun) -> dict[str, Any]:
    """The coverage as JSON-ready data, rules by id, conditions in tree order."""
    rules = []
    for rule_id in sorted(run.coverage):
        cover = run.coverage[rule_id]
        rules.append({
            "rule": rule_id,
            "evaluations": cover.evaluations,
            "outcomes": {o.value: cover.outcomes[o.value] for o in Outcome},
            "reached": cover.reached,
            "reached_by": sorted(cover.reached_by),
            "conditions": [{"path": c.path, "test": c.test, "line": c.line,
                            "outcomes": {o.value: c.outcomes[o.value] for o in Outcome}}
                           for c in cover.conditions.values()],
        })
    unreached = [r["rule"] for r in rules if not r["reached"]]
    return {"examples": run.examples, "cases": run.cases,
            "failures": [{"source": f.source, "message": f.message} for f in run.failures],
            "rules": rules, "unreached": unreached}


def render_text(run: TestRun, coverage: bool) -> str:
    """The results for a reader; with ``coverage``, the table of rules and conditions."""
    out = [f"FAIL {f.source}: {f.message}" for f in run.failures]
    status = "ok" if run.passed else "FAILED"
    out.append(f"{status}: {run.examples} example(s), {run.cases} case(s),"
               f" {len(run.failures)} failure(s)")
    if not coverage:
        return "\n".join(out) + "\n"
    data = coverage_data(run)
    out.append("")
    width = max(len(r["rule"]) for r in data["rules"]) if data["rules"] else 4
    out.append(f"{'RULE':<{width}}  EVALS    MET  UNKNOWN  NOT MET  CONDITIONS BOTH WAYS")
    for rule in data["rules"]:
        leaves = [c for c in rule["conditions"] if c["line"] is not None]
        both = sum(1 for c in leaves if c["outcomes"]["met"] and c["outcomes"]["not met"])
        o = rule["outcomes"]
        out.append(f"{rule['rule']:<{width}}  {rule['evaluations']:>5}  {o['met']:>5}"
                   f"  {o['unknown']:>7}  {o['not met']:>7}  {both}/{len(leaves)}")
    if data["unreached"]:
        out.append("")
        out.append("reached by no example or case: " + ", ".join(data["unreached"]))
    one_sided = [(r["rule"], c) for r in data["rules"] for c in r["conditions"]
                 if c["line"] is not None and r["evaluations"]
                 and not (c["outcomes"]["met"] and c["outcomes"]["not met"])]
    if one_sided:
        out.append("")
        out.append("conditions that never took both outcomes:")
        for rule_id, c in one_sided:
            took = ", ".join(k for k, v in c["outcomes"].items() if v) or "nothing"
            out.append(f"  {rule_id} line {c['line']}: {c['test']} (only {took})")
    return "\n".join(out) + "\n"

