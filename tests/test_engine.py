"""Three-valued evaluation, operators, dates in force, exchange rates and traces."""

from __future__ import annotations

import datetime as dt
import textwrap
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compliance
from compliance import compiler
from compliance.compiler import compile_kept, compile_outcome
from compliance.conditions import leaves
from compliance.engine import Engine, RegimeStatus
from compliance.facts import FACTS, Kind
from compliance.operators import Env, Outcome, all_of, any_of
from compliance.reference import Conversion, RateUnavailable

M, N, U = Outcome.MET, Outcome.NOT_MET, Outcome.UNKNOWN


@pytest.mark.parametrize(("values", "conjunction", "disjunction"), [
    ((M, M), M, M), ((M, N), N, M), ((M, U), U, M), ((N, U), N, U), ((U, U), U, U),
    ((N, N), N, N), ((), M, N),
])
def test_kleene_logic(values, conjunction, disjunction) -> None:
    assert all_of(values) is conjunction
    assert any_of(values) is disjunction
    assert ~M is N and ~N is M and ~U is U


def pack(when: str, *, lists: str = "", in_force: str = "{from: 2017-12-22}",
         verdict: str = "violation") -> str:
    body = textwrap.indent(textwrap.dedent(when).strip(), " " * 6)
    extra = textwrap.indent(textwrap.dedent(lists).strip(), "  ") if lists else ""
    return (
        "pack: test\ntitle: Test\nauthority: Test\n"
        + (f"lists:\n{extra}\n" if extra else "")
        + "rules:\n  - id: test.rule\n    title: Test rule\n"
        "    citation: {instrument: X, provision: Y, confidence: unverified}\n"
        f"    binds: Everyone\n    in_force: {in_force}\n    verdict: {verdict}\n"
        f"    because: Because.\n    when:\n{body}\n"
    )


def transfer(**changes) -> compliance.Transfer:
    item = {"description": "Limousine", "hs_code": "870324",
            "unit_value": {"amount": "250000", "currency": "USD"}}
    item.update(changes.pop("item", {}))
    data = {"id": "t1", "date": "2024-06-19", "type": "gift",
            "supplier": {"name": "S", "country": "RU"},
            "recipient": {"name": "R", "country": "KP"}, "items": [item]}
    data.update(changes)
    return compliance.Transfer.model_validate(data)


class FixedRates:
    """1 EUR = 1.25 USD on every weekday; no rate at all for KPW; none on weekends."""

    def convert(self, amount, src, dst, on):
        if "KPW" in (src, dst):
            raise RateUnavailable("no rate for KPW")
        if on.weekday() >= 5:
            raise RateUnavailable("weekend")
        to_usd = {"USD": Decimal(1), "EUR": Decimal("1.25")}
        rate = to_usd[src] / to_usd[dst]
        return Conversion(amount * rate, rate, on, "test rate")


@pytest.fixture
def judge(write):
    """Evaluate one transfer against a one-rule pack; return the finding's verdict or None."""

    def judge(rule_yaml: str, t: compliance.Transfer, as_of=None):
        rules = compliance.load_rules(write("pack.yaml", rule_yaml))
        result = Engine(rules, FixedRates()).evaluate_transfer(t, "case", as_of)
        assert len(result.findings) <= 1
        return result.findings[0] if result.findings else None

    return judge


def verdict(finding) -> str | None:
    return None if finding is None else finding.verdict.value


def test_gift_and_sale_are_judged_alike(judge) -> None:
    rule = pack("hs_code: {prefix: ['87']}")
    for kind in ("sale", "gift", "loan", "lease", "barter", "donation", "other"):
        assert verdict(judge(rule, transfer(type=kind))) == "violation"


def test_a_route_through_third_countries_keeps_its_destination(judge) -> None:
    rule = pack("destination: {in: [KP]}")
    via_china = transfer(recipient={"name": "Broker", "country": "CN"}, via=["CN"],
                         destination="KP")
    assert verdict(judge(rule, via_china)) == "violation"
    assert verdict(judge(pack("route: {includes: [KP]}"), via_china)) == "violation"
    elsewhere = transfer(recipient={"name": "Buyer", "country": "CN"})
    assert judge(rule, elsewhere) is None


