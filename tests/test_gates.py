"""Gates: a record outside a rule's country or HS gate never meets it nor leaves it unknown.

And what the gate facts settle: a tree with the leaves a record's gated
countries and HS chapter decide replaced by their outcomes decides as the
whole tree does.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compliance
from compliance import reference
from compliance.compiler import compile_outcome, specialise
from compliance.conditions import AllOf, AnyOf, Leaf, Not
from compliance.engine import Engine
from compliance.gates import (
    ALWAYS_STATED,
    CountryGate,
    country_gate,
    hs_gate,
    settled,
    union_gate,
    within_gate,
)
from compliance.operators import Env, Outcome, fast_under
from compliance.testing import UnsatisfiableRule, transfers, undetermined, violating
from tests.conftest import DATA

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BUNDLED = compliance.load_rules()
OPERATOR_RULES = compliance.load_rules(DATA / "every-operator.yaml")
RULES = [*BUNDLED, *OPERATOR_RULES]
ENGINE = Engine(BUNDLED)


def _admits_countries(gate: CountryGate, transfer: compliance.Transfer) -> bool:
    values = {"destination": transfer.route_destination, "origin": transfer.route_origin,
              "supplier.country": transfer.supplier.country,
              "recipient.country": transfer.recipient.country}
    return any((not members.isdisjoint(transfer.via)) if fact == "via"
               else values[fact] in members for fact, members in gate)


def _inside(gate: CountryGate):
    """Records moved inside the gate: one of its facts set to one of its countries."""
    def move(transfer: compliance.Transfer, fact: str, code: str) -> compliance.Transfer:
        if fact == "via":
            return transfer.model_copy(update={"via": (*transfer.via, code)})
        if fact in ("supplier.country", "recipient.country"):
            side = fact.split(".")[0]
            party = getattr(transfer, side).model_copy(update={"country": code})
            return transfer.model_copy(update={side: party})
        return transfer.model_copy(update={fact: code})

    places = st.sampled_from(gate).flatmap(
        lambda pair: st.tuples(st.just(pair[0]), st.sampled_from(sorted(pair[1]))))
    return st.builds(lambda t, place: move(t, *place), transfers(max_items=2), places)


def _records(rule):
    pools = [transfers(max_items=2), violating(rule)]
    with contextlib.suppress(UnsatisfiableRule):  # a rule no missing fact leaves unknown
        pools.append(undetermined(rule))
    return st.one_of(pools)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_record_a_rule_may_meet_is_inside_its_gates(rule) -> None:
    decide = compile_outcome(rule.when)
    countries, prefixes = country_gate(rule.when), hs_gate(rule.when)
    under = fast_under(tuple(sorted(prefixes))) if prefixes else None
    rates = reference.default_rates()

    @SETTINGS
    @given(_records(rule))
    def check(transfer) -> None:
        env = Env(transfer.date, rates)
        for item in transfer.items:
            if decide(transfer, item, env) is Outcome.NOT_MET:
                continue
            if countries is not None:
                assert _admits_countries(countries, transfer), (rule.id, transfer)
            if under is not None and item.hs_code is not None:
                assert under(item.hs_code) is not Outcome.NOT_MET, (rule.id, item.hs_code)

    check()


@pytest.mark.parametrize("rule", [r for r in RULES if country_gate(r.when) is not None],
                         ids=lambda r: r.id)
def test_inside_its_gate_a_rule_decides_as_what_the_gate_leaves_of_it(rule) -> None:
    countries = country_gate(rule.when)
    assert countries is not None
    decide = compile_outcome(rule.when)
    rest = within_gate(rule.when, countries)
    left = None if rest is None else compile_outcome(rest)
    rates = reference.default_rates()

    @SETTINGS
    @given(st.one_of(_records(rule), _inside(countries)))
    def check(transfer) -> None:
        if not _admits_countries(countries, transfer):
            return
        env = Env(transfer.date, rates)
        for item in transfer.items:
            outcome = Outcome.MET if left is None else left(transfer, item, env)
            assert outcome is decide(transfer, item, env), (rule.id, transfer)

    check()


def test_within_its_gate_a_tree_loses_only_the_tests_the_gate_settles() -> None:
    kp = Leaf("destination", "in", ("KP",))
    kp_or_ru = Leaf("destination", "in", ("KP", "RU"))
    by_kp = Leaf("recipient.country", "in", ("KP",))
    cars = Leaf("hs_code", "prefix", ("8703",))
    words = Leaf("description", "mentions", ("limousine",))
    to_kp = (("destination", frozenset({"KP"})),)
    assert within_gate(AllOf((kp, cars)), to_kp) == cars
    assert within_gate(AllOf((kp_or_ru, cars, words)), to_kp) == AllOf((cars, words))
    assert within_gate(AnyOf((kp, by_kp)), country_gate(AnyOf((kp, by_kp)))) is None
    assert within_gate(kp, to_kp) is None
    # a test narrower than the gate, or beside another fact, still has to be made
    wider = (("destination", frozenset({"KP", "RU"})),)
    assert within_gate(AllOf((kp, cars)), wider) == AllOf((kp, cars))
    either = country_gate(AnyOf((kp, by_kp)))
    assert within_gate(AllOf((kp, cars)), either) == AllOf((kp, cars))
    assert within_gate(AllOf((AnyOf((kp, words)), cars)), to_kp) == AllOf((AnyOf((kp, words)),
                                                                            cars))
    assert within_gate(Not(kp), to_kp) == Not(kp)
    route = Leaf("route", "includes", ("KP",))
    ends = country_gate(route)
    assert within_gate(AllOf((route, cars)), ends) == cars


def test_gates_are_read_off_the_tree() -> None:
    kp = Leaf("destination", "in", ("KP",))
    ru = Leaf("recipient.country", "in", ("RU",))
    cars = Leaf("hs_code", "prefix", ("8703",))
    words = Leaf("description", "mentions", ("limousine",))
    # all: the tightest bounded child; any: only when every child is bounded; not: never
    assert country_gate(AllOf((kp, cars))) == (("destination", frozenset({"KP"})),)
    assert country_gate(AnyOf((kp, ru))) == (("destination", frozenset({"KP"})),
                                             ("recipient.country", frozenset({"RU"})))
    assert country_gate(AnyOf((kp, words))) is None
    assert country_gate(Not(kp)) is None
    assert hs_gate(AllOf((kp, AnyOf((cars, words))))) is None
    assert hs_gate(AllOf((kp, cars))) == frozenset({"8703"})
    # many trees: their gates' countries merged by fact; none if one tree has no gate
    by = Leaf("destination", "in", ("BY",))
    assert union_gate([kp, AnyOf((by, ru))]) == (("destination", frozenset({"BY", "KP"})),
                                                 ("recipient.country", frozenset({"RU"})))
    assert union_gate([kp, words]) is None
    assert union_gate([]) == ()


def test_an_engine_skips_records_outside_every_gate() -> None:
    engine = Engine(BUNDLED)
    transfer = compliance.Transfer.model_validate({
        "id": "T1", "date": "2024-06-19", "type": "sale",
        "supplier": {"name": "A", "country": "FR"}, "recipient": {"name": "B", "country": "DE"},
        "items": [{"description": "Limousine", "hs_code": "870321"}]})
    assert engine._index.key(transfer) is None  # no gate names France or Germany: skipped
    assert engine.verdicts(transfer) == []
    assert engine.evaluate_transfer(transfer).findings == ()
    to_kp = transfer.model_copy(update={"destination": "KP"})
    assert engine._index.key(to_kp) is not None
    assert {rule for _, rule, _ in engine.verdicts(to_kp)} >= {"un.dprk.luxury.vehicles"}


@SETTINGS
@given(st.lists(st.one_of(transfers(max_items=3), *(violating(r) for r in list(BUNDLED)[::5])),
                max_size=8))
def test_verdicts_many_gives_each_records_verdicts_in_order(records) -> None:
    engine = ENGINE
    assert list(engine.verdicts_many(records)) == [
        (number, index, rule, verdict) for number, transfer in enumerate(records)
        for index, rule, verdict in engine.verdicts(transfer)]


def _reduced(transfer: compliance.Transfer, named: frozenset[str]) -> tuple:
    """The record's always-stated countries reduced to ``named``, as the engine keys them."""
    values = (transfer.route_destination, transfer.route_origin, transfer.supplier.country,
              transfer.recipient.country)
    return (*(v if v in named else None for v in values),
            tuple(sorted(named.intersection(transfer.via))))


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_what_the_gate_facts_settle_leaves_the_outcome_unchanged(rule) -> None:
    decide = compile_outcome(rule.when)
    gate = country_gate(rule.when) or ()
    # the rule's own gate, and countries the generated records often name
    named = frozenset({"KP", "RU", "CN"}).union(*(members for _, members in gate))
    rates = reference.default_rates()

    @SETTINGS
    @given(_records(rule))
    def check(transfer) -> None:
        env = Env(transfer.date, rates)
        countries = _reduced(transfer, named)
        for item in transfer.items:
            code = item.hs_code
            chapter = code[:2] if code is not None and len(code) >= 2 else None
            rest = specialise(rule.when, lambda leaf, c=chapter: settled(leaf, countries, named, c))
            outcome = rest if isinstance(rest, Outcome) else rest(transfer, item, env)
            assert outcome is decide(transfer, item, env), (rule.id, countries, chapter)

    check()


