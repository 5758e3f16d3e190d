"""The public strategies and rule witnesses of compliance.testing."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import compliance
from compliance.engine import Engine
from compliance.testing import (
    UnsatisfiableRule,
    case_yaml,
    cases,
    clearing,
    countries,
    hs_codes,
    money,
    transfers,
    undetermined,
    violating,
)

FAST = settings(max_examples=30, deadline=None, derandomize=True, database=None)


@FAST
@given(transfers(destination="KP", type="gift",
                 date_between=(dt.date(2018, 1, 1), dt.date(2018, 12, 31))))
def test_transfers_honour_their_arguments(transfer: compliance.Transfer) -> None:
    assert transfer.route_destination == "KP"
    assert transfer.type.value == "gift"
    assert dt.date(2018, 1, 1) <= transfer.date <= dt.date(2018, 12, 31)


@FAST
@given(cases())
def test_generated_cases_round_trip_through_a_case_file(tmp_path_factory, case) -> None:
    path = tmp_path_factory.mktemp("cases") / "case.yaml"
    path.write_text(case_yaml(case), encoding="utf-8")
    assert compliance.load_case(path) == case


@FAST
@given(hs_codes(under="87", levels=(6,)))
def test_hs_codes_are_real_and_narrowed(code: str) -> None:
    from compliance.reference import hs_entry

    assert code.startswith("87") and len(code) == 6 and hs_entry(code) is not None


@pytest.mark.parametrize("make", [
    lambda: countries(only=["XX"]),
    lambda: countries(only=["KP"], exclude=["KP"]),
    lambda: hs_codes(under="8799"),
    lambda: hs_codes(levels=(8,)),
    lambda: money(currency="USX"),
    lambda: transfers(type="present"),
    lambda: transfers(date_between=(dt.date(2020, 1, 2), dt.date(2020, 1, 1))),
])
def test_bad_arguments_fail_when_the_strategy_is_made(make) -> None:
    with pytest.raises(InvalidArgument):
        make().validate()


def test_reprs_read_like_the_call() -> None:
    assert repr(transfers(destination="KP")) == "transfers(destination='KP')"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(compliance.load_rules())


def _verdict(engine: Engine, transfer, rule_id: str) -> str:
    found = [v.value for _, r, v in engine.verdicts(transfer) if r == rule_id]
    return found[0] if found else "clear"


@pytest.mark.parametrize("rule_id", [
    "un.dprk.luxury.porcelain_tableware", "un.dprk.statues.export", "un.dprk.arms.supply",
    "un.dprk.transport_vehicles.supply",
])
def test_witnesses_reach_the_outcome_they_promise(engine: Engine, rule_id: str) -> None:
    rule = engine.rules.get(rule_id)
    wanted = {violating: rule.verdict.value, clearing: "clear",
              undetermined: "undetermined"}

    @FAST
    @given(st.sampled_from(list(wanted)).flatmap(lambda make: st.tuples(st.just(make),
                                                                         make(rule))))
    def check(pair) -> None:
        make, transfer = pair
        assert _verdict(engine, transfer, rule_id) == wanted[make]

    check()


def test_clearing_has_a_branch_for_each_way_to_fail(engine: Engine) -> None:
    from compliance.operators import Outcome
    from compliance.satisfy import ways

    rule = engine.rules.get("un.dprk.luxury.porcelain_tableware")
    failing = {frozenset(leaf.fact for leaf, want in way if want is Outcome.NOT_MET)
               for way in ways(rule.when, Outcome.NOT_MET)}
    # the destination (both its alternatives), the code, or the value: one at a time
    assert failing == {frozenset({"destination", "recipient.country"}),
                       frozenset({"hs_code"}), frozenset({"unit_value"})}


def test_an_unsatisfiable_rule_raises_at_once(write) -> None:
    path = write("pack.yaml", (compliance.loader.bundled_rules_path() / "un" / "dprk.yaml")
                 .read_text(encoding="utf-8").replace(
                     "        - hs_code: {prefix: $porcelain_tableware}\n",
                     "        - hs_code: {prefix: $porcelain_tableware}\n"
                     "        - unit_value: {lt: {amount: 50, currency: USD}}\n"))
    rule = compliance.load_rules(path).get("un.dprk.luxury.porcelain_tableware")
    with pytest.raises(UnsatisfiableRule, match=r"can never be met: .*unit_value > 100 USD"):
        violating(rule)
