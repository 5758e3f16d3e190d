"""Render an evaluation as a report: JSON (with its published schema) and text for a terminal.

The JSON report lists every transfer of every case, with its findings or
none. It is deterministic: the same cases and rules give the same bytes (no
time stamps, no absolute paths of the bundled packs, keys in a fixed order).
"""

from __future__ import annotations

import json
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field

from compliance import reference
from compliance._version import __version__
from compliance.correlate import ChainFinding
from compliance.engine import (
    SEVERITY,
    Evaluation,
    Exempting,
    Finding,
    FindingVerdict,
    RegimeStatus,
    TransferResult,
)
from compliance.operators import show_value
from compliance.trace import lines, mark, printed_note, to_data

REPORT_FORMAT = "compliance-report/2"
"""Version 2 added each transfer's `regimes`, `exempted_by` on findings and each case's `chains`."""


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartyDoc(_Doc):
    name: str
    country: str
    role: str | None = None


class ItemDoc(_Doc):
    index: int = Field(description="Position of the item in the transfer, from 1")
    description: str
    hs_code: str | None
    hs_description: str | None = None


class LegalDoc(_Doc):
    instrument: str
    provision: str
    url: str | None
    confidence: str


class LicenceDoc(_Doc):
    issuer: str
    reference: str
    covers: str | None = None


class ExemptionDoc(_Doc):
    exemption: str
    title: str
    citation: str
    legal: LegalDoc
    licence: LicenceDoc | None = Field(description="The licence the exemption was met with,"
                                       " if it reads licences")
    verdict_without: FindingVerdict = Field(description="The verdict had it not applied")
    explanation: dict[str, Any]


class FindingDoc(_Doc):
    rule: str
    title: str
    verdict: FindingVerdict
    item: ItemDoc
    citation: str = Field(description='Instrument and provision, e.g. "UNSCR 2397 (2017),'
                                      ' paragraph 7"')
    legal: LegalDoc
    binds: str
    because: str
    missing: list[str] = Field(description="Facts that would settle an undetermined finding")
    clears_if: list[str] = Field(description="Alternative facts that would have cleared it")
    explanation: dict[str, Any] = Field(
        description="The condition tree with each node's outcome; each test names the fact it"
        " read and the value found")
    exempted_by: ExemptionDoc | None = Field(
        None, description="For an exempted finding: the exemption, its licence and why")


class RegimeDoc(_Doc):
    pack: str
    status: RegimeStatus = Field(description="findings, no-findings, outside (the pack's law"
                                 " does not reach the transfer), undetermined (whether it does"
                                 " turns on facts not stated) or not-in-force")
    note: str = ""


class TransferDoc(_Doc):
    id: str
    date: str
    type: str
    supplier: PartyDoc
    recipient: PartyDoc
    route: list[str]
    judged_on: str = Field(description="The date that decided which rules were in force")
    rules_in_force: int
    status: str = Field(description="Most severe verdict of the findings, or no-findings")
    regimes: list[RegimeDoc] = Field(description="The transfer's standing under each pack")
    findings: list[FindingDoc]


class ChainRecordDoc(_Doc):
    step: str = Field(description="The step of the correlation the record met (or each)")
    transfer: str
    date: str
    item: ItemDoc
    route: list[str]
    value: str | None = Field(None, description="For a total: the record's value counted")
    explanation: dict[str, Any]


class ChainDoc(_Doc):
    rule: str
    title: str
    verdict: str
    citation: str
    legal: LegalDoc
    because: str
    link: str = Field(description="The value the records share (a VIN, an IMO number, a name)")
    final_destination: str
    total: str | None = None
    records: list[ChainRecordDoc]


class CaseDoc(_Doc):
    case: str
    title: str | None
    file: str | None
    sources: list[str]
    transfers: list[TransferDoc]
    chains: list[ChainDoc] = Field(description="Findings of correlation rules across the"
                                   " transfers of the case: chains and totals")


class PackDoc(_Doc):
    pack: str
    title: str
    file: str


class SummaryDoc(_Doc):
    cases: int
    transfers: int
    findings: dict[str, int]
    transfers_by_status: dict[str, int]
    chains: int = 0


