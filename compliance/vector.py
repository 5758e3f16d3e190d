"""Condition trees compiled to one SQL query (DuckDB) that judges a whole table of records.

The same tree, the same operator table (each row's ``sql`` form) and the same
three values: SQL's NULL is unknown, and AND, OR and NOT on NULL follow the
Kleene tables the per-record engine uses. A rule whose tree (or one of whose
exemptions) has a test with no SQL form is named at compile time and left to
the per-record engine. An exemption that reads licences is tested against
each licence of the record in a lambda over the ``licences`` list, as the
engine tests one licence at a time.

The records relation has one row per item, with these columns (see
:data:`COLUMNS`); amounts are converted into each threshold's currency
through the ECB reference rates, joined as of the record's date (the nearest
earlier published rate within a week, as the per-record engine does).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from compliance.conditions import AllOf, AnyOf, Leaf, Node, Not, leaves
from compliance.facts import FACTS, Kind
from compliance.gates import CountryGate, country_gate, union_gate, within_gate
from compliance.models import Money
from compliance.operators import OPERATORS, sql_text
from compliance.rules import Exemption, Rule, RuleSet

COLUMNS = {
    "row": "BIGINT", "item": "INTEGER", "transfer_id": "VARCHAR", "date": "DATE",
    "type": "VARCHAR", "supplier_name": "VARCHAR", "supplier_country": "VARCHAR",
    "supplier_role": "VARCHAR", "recipient_name": "VARCHAR", "recipient_country": "VARCHAR",
    "recipient_role": "VARCHAR", "origin": "VARCHAR", "destination": "VARCHAR",
    "via": "VARCHAR[]", "hs_code": "VARCHAR", "made_in": "VARCHAR", "description": "VARCHAR",
    "quantity": "DECIMAL(38,6)", "unit_amount": "DECIMAL(38,6)", "unit_currency": "VARCHAR",
    "licences": "STRUCT(issuer VARCHAR, reference VARCHAR, covers VARCHAR)[]",
}
"""The normalised records relation that the compiled query reads."""

_FACT_SQL = {
    "destination": "destination", "origin": "origin", "via": "via",
    "route": "list_concat([origin], via, [destination])",
    "supplier.country": "supplier_country", "supplier.name": "supplier_name",
    "supplier.role": "supplier_role", "recipient.country": "recipient_country",
    "recipient.name": "recipient_name", "recipient.role": "recipient_role",
    "type": "type", "date": "date", "hs_code": "hs_code", "made_in": "made_in",
    "description": "description", "quantity": "quantity",
}
_LICENCE_SQL = {"licence.issuer": "issuer", "licence.reference": "reference",
                "licence.covers": "covers"}
MAX_RATE_GAP_DAYS = 7


class NotVectorisable(Exception):
    """A test with no SQL form; the rule is judged per record instead."""


def _money_column(fact: str, currency: str) -> str:
    return f"v_{'unit' if fact == 'unit_value' else 'total'}_{currency.lower()}"


def _leaf(leaf: Leaf, licence: str | None) -> str:
    operator = OPERATORS[leaf.op]
    if operator.sql is None:
        raise NotVectorisable(f"{leaf.describe()}: operator '{leaf.op}' has no SQL form")
    if FACTS[leaf.fact].kind is Kind.MONEY:
        if not isinstance(leaf.operand, Money):
            raise NotVectorisable(f"{leaf.describe()}: a money test needs a money operand")
        column = _money_column(leaf.fact, leaf.operand.currency)
    elif leaf.fact in _LICENCE_SQL and licence is not None:
        column = f"{licence}.{_LICENCE_SQL[leaf.fact]}"
    elif leaf.fact in _LICENCE_SQL:  # no licence: the fact is absent, as the engine has it
        if not operator.reads_missing:
            return "CAST(NULL AS BOOLEAN)"  # a test of an absent fact is unknown
        column = "CAST(NULL AS VARCHAR)"
    else:
        column = _FACT_SQL[leaf.fact]
    return operator.sql(column, leaf.operand, leaf.options)


def node_sql(node: Node, licence: str | None = None) -> str:
    """The SQL boolean of a condition tree (NULL where unknown).

    ``licence`` names the lambda variable holding the licence under test;
    without it the licence facts are NULL (not stated).
    """
    if isinstance(node, Leaf):
        return _leaf(node, licence)
    if isinstance(node, Not):
        return f"(NOT {node_sql(node.child, licence)})"
    joiner = " AND " if isinstance(node, AllOf) else " OR "
    assert isinstance(node, AllOf | AnyOf)
    return "(" + joiner.join(node_sql(c, licence) for c in node.children) + ")"


def _exemption_sql(exemption: Exemption, day: str) -> str:
    """TRUE where the exemption is in force and met (with some licence, if it reads them)."""
    if any(FACTS[leaf.fact].scope == "licence" for leaf in leaves(exemption.when)):
        condition = (f"CASE WHEN len(licences) = 0 THEN {node_sql(exemption.when)}"
                     f" ELSE list_bool_or(list_transform(licences,"
                     f" lambda lic: {node_sql(exemption.when, 'lic')})) END")
    else:
        condition = node_sql(exemption.when)
    return f"({_in_force(exemption, day)} AND ({condition}) IS TRUE)"


def currencies(rules: RuleSet) -> list[str]:
    """Every currency a value threshold of the rules (or their exemptions) is stated in."""
    trees = [rule.when for rule in rules] + [e.when for e in rules.exemptions]
    return sorted({leaf.operand.currency for tree in trees for leaf in leaves(tree)
                   if isinstance(leaf.operand, Money)})


@dataclass(frozen=True)
class CompiledQuery:
    """The SQL that judges ``records``, and the rules it leaves to the per-record engine."""

    sql: str
    vectorised: tuple[Rule, ...]
    per_record: tuple[tuple[Rule, str], ...]


_GATE_COLUMNS = {"destination": "destination", "origin": "origin", "via": "via",
                 "supplier.country": "supplier_country", "recipient.country": "recipient_country"}


def country_test(column: str, fact: str, members: Iterable[str]) -> str:
    """SQL: ``column``, holding a gate fact (a list for ``via``), names one of the countries."""
    listed = ", ".join(sql_text(code) for code in sorted(members))
    return f"list_has_any({column}, [{listed}])" if fact == "via" else f"{column} IN ({listed})"


def _country_gate_sql(gate: CountryGate) -> str:
    """One of the gate's (fact, countries) pairs holds; country columns are never NULL."""
    return "(" + " OR ".join(country_test(_GATE_COLUMNS[fact], fact, members)
                             for fact, members in gate) + ")"