@pytest.mark.parametrize(("code", "expected"), [
    ("870324", "violation"),     # inside the heading
    ("8703", "violation"),       # the heading itself
    ("87", "undetermined"),      # coarser than the prefix: may or may not be inside
    ("8702", None),              # a sibling heading
    ("9307", None),
])
def test_hs_prefix_is_three_valued_on_the_hierarchy(judge, code, expected) -> None:
    assert verdict(judge(pack("hs_code: {prefix: ['8703']}"), transfer(item={"hs_code": code}))) \
        == expected


def test_hs_prefix_exclusions(judge) -> None:
    rule = pack("hs_code: {prefix: ['93'], except: ['9307']}")
    assert verdict(judge(rule, transfer(item={"hs_code": "930120"}))) == "violation"
    assert judge(rule, transfer(item={"hs_code": "930700"})) is None
    assert verdict(judge(rule, transfer(item={"hs_code": "93"}))) == "undetermined"


def test_a_missing_fact_makes_the_rule_undetermined_never_clear(judge) -> None:
    finding = judge(pack("hs_code: {prefix: ['8703']}"), transfer(item={"hs_code": None}))
    assert verdict(finding) == "undetermined"
    assert finding.missing == ("hs_code",)
    assert finding.trace.children == () and finding.trace.note == "not stated in the record"


def test_a_decided_branch_masks_an_unknown_one(judge) -> None:
    rule = pack("""
        any:
          - hs_code: {prefix: ['8703']}
          - description: {mentions: [limousine]}
    """)
    finding = judge(rule, transfer(item={"hs_code": None}))
    assert verdict(finding) == "violation" and finding.missing == ()
    rule_all = pack("""
        all:
          - hs_code: {prefix: ['8703']}
          - destination: {in: [CN]}
    """)
    assert judge(rule_all, transfer(item={"hs_code": None})) is None


def test_not_keeps_unknown_unknown(judge) -> None:
    rule = pack("not: {hs_code: {prefix: ['93']}}")
    assert verdict(judge(rule, transfer(item={"hs_code": None}))) == "undetermined"
    assert verdict(judge(rule, transfer(item={"hs_code": "8703"}))) == "violation"
    assert judge(rule, transfer(item={"hs_code": "9301"})) is None


def test_exists_is_never_unknown(judge) -> None:
    rule = pack("hs_code: {exists: false}")
    assert verdict(judge(rule, transfer(item={"hs_code": None}))) == "violation"
    assert judge(rule, transfer()) is None


@pytest.mark.parametrize(("amount", "currency", "expected"), [
    ("101", "USD", "violation"), ("100", "USD", None), ("80.01", "EUR", "violation"),
    ("80", "EUR", None), ("1000000", "KPW", "undetermined"),
])
def test_value_thresholds_convert_at_the_transfer_date(judge, amount, currency, expected):
    rule = pack("unit_value: {gt: {amount: 100, currency: USD}}")
    t = transfer(item={"unit_value": {"amount": amount, "currency": currency}})
    finding = judge(rule, t)
    assert verdict(finding) == expected
    if expected == "undetermined":
        assert "no rate for KPW" in finding.trace.note


def test_a_missing_value_meets_a_threshold_as_undetermined(judge) -> None:
    rule = pack("unit_value: {gt: {amount: 100, currency: USD}}")
    assert verdict(judge(rule, transfer(item={"unit_value": None}))) == "undetermined"


def test_total_value_is_unit_value_times_quantity(judge) -> None:
    rule = pack("total_value: {ge: {amount: 300, currency: USD}}")
    t = transfer(item={"quantity": 3, "unit_value": {"amount": 100, "currency": "USD"}})
    assert verdict(judge(rule, t)) == "violation"
    assert judge(rule, transfer(item={"quantity": 2, "unit_value": {
        "amount": 100, "currency": "USD"}})) is None


def test_rules_apply_from_the_day_they_take_effect(judge) -> None:
    rule = pack("destination: {in: [KP]}", in_force="{from: 2017-12-22, until: 2020-01-01}")
    assert judge(rule, transfer(date="2017-12-21")) is None
    assert verdict(judge(rule, transfer(date="2017-12-22"))) == "violation"
    assert verdict(judge(rule, transfer(date="2019-12-31"))) == "violation"
    assert judge(rule, transfer(date="2020-01-01")) is None


