"""YAML reading: scalars as written, positions kept, and the safety limits."""

from __future__ import annotations

from decimal import Decimal

import pytest

import compliance
from compliance.errors import InputError
from compliance.loader import MAX_ALIAS_EXPANSION, read_document


def test_scalars_follow_yaml_1_2(write) -> None:
    doc = read_document(write("x.yaml", """
        norway: NO
        yes_word: yes
        octal_looking: 0106
        boolean: true
        decimal: 0.1
        nothing: ~
        day: 2024-06-19
    """))
    assert doc.data == {"norway": "NO", "yes_word": "yes", "octal_looking": 106,
                        "boolean": True, "decimal": Decimal("0.1"), "nothing": None,
                        "day": "2024-06-19"}


def test_hs_codes_are_read_exactly_as_written(write) -> None:
    path = write("case.yaml", """
        case: demo
        transfers:
          - id: t1
            date: 2024-06-19
            type: sale
            supplier: {name: S, country: NO}
            recipient: {name: R, country: KP}
            items:
              - {description: Car, hs_code: 8703.10}
              - {description: Dogs, hs_code: 0106.19}
              - {description: Dogs, hs_code: "0106 19"}
    """)
    case = compliance.load_case(path)
    assert [i.hs_code for i in case.transfers[0].items] == ["870310", "010619", "010619"]
    assert case.transfers[0].supplier.country == "NO"


def test_every_path_keeps_its_position(write) -> None:
    doc = read_document(write("x.yaml", """
        a:
          b: [1, {c: 2}]
    """))
    span = doc.span(("a", "b", 1, "c"))
    assert (span.line, span.column) == (2, 14)
    assert span.snippet().splitlines() == ["   2 |   b: [1, {c: 2}]", " " * 20 + "^"]
    assert doc.span(("a", "missing")).line == 2  # the nearest node that exists


def test_anchors_and_aliases_within_the_limit_are_fine(write) -> None:
    doc = read_document(write("x.yaml", """
        base: &b {country: KP}
        copy: *b
    """))
    assert doc.data["copy"] == {"country": "KP"}


def test_alias_bomb_is_refused(write) -> None:
    levels = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 7):
        levels.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    with pytest.raises(InputError) as caught:
        read_document(write("bomb.yaml", "\n".join(levels) + "\n"))
    assert caught.value.diagnostics[0].code == "alias-limit"
    assert str(MAX_ALIAS_EXPANSION) in caught.value.diagnostics[0].message


def test_multiple_documents_are_refused(write) -> None:
    with pytest.raises(InputError) as caught:
        read_document(write("x.yaml", "a: 1\n---\nb: 2\n"))
    assert caught.value.diagnostics[0].code == "yaml-syntax"
    assert caught.value.diagnostics[0].span.line == 2


def test_folders_are_read_in_order_without_expectations(write, tmp_path) -> None:
    write("cases/b.yaml", "x: 1\n")
    write("cases/a/z.yml", "x: 1\n")
    write("cases/a.expected.yaml", "x: 1\n")
    from compliance.loader import collect_files

    found = [display for _, display in collect_files([tmp_path / "cases"])]
    assert [f.rsplit("/cases/", 1)[1] for f in found] == ["a/z.yml", "b.yaml"]


def test_libyaml_parses_when_pyyaml_has_it() -> None:
    import yaml

    from compliance import loader

    if not yaml.__with_libyaml__:  # a build of PyYAML without libyaml: the Python parser
        assert loader._Composer.__mro__[1] is yaml.reader.Reader
        return
    from yaml.cyaml import CParser

    assert issubclass(loader._Composer, CParser)


def test_one_path_is_read_as_one_path_not_as_the_letters_of_its_name() -> None:
    # "cases/x.yaml" as an iterable is "c", "a", ...: once "/" first, a walk of the whole disk
    from tests.conftest import CASES

    named = CASES / "pyongyang-summit-2024.yaml"
    listed = compliance.load_cases([named])
    assert [c.case.case for c in listed] == ["pyongyang-summit-2024"]
    for one in (named, str(named)):
        assert compliance.load_cases(one) == listed
    assert [c.case.case for c in compliance.load_cases(str(CASES))] == [
        c.case.case for c in compliance.load_cases([CASES])]