def records_gate(rules: Iterable[Rule]) -> str:
    """SQL admitting every record one of the rules may meet or leave unknown.

    The union of the rules' country gates: TRUE if a rule has none, FALSE
    if there are no rules.
    """
    gate = union_gate(rule.when for rule in rules)
    if gate is None:
        return "TRUE"
    return _country_gate_sql(gate) if gate else "FALSE"


def _in_force(rule: Rule | Exemption, day: str) -> str:
    start = f"{day} >= {sql_text(rule.in_force.start)}"
    if rule.in_force.until is None:
        return start
    return f"({start} AND {day} < {sql_text(rule.in_force.until)})"


def _daily_rates(currency: str) -> str:
    """Per source currency and calendar day, the rate into ``currency`` that day.

    The rate of the nearest earlier day on which the ECB published both
    currencies, within a week, as the per-record engine looks for it. The
    table is small (currencies x days), so the records join it by equality and
    stream through; an ASOF join on the records themselves would sort them all.
    Only the currencies the records state are expanded.
    """
    week = f"INTERVAL {MAX_RATE_GAP_DAYS} DAY"
    # each published day stands for the days up to the next publication, a week at most
    return (
        f"(SELECT src, CAST(unnest(generate_series(published, least(coalesce("
        f"  following - INTERVAL 1 DAY, published + {week}), published + {week}),"
        f"  INTERVAL 1 DAY)) AS DATE) AS day, rate"
        f" FROM (SELECT s.currency AS src, s.day AS published, 1.0 / s.rate * t.rate AS rate,"
        f"  lead(s.day) OVER (PARTITION BY s.currency ORDER BY s.day) AS following"
        f"  FROM rates s JOIN rates t ON t.day = s.day AND t.currency = '{currency}'"
        f"  WHERE s.currency IN (SELECT DISTINCT unit_currency FROM gated)))")


def _rate_joins(targets: list[str]) -> tuple[str, str]:
    """Joins giving, per record and target currency, the rate of its date."""
    joins, columns = [], []
    for currency in targets:
        alias = f"r_{currency.lower()}"
        joins.append(f"LEFT JOIN {_daily_rates(currency)} {alias}"
                     f" ON {alias}.src = b.unit_currency AND {alias}.day = b.date")
        rate = f"CAST(round({alias}.rate, 6) AS DECIMAL(38,6))"
        for fact, amount in (("unit_value", "b.unit_amount"),
                             ("total_value", "b.unit_amount * b.quantity")):
            columns.append(
                f"CASE WHEN b.unit_amount IS NULL THEN NULL"
                f" WHEN b.unit_currency = '{currency}' THEN {amount}"
                f" ELSE round({amount} * ({rate}), 2) END AS {_money_column(fact, currency)}")
    return " ".join(joins), ", ".join(columns)