def test_as_of_overrides_the_transfer_date(judge) -> None:
    rule = pack("destination: {in: [KP]}")
    old = transfer(date="2010-01-01")
    assert judge(rule, old) is None
    assert verdict(judge(rule, old, as_of=dt.date(2018, 1, 1))) == "violation"


def test_text_tests_ignore_case_and_match_word_starts(judge) -> None:
    rule = pack("description: {mentions: [bust, statue]}")
    assert verdict(judge(rule, transfer(item={"description": "Two BUSTS of a leader"}))) \
        == "violation"
    assert judge(rule, transfer(item={"description": "Robust crate"})) is None
    assert verdict(judge(pack("supplier.role: {equals: Head-Of-State}"),
                         transfer(supplier={"name": "S", "country": "RU",
                                            "role": "head-of-state"}))) == "violation"


def test_review_verdict_comes_from_the_rule(judge) -> None:
    finding = judge(pack("destination: {in: [KP]}", verdict="review"), transfer())
    assert verdict(finding) == "review"


def test_clearing_lists_each_way_out(judge) -> None:
    rule = pack("""
        all:
          - destination: {in: [KP]}
          - hs_code: {prefix: ['87']}
    """)
    finding = judge(rule, transfer())
    assert finding.clears_if == ("destination is not KP", "hs_code not under 87")


def test_list_references_expand_to_their_values(judge) -> None:
    rule = pack("destination: {in: [$sanctioned, IR]}",
                lists="countries:\n  sanctioned: [KP, SY]")
    finding = judge(rule, transfer())
    assert verdict(finding) == "violation"
    leaf = finding.rule.when
    assert leaf.operand == ("KP", "SY", "IR") and leaf.refs == ("sanctioned",)


def test_findings_are_ordered_by_item_then_rule(rules) -> None:
    t = transfer(items=[{"description": "Tea set", "hs_code": "69"},
                        {"description": "Limousine", "hs_code": "8703"}])
    findings = Engine(rules, FixedRates()).evaluate_transfer(t).findings
    keys = [(f.item_index, f.rule.id) for f in findings]
    assert keys == sorted(keys) and keys[0][0] == 0


def test_explain_gives_the_named_rules_findings_as_evaluate_transfer_does() -> None:
    engine = Engine(compliance.load_rules())
    (loaded,) = compliance.load_cases(["cases/pyongyang-summit-2024.yaml"])
    explained = 0
    for transfer in loaded.case.transfers:
        full = engine.evaluate_transfer(transfer)
        for index in range(len(transfer.items)):
            expected = {f.rule.id: f for f in full.findings if f.item_index == index}
            named = [*sorted(expected), "un.dprk.arms.supply", "no.such.rule"]
            got = engine.explain(transfer, index, named)
            assert set(got) == set(expected)  # rules not met, or unknown, left out
            explained += len(got)
            for rule_id, finding in got.items():
                assert (finding.verdict, finding.explanation, finding.clears_if) == (
                    expected[rule_id].verdict, expected[rule_id].explanation,
                    expected[rule_id].clears_if)
    assert explained >= 4


BUNDLED_ENGINE = Engine(compliance.load_rules())
_CHANGES = sorted({day + dt.timedelta(days=shift) for rule in BUNDLED_ENGINE.rules
                   for day in (rule.in_force.start, rule.in_force.until) if day is not None
                   for shift in (-1, 0, 1)})


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.one_of(st.sampled_from(_CHANGES),
                 st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2040, 12, 31))))
def test_rules_and_packs_in_force_are_those_of_the_day(day) -> None:
    """The rules in force, and each pack's standing when none is, on any day, its eve and
    its morrow: counted from the rules' own dates."""
    engine = BUNDLED_ENGINE
    result = engine.evaluate_transfer(transfer(recipient={"name": "R", "country": "DE"}),
                                      as_of=day)
    assert result.rules_in_force == sum(rule.in_force_on(day) for rule in engine.rules)
    for regime in result.regimes:
        pack_in_force = any(rule.in_force_on(day) for rule in engine.rules
                            if rule.pack == regime.pack.pack)
        assert (regime.status is RegimeStatus.NOT_IN_FORCE) is not pack_in_force, regime