class ReportDoc(_Doc):
    """The JSON report of ``compliance check --format json``."""

    model_config = ConfigDict(extra="forbid", title="Compliance report")

    format: str = Field(REPORT_FORMAT, description="Report format and version")
    tool: dict[str, str]
    as_of: str | None
    packs: list[PackDoc]
    rules: int
    summary: SummaryDoc
    cases: list[CaseDoc]


def report_schema() -> dict[str, Any]:
    """The JSON Schema of the report."""
    return ReportDoc.model_json_schema()


def _legal(citation: Any) -> LegalDoc:
    return LegalDoc(instrument=citation.instrument, provision=citation.provision,
                    url=citation.url, confidence=citation.confidence)


def _exemption_doc(exempting: Exempting) -> ExemptionDoc:
    e, licence = exempting.exemption, exempting.licence
    return ExemptionDoc(
        exemption=e.id, title=e.title, citation=exempting.citation, legal=_legal(e.citation),
        licence=None if licence is None else LicenceDoc(
            issuer=licence.issuer, reference=licence.reference, covers=licence.covers),
        verdict_without=exempting.verdict, explanation=to_data(exempting.trace))


def _finding_doc(finding: Finding) -> FindingDoc:
    rule = finding.rule
    return FindingDoc(
        rule=rule.id, title=rule.title, verdict=finding.verdict,
        item=_item_doc(finding.item, finding.item_index),
        citation=finding.citation,
        legal=_legal(rule.citation),
        binds=rule.binds, because=rule.because, missing=list(finding.missing),
        clears_if=list(finding.clears_if), explanation=to_data(finding.trace),
        exempted_by=_exemption_doc(finding.exempted_by) if finding.exempted_by else None,
    )


def _party(party: Any) -> PartyDoc:
    return PartyDoc(name=party.name, country=party.country, role=party.role)


def _transfer_doc(result: TransferResult) -> TransferDoc:
    t = result.transfer
    return TransferDoc(
        id=t.id, date=t.date.isoformat(), type=t.type.value, supplier=_party(t.supplier),
        recipient=_party(t.recipient), route=list(t.route),
        judged_on=result.judged_on.isoformat(), rules_in_force=result.rules_in_force,
        status=result.status,
        regimes=[RegimeDoc(pack=r.pack.pack, status=r.status, note=r.note)
                 for r in result.regimes],
        findings=[_finding_doc(f) for f in result.findings],
    )


def summarise(evaluation: Evaluation) -> SummaryDoc:
    """Counts of cases, transfers, findings per verdict and transfers per status."""
    counts = {v.value: 0 for v in FindingVerdict}
    statuses = {**{v.value: 0 for v in FindingVerdict}, "no-findings": 0}
    for result in evaluation.cases:
        for transfer in result.transfers:
            statuses[transfer.status] += 1
            for finding in transfer.findings:
                counts[finding.verdict.value] += 1
    return SummaryDoc(cases=len(evaluation.cases), transfers=sum(statuses.values()),
                      findings=counts, transfers_by_status=statuses,
                      chains=sum(len(result.chains) for result in evaluation.cases))


def _item_doc(item: Any, index: int) -> ItemDoc:
    entry = reference.hs_entry(item.hs_code) if item.hs_code else None
    return ItemDoc(index=index + 1, description=item.description, hs_code=item.hs_code,
                   hs_description=entry.description if entry else None)


def chain_doc(finding: ChainFinding) -> ChainDoc:
    """One correlation finding as report data."""
    rule = finding.correlation
    return ChainDoc(
        rule=rule.id, title=rule.title, verdict=finding.verdict.value, citation=finding.citation,
        legal=_legal(rule.citation), because=rule.because, link=finding.link,
        final_destination=finding.final_destination,
        total=str(finding.total) if finding.total is not None else None,
        records=[ChainRecordDoc(
            step=link.step, transfer=link.record.transfer.id,
            date=link.record.day.isoformat(),
            item=_item_doc(link.record.item, link.record.item_index),
            route=list(link.record.transfer.route),
            value=str(link.value) if link.value is not None else None,
            explanation=to_data(link.trace)) for link in finding.chain])


