"""Property-testing of rule sets: hypothesis strategies, rule witnesses, case-file rendering.

>>> from compliance.testing import transfers, violating
>>> transfers(destination="KP", type="gift")
transfers(destination='KP', type='gift')

The pytest plugin (``pytest --compliance-rules PATH``) is
:mod:`compliance.testing.plugin`; it is registered when the package is installed.
"""

from compliance.testing.render import case_yaml
from compliance.testing.strategies import (
    amounts,
    cases,
    countries,
    hs_codes,
    items,
    money,
    names,
    parties,
    transfers,
)
from compliance.testing.witnesses import UnsatisfiableRule, clearing, undetermined, violating, ways

__all__ = [
    "UnsatisfiableRule",
    "amounts",
    "case_yaml",
    "cases",
    "clearing",
    "countries",
    "hs_codes",
    "items",
    "money",
    "names",
    "parties",
    "transfers",
    "undetermined",
    "violating",
    "ways",
]