def test_settled_reads_the_countries_and_the_chapter_only() -> None:
    named = frozenset({"KP", "RU"})
    to_kp = ("KP", "FR", "FR", "KP", ())
    to_cn_via_ru = (None, "FR", "FR", None, ("RU",))  # CN is not named
    assert len(ALWAYS_STATED) == len(to_kp)
    kp = Leaf("destination", "in", ("KP",))
    assert settled(kp, to_kp, named, None) is Outcome.MET
    assert settled(kp, to_cn_via_ru, named, None) is Outcome.NOT_MET
    # a country outside the named ones is lost in the reduction: left to the record
    assert settled(Leaf("destination", "in", ("CN",)), to_cn_via_ru, named, None) is None
    assert settled(Leaf("route", "includes", ("RU",)), to_cn_via_ru, named, None) is Outcome.MET
    assert settled(Leaf("via", "includes", ("KP",)), to_cn_via_ru, named, None) is Outcome.NOT_MET
    cars = Leaf("hs_code", "prefix", ("8703", "87"))
    assert settled(cars, to_kp, named, "87") is Outcome.MET
    assert settled(cars, to_kp, named, "84") is Outcome.NOT_MET
    assert settled(Leaf("hs_code", "prefix", ("8703",)), to_kp, named, "87") is None
    assert settled(Leaf("hs_code", "prefix", ("87",), (("except", ("8702",)),)), to_kp, named,
                   "87") is None
    assert settled(cars, to_kp, named, None) is None  # no code, or one of a single digit
    assert settled(Leaf("description", "mentions", ("limousine",)), to_kp, named, "87") is None
    # what is left is the rest of the tree: here the words, the only open test
    tree = AllOf((kp, AnyOf((Leaf("hs_code", "prefix", ("8703",)),
                             Leaf("description", "mentions", ("limousine",))))))
    rest = specialise(tree, lambda leaf: settled(leaf, to_kp, named, "84"))
    assert callable(rest)
    limousine = compliance.Transfer.model_validate({
        "id": "T1", "date": "2024-06-19", "type": "gift",
        "supplier": {"name": "A", "country": "FR"},
        "recipient": {"name": "B", "country": "KP"},
        "items": [{"description": "Limousine", "hs_code": "8471"}]})
    env = Env(limousine.date, reference.default_rates())
    assert rest(limousine, limousine.items[0], env) is Outcome.MET
    assert specialise(tree, lambda leaf: settled(leaf, to_cn_via_ru, named, "87")) is (
        Outcome.NOT_MET)