def build(evaluation: Evaluation) -> ReportDoc:
    """The report document of an evaluation."""
    cases = [
        CaseDoc(case=result.case.case, title=result.case.title, file=result.file,
                sources=list(result.case.sources),
                transfers=[_transfer_doc(t) for t in result.transfers],
                chains=[chain_doc(c) for c in result.chains])
        for result in evaluation.cases
    ]
    return ReportDoc(
        tool={"name": "compliance", "version": __version__},
        as_of=evaluation.as_of.isoformat() if evaluation.as_of else None,
        packs=[PackDoc(pack=p.pack, title=p.title, file=p.file) for p in evaluation.rules.packs],
        rules=len(evaluation.rules),
        summary=summarise(evaluation),
        cases=cases,
    )


def to_json(evaluation: Evaluation) -> str:
    """The report as JSON text, two-space indented, ending with a newline."""
    data = build(evaluation).model_dump(mode="json")
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# -- text ---------------------------------------------------------------------------------

_STYLE = {"violation": "bold red", "review": "bold magenta", "undetermined": "bold yellow",
          "exempted": "bold cyan", "no-findings": "green", "met": "green", "not met": "red",
          "unknown": "yellow"}


def render_text(evaluation: Evaluation, stream: IO[str], color: bool | None = None,
                width: int | None = None) -> None:
    """Write the report for a reader: per transfer, each finding with citation and explanation.

    Colour is used only when ``stream`` is a terminal (or when ``color`` says so).
    """
    from rich.console import Console
    from rich.text import Text

    terminal = color if color is not None else stream.isatty()
    console = Console(file=stream, force_terminal=terminal, no_color=not terminal,
                      highlight=False, soft_wrap=True, width=width or (None if terminal else 100))

    def say(*parts: tuple[str, str] | str, indent: int = 0) -> None:
        text = Text(" " * indent)
        for part in parts:
            text.append(*(part if isinstance(part, tuple) else (part,)))
        console.print(text)

    for result in evaluation.cases:
        title = f": {result.case.title}" if result.case.title else ""
        say((f"{result.case.case}{title}", "bold"))
        if result.file:
            say(("file ", "dim"), result.file, indent=2)
        for outcome in result.transfers:
            _render_transfer(say, outcome)
        for chain in result.chains:
            render_chain(say, chain)
        say()
    doc = summarise(evaluation)
    counts = ", ".join(f"{n} {v}" for v, n in doc.findings.items())
    statuses = ", ".join(f"{n} {s}" for s, n in doc.transfers_by_status.items() if n)
    say(("summary: ", "bold"), f"{doc.cases} case(s), {doc.transfers} transfer(s)",
        f" ({statuses}); findings: {counts}; chains: {doc.chains}")


def render_chain(say: Any, finding: ChainFinding, indent: int = 2) -> None:
    """A correlation finding for a reader: rule, citation, link, then each record and step."""
    verdict = finding.verdict.value
    say((f"CHAIN {verdict.upper()}", _STYLE[verdict]), "  ", (finding.correlation.id, "bold"),
        "  ", finding.citation, indent=indent)
    total = f"; total {finding.total}" if finding.total is not None else ""
    say(finding.correlation.title, f" (link {finding.link}; final destination"
        f" {finding.final_destination}{total})", indent=indent + 2)
    for link in finding.chain:
        record = link.record
        value = f"  {link.value}" if link.value is not None else ""
        say((f"{link.step}: ", "bold"), f"{record.transfer.id}  {record.day}  ",
            f"{record.transfer.supplier} → {record.transfer.recipient}  route"
            f" {' → '.join(record.transfer.route)}  item {record.item_index + 1}:"
            f" {record.item.description}{value}", indent=indent + 2)
        _render_trace(say, link.trace, indent + 4)


def _render_transfer(say: Any, result: TransferResult) -> None:
    t = result.transfer
    say(("transfer ", "bold"), (t.id, "bold"), f"  {t.date}  {t.type.value}  ",
        f"{t.supplier} → {t.recipient}  route {' → '.join(t.route)}", indent=2)
    outside = [r for r in result.regimes if r.status is RegimeStatus.OUTSIDE]
    if outside:
        say(("outside ", "dim"), ", ".join(r.pack.pack for r in outside),
            (": their law does not reach this transfer (not a finding of compliance)", "dim"),
            indent=4)
    for regime in result.regimes:
        if regime.status is RegimeStatus.UNDETERMINED:
            say(("reach undetermined ", "yellow"), regime.pack.pack, (f": {regime.note}", "dim"),
                indent=4)
    if not result.findings:
        reached = [r.pack.pack for r in result.regimes if r.status is RegimeStatus.NO_FINDINGS]
        say(("no findings", _STYLE["no-findings"]),
            f" ({result.rules_in_force} rules in force on {result.judged_on}; none engaged"
            + (f"; reached by {', '.join(reached)}" if reached else "") + ")", indent=4)
        return
    findings = sorted(result.findings,
                      key=lambda f: (f.item_index, SEVERITY[f.verdict], f.rule.id))
    current = -1
    for finding in findings:
        if finding.item_index != current:
            current = finding.item_index
            item = finding.item
            code = f" [HS {item.hs_code}]" if item.hs_code else " [no HS code]"
            say(f"item {current + 1}: {item.description}{code}", indent=4)
        _render_finding(say, finding)


