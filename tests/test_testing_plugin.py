"""The pytest plugin on the bundled packs and on packs broken on purpose."""

from __future__ import annotations

import pytest

from tests.conftest import DATA

pytest_plugins = ["pytester"]


def _run(pytester: pytest.Pytester, rules, *extra: str) -> pytest.RunResult:
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    return pytester.runpytest_subprocess("--compliance-rules", str(rules), "-q", *extra)


def test_an_inverted_threshold_fails_with_a_shrunk_case_file(pytester) -> None:
    result = _run(pytester, DATA / "broken" / "inverted-threshold.yaml", "-k", "raising")
    assert result.ret == 1
    text = result.stdout.str()
    assert "FAILED" in text and "broken.tableware::raising-values-never-clears" in text
    assert "cleared the rule" in text
    # the counterexample is a case file, ready to paste
    assert "# counterexample, shrunk by hypothesis" in text
    assert "case: counterexample" in text and "destination: KP" in text
    assert "hs_code: '6911" in text


def test_a_wrong_threshold_fails_its_example(pytester) -> None:
    result = _run(pytester, DATA / "broken" / "wrong-threshold.yaml")
    assert result.ret == 1
    text = result.stdout.str()
    assert "broken.tableware::examples-hold" in text
    assert "should be violation, got clear" in text
    assert "amount: 150" in text


def test_exists_false_breaks_monotonicity(pytester) -> None:
    result = _run(pytester, DATA / "broken" / "missing-becomes-clear.yaml", "-k", "filling")
    assert result.ret == 1
    assert "stating facts that were missing cleared the rule" in result.stdout.str()


def test_a_pack_that_does_not_load_is_one_failure(pytester, tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("pack: x\n", encoding="utf-8")
    result = _run(pytester, bad)
    assert result.ret == 1
    assert "missing-field" in result.stdout.str()


def test_fixtures_give_the_rules_under_test(pytester) -> None:
    pytester.makepyfile(test_fixture="""
        def test_rules(compliance_rules, compliance_engine):
            assert "un.dprk.luxury.vehicles" in compliance_rules
            assert compliance_engine.rules is compliance_rules
    """)
    result = pytester.runpytest_subprocess("-q")
    assert result.ret == 0, result.stdout.str()


def test_an_unsatisfiable_rule_names_its_contradiction(pytester, tmp_path) -> None:
    text = (DATA / "broken" / "missing-becomes-clear.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "contradiction.yaml"
    bad.write_text(text.replace("hs_code: {exists: false}",
                                "not: {destination: {in: [KP]}}"), encoding="utf-8")
    result = _run(pytester, bad)
    assert result.ret == 1
    assert "can never be met: destination is KP (line 15) and destination is not KP" \
        in result.stdout.str()
