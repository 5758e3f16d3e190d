"""A rule (id, title, citation, in force, verdict, because, when), an exemption, and their pack.

:class:`RulePackSpec` is the shape of a rule file, validated by pydantic and
published as a JSON Schema; :class:`Rule` is a validated rule with its parsed
condition tree and its source position; :class:`Exemption` turns findings of
the rules it names into ``exempted`` when its own tree is met; :class:`RuleSet`
is what the engine evaluates.

A pack may state its ``reach``: the condition under which its authority's
law reaches a transfer at all (an EU regulation reaches supplies from or
through the Union and by its nationals and companies; a UN resolution binds
every state and needs none). The loader joins the reach to every rule of the
pack, so each rule's tree states its own nexus, and the engine reports a
transfer that no rule of a pack reaches as outside that pack's regime.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from compliance.conditions import Node, condition_schema
from compliance.models import CountryCode, HsCode, IsoDate, Money, Text, Transfer
from compliance.source import Span

RULE_ID_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"


class Verdict(StrEnum):
    """What a rule says when all its conditions are met.

    ``violation``: the transfer is prohibited. ``review``: the conditions are met
    but whether the prohibition reaches the goods needs a human reading (a
    ceremonial dirk under an arms embargo, for one).
    """

    VIOLATION = "violation"
    REVIEW = "review"


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Citation(_Spec):
    """The legal source of a rule: instrument and provision, with a link and how sure we are."""

    instrument: Text = Field(description='The legal instrument, e.g. "UNSCR 2397 (2017)"')
    provision: Text = Field(description='The paragraph or article, e.g. "paragraph 7"')
    url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    confidence: Literal["verified", "secondary", "unverified"] = Field(
        description="verified: read in the official text; secondary: from a reliable summary;"
        " unverified: still to be checked against the official text",
    )
    note: str | None = None

    @property
    def text(self) -> str:
        """The citation as one line: ``UNSCR 2397 (2017), paragraph 7``."""
        return f"{self.instrument}, {self.provision}"


class InForce(_Spec):
    """The days a rule applies: from its first day, until (not including) the day it ended."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    start: IsoDate = Field(alias="from")
    until: IsoDate | None = None

    @model_validator(mode="after")
    def _ordered(self) -> InForce:
        if self.until is not None and self.until <= self.start:
            raise PydanticCustomError(
                "empty_window", "the rule ends ({until}) on or before it starts ({start})",
                {"until": str(self.until), "start": str(self.start), "path": ("until",)},
            )
        return self

    @property
    def end(self) -> dt.date:
        """The first day no longer in force (the far future while still in force)."""
        return self.until or dt.date.max

    def covers(self, day: dt.date) -> bool:
        # not ``day < self.end``: a window still open covers the last day a date can be
        return self.start <= day and (self.until is None or day < self.until)

    def __str__(self) -> str:
        return f"from {self.start}" + (f" until {self.until}" if self.until else "")


def _rule_id(value: str) -> str:
    import re

    if not re.match(RULE_ID_PATTERN, value):
        raise PydanticCustomError(
            "invalid_rule_id",
            "'{id}' is not a rule id: dotted lower-case words such as un.dprk.luxury.vehicles",
            {"id": value},
        )
    return value


RawCondition = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "description": "A condition: all, any, not, or a fact"}),
]


class ExampleSpec(_Spec):
    """A transfer a rule must judge in a stated way: a test that travels with the rule.

    ``transfer`` follows the case-file contract, but every field may be left
    out: the defaults of :func:`example_transfer` fill the rest.
    """

    verdict: Literal["violation", "review", "undetermined", "exempted", "clear"]
    transfer: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None


EXAMPLE_PARTY = {"name": "Example party", "country": "CH"}


def example_transfer(given: dict[str, Any], start: dt.date, index: int) -> dict[str, Any]:
    """An example's transfer with the defaults filled in.

    Defaults: dated the day the rule took effect, a sale, between parties in
    Switzerland (``CH``), of one item described as "Goods". Supplier and
    recipient are merged field by field, so ``recipient: {country: KP}`` is enough.
    """
    merged: dict[str, Any] = {"id": f"example-{index + 1}", "date": start.isoformat(),
                              "type": "sale", "items": [{"description": "Goods"}]}
    for key, value in given.items():
        merged[key] = value
    for side in ("supplier", "recipient"):
        stated = given.get(side)
        merged[side] = {**EXAMPLE_PARTY, **stated} if isinstance(stated, dict) else \
            stated if side in given else dict(EXAMPLE_PARTY)
    return merged


