"""Transfers and cases written back as case-file YAML, ready to paste into a case file."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import Enum
from typing import Any

import yaml

from compliance.models import Case, Transfer


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v not in (None, [], {}, ())}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Enum):
        return value.value
    return value


class _PlainDumper(yaml.SafeDumper):
    """Writes shared values out in full: a case file for people has no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def case_yaml(records: Case | Transfer | Iterable[Transfer], name: str = "counterexample",
              comment: str = "") -> str:
    """A case file holding ``records``, with defaults and empty fields left out."""
    if isinstance(records, Case):
        case = records
    else:
        transfers = (records,) if isinstance(records, Transfer) else tuple(records)
        case = Case(case=name, transfers=transfers)
    data = _clean(case.model_dump(mode="python", exclude_defaults=True))
    for transfer in data.get("transfers", []):  # hs codes read best with their dot
        for item in transfer.get("items", []):
            code = item.get("hs_code")
            if code and len(code) > 4:
                item["hs_code"] = f"{code[:4]}.{code[4:]}"
    text = yaml.dump(data, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, width=100)
    header = "".join(f"# {line}\n" for line in comment.splitlines())
    return header + text
