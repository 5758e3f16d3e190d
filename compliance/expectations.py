"""The expected findings of a case, as written beside it in ``NAME.expected.yaml``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Standing = Literal["findings", "no-findings", "outside", "undetermined", "not-in-force"]


class ExpectedFinding(BaseModel):
    """One finding a transfer must produce: the rule, its verdict, the item (from 1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    verdict: Literal["violation", "review", "undetermined", "exempted"]
    item: int = Field(1, ge=1)
    missing: list[str] | None = Field(
        None, description="For undetermined findings: the facts that must be named missing")


class ExpectedChain(BaseModel):
    """A finding of a correlation rule: the rule, the link, the transfers of the chain in order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    link: str
    transfers: list[str] = Field(min_length=1)


class ExpectedCase(BaseModel):
    """Every transfer of a case with the findings it must produce (an empty list: none).

    ``regimes`` may state, per transfer, the standing under some packs
    (``outside``, ``no-findings``...): the packs not named are not checked.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    case: str
    transfers: dict[str, list[ExpectedFinding]]
    regimes: dict[str, dict[str, Standing]] = Field(default_factory=dict)
    chains: list[ExpectedChain] = Field(default_factory=list,
                                        description="Every chain the case must give, no more")