class RuleSpec(_Spec):
    """One rule as written in a rule file."""

    id: Annotated[str, AfterValidator(_rule_id)]
    title: Text
    citation: Citation
    binds: Text = Field(description="Who the prohibition binds, e.g. all UN Member States")
    in_force: InForce
    verdict: Verdict
    because: Text = Field(description="The prohibition in plain words")
    when: RawCondition
    examples: list[ExampleSpec] = Field(default_factory=list)
    notes: str | None = None


class ExemptionSpec(_Spec):
    """An exemption as written in a rule file: what it exempts, and when."""

    id: Annotated[str, AfterValidator(_rule_id)]
    title: Text
    citation: Citation
    exempts: list[Annotated[str, AfterValidator(_rule_id)]] = Field(
        min_length=1, description="Ids of the rules of this pack whose findings it exempts")
    in_force: InForce
    because: Text = Field(description="The exemption in plain words")
    when: RawCondition = Field(description="When the exemption applies; may read the"
                               " licence facts (licence.issuer, licence.reference,"
                               " licence.covers), tested against each licence in turn")
    notes: str | None = None


LINK_PATTERN = (r"^(?:(?:item|supplier|recipient)\.identifiers\.[a-z0-9_]+"
                r"|(?:supplier|recipient)\.name)$")
"""What records of a correlation share: an identifier of the item or a party, or a party."""