def _render_finding(say: Any, finding: Finding) -> None:
    verdict = finding.verdict.value
    say((verdict.upper(), _STYLE[verdict]), "  ", (finding.rule.id, "bold"), "  ",
        finding.citation, indent=6)
    say(finding.rule.title, indent=8)
    _render_trace(say, finding.trace, 8)
    if finding.missing:
        say(("missing: ", "yellow"), ", ".join(finding.missing), indent=8)
    for alternative in finding.clears_if[:3]:
        say(("would clear if: ", "dim"), alternative, indent=8)
    exempting = finding.exempted_by
    if exempting is not None:
        licence = exempting.licence
        held = f" with licence {licence.reference} ({licence.issuer})" if licence else ""
        say(("exempted by ", _STYLE["exempted"]), (exempting.exemption.id, "bold"), "  ",
            exempting.citation, held, f"; without it: {exempting.verdict.value}", indent=8)
        _render_trace(say, exempting.trace, 10)


def _render_trace(say: Any, trace: Any, indent: int) -> None:
    for depth, node in lines(trace):
        parts: list[tuple[str, str] | str] = [(mark(node.outcome), _STYLE[node.outcome.value]),
                                              f" {node.test}"]
        if node.leaf is not None:
            parts.append((f"   {node.leaf.fact} = {show_value(node.value)}", "dim"))
            if note := printed_note(node):
                parts.append((f"  ({note})", "dim"))
        say(*parts, indent=indent + 2 * depth)


class Report:
    """The result of :func:`compliance.check`: findings to iterate, and renderings."""

    def __init__(self, evaluation: Evaluation) -> None:
        self.evaluation = evaluation

    def __repr__(self) -> str:
        counts = self.counts()
        return "<Report " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ">"

    @property
    def findings(self) -> list[Finding]:
        """Every finding, case by case and transfer by transfer, in file order."""
        return [f for case in self.evaluation.cases for t in case.transfers for f in t.findings]

    def _with(self, verdict: FindingVerdict) -> list[Finding]:
        return [f for f in self.findings if f.verdict is verdict]

    @property
    def violations(self) -> list[Finding]:
        return self._with(FindingVerdict.VIOLATION)

    @property
    def reviews(self) -> list[Finding]:
        return self._with(FindingVerdict.REVIEW)

    @property
    def undetermined(self) -> list[Finding]:
        return self._with(FindingVerdict.UNDETERMINED)

    @property
    def exempted(self) -> list[Finding]:
        return self._with(FindingVerdict.EXEMPTED)

    def counts(self) -> dict[str, int]:
        """Findings per verdict, every verdict listed."""
        return summarise(self.evaluation).findings

    def to_json(self) -> str:
        """The report as JSON, valid against :func:`report_schema`."""
        return to_json(self.evaluation)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return build(self.evaluation).model_dump(mode="json")

    def write_text(self, stream: IO[str], color: bool | None = None) -> None:
        """Write the report for a reader (colour only on a terminal unless asked)."""
        render_text(self.evaluation, stream, color)

    @property
    def chains(self) -> list[ChainFinding]:
        """Every finding of a correlation rule, case by case."""
        return [c for case in self.evaluation.cases for c in case.chains]

    def exit_status(self, fail_on: frozenset[str] = frozenset({"violation"})) -> int:
        """1 if any finding or chain has a verdict in ``fail_on``, else 0."""
        verdicts = [f.verdict.value for f in self.findings] + \
            [c.verdict.value for c in self.chains]
        return 1 if any(v in fail_on for v in verdicts) else 0