def compile_rules(rules: RuleSet, as_of: dt.date | None = None,
                  gated: bool = False) -> CompiledQuery:
    """One query over ``records`` (and ``rates``) giving every finding.

    The query yields ``row, item, transfer, hs_code, rule, verdict``, in no
    set order: a reader orders them (by row, item and rule id) as it needs.
    It keeps the records inside the rules' gates (:func:`records_gate`)
    before judging them, unless ``gated`` says that ``records`` holds no
    others already (or few): each rule's own gate is tested in any case, so
    this saves time and changes no finding.
    """
    day = sql_text(as_of) if as_of else "date"
    vectorised: list[Rule] = []
    per_record: list[tuple[Rule, str]] = []
    outcomes: list[str] = []  # per rule: 0 not met (or not in force), 1 met, 2 unknown
    exempting: dict[str, tuple[str, str]] = {}  # exemption id: (its column, its SQL)
    found: list[str] = []  # per rule: its number where it has a finding
    rule_of: list[str] = []  # per rule: its number to its id, and to its verdict
    verdict_of: list[str] = []
    for rule in rules:
        countries = country_gate(rule.when)
        rest = rule.when if countries is None else within_gate(rule.when, countries)
        try:
            condition = "TRUE" if rest is None else node_sql(rest)
            exemptions = [(e.id, _exemption_sql(e, day)) for e in rules.exemptions_for(rule.id)]
        except NotVectorisable as exc:
            per_record.append((rule, str(exc)))
            continue
        number = len(vectorised)
        column = f"o{number}"
        vectorised.append(rule)
        gate = None if countries is None else _country_gate_sql(countries)
        admits = _in_force(rule, day) + (f" AND {gate}" if gate is not None else "")
        # CASE evaluates a branch only on the rows that reach it: the tests run inside the
        # gate, and those the gate has settled are left out of them
        outcomes.append(f"CASE WHEN NOT ({admits}) THEN 0"
                        f" ELSE coalesce(CAST({condition} AS INTEGER), 2) END AS {column}")
        verdict = (f"CASE WHEN {column} = 1 THEN {sql_text(rule.verdict.value)}"
                   f" ELSE 'undetermined' END")
        if exemptions:
            for exemption_id, sql in exemptions:
                exempting.setdefault(exemption_id, (f"x{len(exempting)}", sql))
            met = " OR ".join(exempting[exemption_id][0] for exemption_id, _ in exemptions)
            verdict = f"CASE WHEN {met} THEN 'exempted' ELSE {verdict} END"
        found.append(f"CASE WHEN {column} <> 0 THEN {number} END")
        rule_of.append(f"WHEN {number} THEN {sql_text(rule.id)}")
        verdict_of.append(f"WHEN {number} THEN {verdict}")
    targets = currencies(rules.subset(vectorised))
    joins, money = _rate_joins(targets)
    select_money = f", {money}" if money else ""
    columns = ", ".join([*outcomes, *(f"{sql} AS {name}" for name, sql in exempting.values())])
    # a finding is a rule's number, unnested, then named: its verdict is worked out for
    # the findings alone, not for every rule on every record
    numbers = ", ".join(found) if found else "NULL"
    named = f"CASE n {' '.join(rule_of)} END" if found else "CAST(NULL AS VARCHAR)"
    judged = f"CASE n {' '.join(verdict_of)} END" if found else "CAST(NULL AS VARCHAR)"
    gate = records_gate(vectorised)
    # The few records inside the gates are kept once for the two reads below; with no
    # gate (a rule without one) every record is read twice instead, streaming.
    kept = "" if gate == "TRUE" else "MATERIALIZED "
    where = "" if gated and gate != "FALSE" else f" WHERE {gate}"
    sql = f"""
WITH gated AS {kept}(
  SELECT * FROM records{where}
), judged AS (
  SELECT b.*{select_money} FROM gated b {joins}
), decided AS (
  SELECT row, item, transfer_id, hs_code{", " + columns if columns else ""} FROM judged
), found AS (
  SELECT *, unnest(list_filter([{numbers}], lambda n: n IS NOT NULL)) AS n FROM decided
)
SELECT row, item, transfer_id AS transfer, hs_code, {named} AS rule, {judged} AS verdict
FROM found
"""
    return CompiledQuery(sql, tuple(vectorised), tuple(per_record))

