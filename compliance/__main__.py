"""``python -m compliance``: the same command as the ``compliance`` console script."""

from compliance.cli import run

run()
