"""The catalogue of facts a condition may read, and how each is taken from a transfer and an item.

A fact has a kind (which operators accept it) and a getter. A getter returns
``None`` when the record does not state the fact; conditions on a missing fact
are unknown, never false.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from compliance.models import Item, Transfer


class Kind(StrEnum):
    """What sort of value a fact holds; operators are declared per kind."""

    COUNTRY = "country"
    COUNTRIES = "countries"
    HS_CODE = "hs_code"
    MONEY = "money"
    NUMBER = "number"
    DATE = "date"
    TEXT = "text"
    TRANSFER_TYPE = "transfer_type"


@dataclass(frozen=True, slots=True)
class Fact:
    """A named fact of a transfer or of one of its items."""

    name: str
    kind: Kind
    scope: str  # "transfer", "item", or "licence" (read by exemptions only)
    doc: str
    get: Callable[[Transfer, Item], Any]

    def __repr__(self) -> str:
        return f"<fact {self.name}: {self.kind}>"


def _party(side: str, attribute: str) -> Callable[[Transfer, Item], Any]:
    def get(transfer: Transfer, item: Item) -> Any:
        return getattr(getattr(transfer, side), attribute)

    return get


_CATALOGUE = (
    Fact("destination", Kind.COUNTRY, "transfer",
         "Final destination: `destination`, else the recipient's country.",
         lambda t, i: t.route_destination),
    Fact("origin", Kind.COUNTRY, "transfer",
         "Country the goods leave: `origin`, else the supplier's country.",
         lambda t, i: t.route_origin),
    Fact("via", Kind.COUNTRIES, "transfer",
         "Transit or transshipment countries, in order (may be empty).",
         lambda t, i: t.via),
    Fact("route", Kind.COUNTRIES, "transfer",
         "The whole route: origin, the transit countries, and the final destination.",
         lambda t, i: t.route),
    Fact("supplier.country", Kind.COUNTRY, "transfer", "Country of the supplying party.",
         _party("supplier", "country")),
    Fact("supplier.name", Kind.TEXT, "transfer", "Name of the supplying party.",
         _party("supplier", "name")),
    Fact("supplier.role", Kind.TEXT, "transfer",
         "Role of the supplying party (head-of-state, ministry...), if stated.",
         _party("supplier", "role")),
    Fact("recipient.country", Kind.COUNTRY, "transfer", "Country of the receiving party.",
         _party("recipient", "country")),
    Fact("recipient.name", Kind.TEXT, "transfer", "Name of the receiving party.",
         _party("recipient", "name")),
    Fact("recipient.role", Kind.TEXT, "transfer",
         "Role of the receiving party, if stated.", _party("recipient", "role")),
    Fact("type", Kind.TRANSFER_TYPE, "transfer",
         "How the goods changed hands: sale, gift, loan, lease, barter, donation, other.",
         lambda t, i: None if t.type is None else t.type.value),  # a flat row may omit it
    Fact("date", Kind.DATE, "transfer", "Date of the transfer.", lambda t, i: t.date),
    Fact("hs_code", Kind.HS_CODE, "item", "HS code of the item (digits only), if stated.",
         lambda t, i: i.hs_code),
    Fact("made_in", Kind.COUNTRY, "item", "Country where the goods were produced, if stated.",
         lambda t, i: i.made_in),
    Fact("description", Kind.TEXT, "item", "Description of the item.",
         lambda t, i: i.description),
    Fact("quantity", Kind.NUMBER, "item", "Number of units (1 unless stated).",
         lambda t, i: i.quantity),
    Fact("unit_value", Kind.MONEY, "item", "Value of one unit, if stated.",
         lambda t, i: i.unit_value),
    Fact("total_value", Kind.MONEY, "item",
         "Unit value times quantity, if the unit value is stated.",
         lambda t, i: i.total_value),
)



def _licence(attribute: str) -> Callable[[Transfer, Item], Any]:
    # An exemption is evaluated once per licence the transfer carries, on a copy
    # of the transfer holding that licence alone (see engine); so the first is it.
    def get(transfer: Transfer, item: Item) -> Any:
        return getattr(transfer.licences[0], attribute) if transfer.licences else None

    return get


_LICENCE_FACTS = (
    Fact("licence.issuer", Kind.TEXT, "licence",
         "Who issued the licence (UN 1718 Committee, BIS, a national authority); exemptions"
         " only.", _licence("issuer")),
    Fact("licence.reference", Kind.TEXT, "licence",
         "The licence's reference; exemptions only.", _licence("reference")),
    Fact("licence.covers", Kind.TEXT, "licence",
         "What the licence says it covers, if stated; exemptions only.", _licence("covers")),
)

FACTS: dict[str, Fact] = {fact.name: fact for fact in (*_CATALOGUE, *_LICENCE_FACTS)}
"""Every fact a condition may name, by name."""