REACHES = [pack for pack in BUNDLED_ENGINE.rules.packs if pack.reach is not None]


def _named(tree) -> tuple[list[str], list[dt.date]]:
    """The countries a tree names, and the days it compares dates with, with their eves and
    morrows."""
    tests = [leaf for leaf in leaves(tree) if leaf.op != "exists"]
    named = sorted({code for leaf in tests if FACTS[leaf.fact].kind in (Kind.COUNTRY,
                                                                       Kind.COUNTRIES)
                    for code in leaf.operand})
    days = sorted({day + dt.timedelta(days=shift) for leaf in tests
                   if FACTS[leaf.fact].kind is Kind.DATE
                   for day in (leaf.operand if isinstance(leaf.operand, tuple) else
                               (leaf.operand,)) for shift in (-1, 0, 1)})
    return named, days


@st.composite
def _near(draw, tree) -> compliance.Transfer:
    """A transfer among the countries a tree names (and a few others), on or near its days."""
    named, days = _named(tree)
    country = st.sampled_from([*named, "CN", "IN", "KP", "RU", "US"])
    maybe = st.none() | country
    day = st.dates(dt.date(1990, 1, 1), dt.date(2040, 1, 1))
    return compliance.Transfer.model_validate({
        "id": "t", "date": draw(st.sampled_from(days) | day if days else day), "type": "sale",
        "supplier": {"name": "S", "country": draw(country)},
        "recipient": {"name": "R", "country": draw(country)},
        "origin": draw(maybe), "destination": draw(maybe),
        "via": draw(st.lists(country, max_size=2)),
        "items": [{"description": "Goods", "made_in": draw(maybe)}
                  for _ in range(draw(st.integers(1, 2)))]})


@pytest.mark.parametrize("pack", REACHES, ids=lambda p: p.pack)
def test_a_reach_decided_once_per_key_decides_as_the_tree(pack) -> None:
    kept, whole = compile_kept(pack.reach), compile_outcome(pack.reach)
    rates = compliance.reference.default_rates()
    _, days = _named(pack.reach)

    @settings(max_examples=150, deadline=None, derandomize=True, database=None)
    @given(st.lists(_near(pack.reach), min_size=1, max_size=10))
    def check(transfers) -> None:
        for t in transfers:  # the kept outcomes carry over from record to record
            # each record also on every day the tree compares with, its eve and its morrow
            for moved in (t, *(t.model_copy(update={"date": day}) for day in days)):
                env = Env(moved.date, rates)
                for item in moved.items:
                    assert kept(moved, item, env) is whole(moved, item, env), (pack.pack, moved)

    check()


def test_a_reach_is_decided_once_for_records_it_cannot_tell_apart(monkeypatch) -> None:
    eu = next(pack for pack in REACHES if pack.pack == "eu.russia")
    decided = []
    real = compiler.compile_outcome

    def counting(node):
        decide = real(node)
        return lambda t, i, env: decided.append(t.id) or decide(t, i, env)

    monkeypatch.setattr(compiler, "compile_outcome", counting)
    kept = compiler.compile_kept(eu.reach)
    outside = ["CN", "IN", "US", "BR", "JP", "KR", "ZA"]  # no member of the Union among them
    for n, code in enumerate(outside):
        t = transfer(id=f"t{n}", date=f"2024-0{n + 1}-1{n}",
                     supplier={"name": "S", "country": code})
        assert kept(t, t.items[0], None) is Outcome.NOT_MET
    assert decided == ["t0"]  # the others read as the first did: one country outside, 2024
    member = transfer(id="fr", supplier={"name": "S", "country": "FR"})
    assert kept(member, member.items[0], None) is Outcome.MET and decided == ["t0", "fr"]


def test_a_conversion_names_the_ecb_rate_and_the_day_it_was_published() -> None:
    from compliance.reference import default_rates

    saturday = dt.date(2024, 6, 22)  # the ECB publishes no rate at weekends
    converted = default_rates().convert(Decimal(90), "GBP", "USD", saturday)
    assert converted.rate_date == dt.date(2024, 6, 21)
    assert converted.describe("GBP", "USD", saturday) == (
        f"1 GBP = {converted.rate} USD, ECB reference rate of 2024-06-21"
        " (no rate published for 2024-06-22: nearest earlier date used)")
