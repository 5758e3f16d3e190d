"""Sanctions rules as data, checked against records of goods transfers, with explained findings.

>>> import compliance
>>> rules = compliance.load_rules()                     # the bundled packs, or a path
>>> case = compliance.load_case("cases/pyongyang-summit-2024.yaml")
>>> report = compliance.check(case, rules)
>>> [f.rule.id for f in report.violations][:1]
['un.dprk.luxury.vehicles']
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from compliance._version import __version__
from compliance.correlate import ChainFinding, Correlator
from compliance.engine import Engine, Evaluation, Finding, FindingVerdict
from compliance.errors import (
    BadConstantError,
    CaseFileError,
    ComplianceError,
    Diagnostic,
    InputError,
    MappingError,
    RuleFileError,
    UnknownColumnError,
    UsageError,
)
from compliance.loader import LoadedCase, load_case, load_cases, load_rules
from compliance.models import Case, Item, Licence, Money, Party, Transfer, TransferType
from compliance.reference import EcbRates, ExchangeRates
from compliance.reports import Report, report_schema
from compliance.rules import Rule, RuleSet, Verdict, rule_file_schema

__all__ = [
    "BadConstantError",
    "Case",
    "CaseFileError",
    "ChainFinding",
    "ComplianceError",
    "Correlator",
    "Diagnostic",
    "EcbRates",
    "Engine",
    "Evaluation",
    "ExchangeRates",
    "Finding",
    "FindingVerdict",
    "InputError",
    "Item",
    "Licence",
    "LoadedCase",
    "MappingError",
    "Money",
    "Party",
    "Report",
    "Rule",
    "RuleFileError",
    "RuleSet",
    "Transfer",
    "TransferType",
    "UnknownColumnError",
    "UsageError",
    "Verdict",
    "__version__",
    "check",
    "load_case",
    "load_cases",
    "load_rules",
    "schema",
    "screen",
]

CaseLike = Case | LoadedCase | str | Path


def check(
    cases: CaseLike | Iterable[CaseLike],
    rules: RuleSet | str | Path | None = None,
    *,
    as_of: dt.date | None = None,
    rates: ExchangeRates | None = None,
) -> Report:
    """Check one case or several against rules (the bundled packs when ``rules`` is None).

    ``cases`` may be :class:`Case` objects, loaded cases, or paths to case files
    or folders. ``as_of`` judges every transfer by the rules in force on that
    date instead of its own (for what-if runs).
    """
    if not isinstance(rules, RuleSet):
        rules = load_rules(rules)
    items: list[Any] = [cases] if isinstance(cases, Case | LoadedCase | str | Path) \
        else list(cases)
    pairs: list[tuple[Case, str | None]] = []
    for entry in items:
        if isinstance(entry, Case):
            pairs.append((entry, None))
        elif isinstance(entry, LoadedCase):
            pairs.append((entry.case, entry.file))
        else:
            pairs.extend((c.case, c.file) for c in load_cases([entry]))
    return Report(Engine(rules, rates).evaluate(pairs, as_of))


def screen(
    source: str | Path | Any,
    rules: RuleSet | str | Path | None = None,
    *,
    mapping: str | Path | None = None,
    out: str | Path | None = None,
    rejects: str | Path | None = None,
    as_of: dt.date | None = None,
    keep: bool = True,
    explain: bool = False,
    jobs: int = 1,
) -> Any:
    """Screen bulk trade records (CSV, JSONL, Parquet, or a data frame) in one vectorised pass.

    ``source`` may be a file, a data frame, a folder of records files or a
    list of paths (each file screened on its own, findings led by ``file``).

    Needs the ``screen`` extra (DuckDB). Returns a ``ScreenResult``: counts of
    rows read, screened and rejected, findings per rule and verdict, and the
    findings (and rejected rows) themselves when they are not written to a
    file, unless ``keep`` is False. With ``explain``, each finding also
    carries its explanation, the facts that would settle it and what would
    clear it. ``jobs`` processes read a JSONL file's lines (more than one:
    call it under ``if __name__ == "__main__":``). See ``docs/screening.md``.
    """
    from compliance.loader import load_layout, mapping_problems
    from compliance.screening import screen as run

    if not isinstance(rules, RuleSet):
        rules = load_rules(rules)
    layout = load_layout(mapping) if mapping is not None else None
    try:
        return run(source, rules, layout=layout, out=out, rejects=rejects, as_of=as_of,
                   keep=keep, explain=explain, jobs=jobs)
    except MappingError as exc:  # said at the mapping's lines that are wrong
        if mapping is None:
            raise
        records = exc.records or (str(source) if isinstance(source, str | Path)
                                  else "the data frame")
        raise mapping_problems(mapping, exc, records) from None


def schema(name: str) -> dict[str, Any]:
    """The JSON Schema of ``"cases"`` (case files), ``"rules"`` (rule files) or ``"report"``."""
    if name == "cases":
        return Case.model_json_schema()
    if name == "rules":
        return rule_file_schema()
    if name == "report":
        return report_schema()
    raise UsageError(f"no schema named '{name}'", "one of: cases, rules, report")
