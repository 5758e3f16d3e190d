"""The pytest plugin: ``pytest --compliance-rules PATH`` property-tests every rule of a pack.

Registered through the ``pytest11`` entry point, so installing the package is
enough. Without ``--compliance-rules`` it adds nothing to a run but two
fixtures, ``compliance_rules`` and ``compliance_engine``.

Profiles: ``--compliance-profile ci`` (the default: derandomised, 25 examples
a property, no deadline, no example database) for repeatable CI runs, and
``deep`` (500 examples, random, with the example database) for hunting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

import compliance
from compliance.engine import Engine
from compliance.errors import ComplianceError
from compliance.testing.properties import PACK_PROPERTIES, RULE_PROPERTIES, PropertyFailure

# The "explain" phase traces coverage while shrinking: slow, and our counterexample
# (a case file) already says what failed.
_PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink]
PROFILES = {
    "ci": settings(max_examples=25, derandomize=True, deadline=None, database=None,
                   print_blob=False, phases=_PHASES,
                   suppress_health_check=[HealthCheck.too_slow]),
    "deep": settings(max_examples=500, deadline=None, phases=_PHASES,
                     suppress_health_check=[HealthCheck.too_slow]),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("compliance", "property tests of compliance rule packs")
    group.addoption("--compliance-rules", action="append", default=[], metavar="PATH",
                    help="property-test the rule packs at PATH (file or folder; repeatable)")
    group.addoption("--compliance-profile", choices=sorted(PROFILES), default="ci",
                    help="ci: repeatable and quick (default); deep: many more examples")


@pytest.fixture(scope="session")
def compliance_rules(request: pytest.FixtureRequest) -> compliance.RuleSet:
    """The rule packs given with --compliance-rules, or the bundled ones."""
    paths = request.config.getoption("compliance_rules")
    return compliance.load_rules(paths or None)


@pytest.fixture(scope="session")
def compliance_engine(compliance_rules: compliance.RuleSet) -> Engine:
    """An engine with the rule packs under test prepared once."""
    return Engine(compliance_rules)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    for given in config.getoption("compliance_rules"):
        pack = RulePackNode.from_parent(session, path=Path(given).resolve())
        items.extend(pack.collect())


class RulePackNode(pytest.File):
    """The rule packs at one path, collected into one test item per rule and property."""

    def collect(self) -> Iterator[pytest.Item]:
        profile = PROFILES[self.config.getoption("compliance_profile")]
        try:
            rules = compliance.load_rules(self.path)
        except ComplianceError as exc:
            yield PropertyItem.from_parent(self, name="load", check=_raise(exc))
            return
        engine = Engine(rules)
        for rule in rules:
            for prop in RULE_PROPERTIES:
                if prop.applies(rule):
                    yield PropertyItem.from_parent(
                        self, name=f"{rule.id}::{prop.name}",
                        check=_bind(prop.check, engine, rule, profile), line=rule.source.line)
        for name, check in PACK_PROPERTIES:
            yield PropertyItem.from_parent(self, name=f"pack::{name}",
                                           check=_bind(check, engine, profile))


def _bind(function: Callable[..., None], *args: Any) -> Callable[[], None]:
    return lambda: function(*args)


def _raise(exc: ComplianceError) -> Callable[[], None]:
    def fail() -> None:
        raise PropertyFailure(exc.render())

    return fail


class PropertyItem(pytest.Item):
    """One property of one rule (or of the whole pack)."""

    def __init__(self, *, check: Callable[[], None], line: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.line = line

    def runtest(self) -> None:
        self.check()

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, PropertyFailure):
            notes = "\n".join(getattr(excinfo.value, "__notes__", []))
            return f"{excinfo.value}\n{notes}".rstrip()
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, max(self.line - 1, 0), self.name