class StepSpec(_Spec):
    """One step of a sequence: the records that meet ``when`` at that point of the chain."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    when: RawCondition


class TotalSpec(_Spec):
    """A cumulative value over the records of a window: their sum must exceed ``gt``."""

    fact: Literal["total_value", "unit_value"] = "total_value"
    gt: dict[str, Any] = Field(description="The threshold: {amount, currency}")


class CorrelationSpec(_Spec):
    """A rule over several transfers that share a link, within a window of days.

    Either a ``sequence`` of steps met in date order (goods exported to a third
    country, then delivered to the DPRK) or ``each`` with a ``total`` (several
    consignments to one consignee whose values together cross a threshold).
    """

    id: Annotated[str, AfterValidator(_rule_id)]
    title: Text
    citation: Citation
    binds: Text
    in_force: InForce
    verdict: Verdict
    because: Text
    link: Annotated[str, Field(pattern=LINK_PATTERN)] | list[
        Annotated[str, Field(pattern=LINK_PATTERN)]] = Field(
        description="What the records share: item.identifiers.vin, supplier.identifiers.imo,"
                    " recipient.name... With a list, each record is joined on the first of"
                    " them it states")
    within_days: int = Field(gt=0, le=3660, description="The most days from first to last record")
    sequence: list[StepSpec] | None = Field(None, min_length=2, max_length=6)
    each: RawCondition | None = None
    total: TotalSpec | None = None
    notes: str | None = None

    @model_validator(mode="after")
    def _one_pattern(self) -> CorrelationSpec:
        if (self.sequence is None) == (self.each is None or self.total is None):
            raise PydanticCustomError(
                "correlation_pattern",
                "a correlation has either a sequence of steps, or each and total",
                {"path": ("sequence",)})
        return self


class ListsSpec(_Spec):
    """Named lists, declared once and used by many rules as ``$name``."""

    countries: dict[str, list[CountryCode]] = Field(default_factory=dict)
    hs: dict[str, list[HsCode]] = Field(default_factory=dict)
    keywords: dict[str, list[Text]] = Field(default_factory=dict)


class RulePackSpec(_Spec):
    """A rule file: a pack of rules from one authority and regime, with its named lists."""

    pack: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")]
    title: Text
    authority: Text
    binds: Text | None = Field(None, description="Whom the pack's law binds, in words")
    reach: RawCondition | None = Field(
        None, description="The condition under which the pack's law reaches a transfer;"
        " joined to every rule. Leave it out for law that binds every state (UN)")
    lists: ListsSpec = Field(default_factory=ListsSpec)
    rules: list[RuleSpec] = Field(min_length=1)
    exemptions: list[ExemptionSpec] = Field(default_factory=list)
    correlations: list[CorrelationSpec] = Field(default_factory=list)


def rule_file_schema() -> dict[str, Any]:
    """The JSON Schema of a rule file, conditions included."""
    schema = RulePackSpec.model_json_schema()
    definitions = schema.setdefault("$defs", {})
    definitions["Condition"] = condition_schema()
    definitions["RuleSpec"]["properties"]["when"] = {"$ref": "#/$defs/Condition"}
    definitions["ExemptionSpec"]["properties"]["when"] = {"$ref": "#/$defs/Condition"}
    definitions["StepSpec"]["properties"]["when"] = {"$ref": "#/$defs/Condition"}
    definitions["CorrelationSpec"]["properties"]["each"] = {
        "anyOf": [{"$ref": "#/$defs/Condition"}, {"type": "null"}], "default": None}
    schema["properties"]["reach"] = {"anyOf": [{"$ref": "#/$defs/Condition"}, {"type": "null"}],
                                     "default": None,
                                     "description": schema["properties"]["reach"].get(
                                         "description", "")}
    schema["title"] = "Rule file"
    return schema


@dataclass(frozen=True, slots=True)
class Example:
    """A validated example of a rule: the transfer and the verdict it must get."""

    verdict: str  # violation, review, undetermined, or clear
    transfer: Transfer
    source: Span
    note: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """A validated rule with its condition tree, ready to be compiled."""

    id: str
    title: str
    citation: Citation
    binds: str
    in_force: InForce
    verdict: Verdict
    because: str
    when: Node
    pack: str
    source: Span
    notes: str | None = None
    examples: tuple[Example, ...] = ()

    def __repr__(self) -> str:
        return f"<Rule {self.id} ({self.citation.text})>"

    def in_force_on(self, day: dt.date) -> bool:
        return self.in_force.covers(day)


@dataclass(frozen=True, slots=True, eq=False)
class Exemption:
    """A validated exemption: the rules it reaches and the tree that decides it."""

    id: str
    title: str
    citation: Citation
    exempts: tuple[str, ...]
    in_force: InForce
    because: str
    when: Node
    pack: str
    source: Span
    notes: str | None = None

    def __repr__(self) -> str:
        return f"<Exemption {self.id} ({self.citation.text})>"


@dataclass(frozen=True, slots=True, eq=False)
class Correlation:
    """A validated correlation rule: its steps, or its per-record test and its total."""

    id: str
    title: str
    citation: Citation
    binds: str
    in_force: InForce
    verdict: Verdict
    because: str
    link: tuple[str, ...]
    within_days: int
    steps: tuple[tuple[str, Node], ...]
    each: Node | None
    total: tuple[str, Money] | None
    pack: str
    source: Span
    notes: str | None = None

    def __repr__(self) -> str:
        return f"<Correlation {self.id} ({self.citation.text})>"

    @property
    def window(self) -> dt.timedelta:
        return dt.timedelta(days=self.within_days)


def link_value(links: tuple[str, ...], transfer: Transfer, item_index: int) -> str | None:
    """What a record shares on the first link it states, as ``name:value`` (``vin:WDD...``).

    None when it states none of them: such a record takes part in no chain.
    """
    for link in links:
        owner, _, rest = link.partition(".")
        name = rest.rsplit(".", 1)[-1]
        if owner == "item":
            value = transfer.items[item_index].identifiers.get(name)
        else:
            party = transfer.supplier if owner == "supplier" else transfer.recipient
            value = party.name if rest == "name" else party.identifiers.get(name)
        if value is not None:
            return f"{name}:{value}"
    return None


@dataclass(frozen=True, slots=True)
class RulePack:
    """The header of a loaded rule file, with its reach (None: it binds every state)."""

    pack: str
    title: str
    authority: str
    file: str
    binds: str | None = None
    reach: Node | None = None


class RuleSet:
    """Rules from one or more packs, ordered by id, with lookup by id."""

    def __init__(self, rules: Sequence[Rule], packs: Sequence[RulePack] = (),
                 exemptions: Sequence[Exemption] = (),
                 correlations: Sequence[Correlation] = ()) -> None:
        self.rules: tuple[Rule, ...] = tuple(sorted(rules, key=lambda r: r.id))
        self.packs: tuple[RulePack, ...] = tuple(sorted(packs, key=lambda p: (p.pack, p.file)))
        self._by_id = {rule.id: rule for rule in self.rules}
        # an exemption travels with the rules it names: a subset keeps only those it can reach
        self.exemptions: tuple[Exemption, ...] = tuple(sorted(
            (e for e in exemptions if any(r in self._by_id for r in e.exempts)),
            key=lambda e: e.id))
        self.correlations: tuple[Correlation, ...] = tuple(sorted(correlations,
                                                                  key=lambda c: c.id))

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._by_id

    def __repr__(self) -> str:
        return f"<RuleSet {len(self.rules)} rules from {len(self.packs)} packs>"

    def get(self, rule_id: str) -> Rule | None:
        return self._by_id.get(rule_id)

    def exemptions_for(self, rule_id: str) -> tuple[Exemption, ...]:
        """The exemptions that may turn a finding of ``rule_id`` into ``exempted``."""
        return tuple(e for e in self.exemptions if rule_id in e.exempts)

    def subset(self, rules: Sequence[Rule]) -> RuleSet:
        """These rules, with the packs and exemptions that go with them."""
        return RuleSet(rules, self.packs, self.exemptions, self.correlations)
