"""The case-file contract: normalisation and validation of single fields."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from compliance import reference
from compliance.models import Case, Item, Money, Party, Transfer

TRANSFER = {"id": "t", "date": "2024-06-19", "type": "gift",
            "supplier": {"name": "S", "country": "RU"},
            "recipient": {"name": "R", "country": "KP"},
            "items": [{"description": "Car"}]}


@pytest.mark.parametrize(("written", "stored"), [
    ("8703.24", "870324"), ("8703 24", "870324"), ("87", "87"), ("8703.24.10", "87032410"),
])
def test_hs_codes_are_normalised(written: str, stored: str) -> None:
    assert Item(description="x", hs_code=written).hs_code == stored


@pytest.mark.parametrize("bad", ["8", "870", "87A3", "12345678901", "9800", "7700", "8799", ""])
def test_bad_hs_codes_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        Item(description="x", hs_code=bad)


def test_route_defaults_to_the_parties_countries() -> None:
    t = Transfer.model_validate(TRANSFER)
    assert (t.route_origin, t.route_destination, t.route) == ("RU", "KP", ("RU", "KP"))
    routed = Transfer.model_validate({**TRANSFER, "origin": "BY", "via": ["CN"],
                                      "destination": "KP"})
    assert routed.route == ("BY", "CN", "KP")


def test_item_defaults_and_total_value() -> None:
    item = Item(description="Cups", quantity=6, unit_value={"amount": "20.5", "currency": "EUR"})
    assert item.quantity == Decimal(6)
    assert item.total_value == Money(amount=Decimal("123.0"), currency="EUR")
    assert Item(description="x").quantity == 1 and Item(description="x").total_value is None


def test_models_are_frozen_and_closed() -> None:
    party = Party(name="S", country="RU")
    with pytest.raises(ValidationError):
        party.country = "KP"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Party(name="S", country="RU", colour="red")  # type: ignore[call-arg]


def test_duplicate_transfer_ids_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        Case.model_validate({"case": "c", "transfers": [TRANSFER, TRANSFER]})
    assert caught.value.errors()[0]["type"] == "duplicate_id"


@pytest.mark.parametrize("code", ["kp", "KPR", "XX", "UK"])
def test_country_codes_are_iso_alpha_2(code: str) -> None:
    with pytest.raises(ValidationError):
        Party(name="S", country=code)


def test_the_nomenclature_holds_only_codes_of_digits() -> None:
    codes = reference.hs_codes()
    assert codes and all(code.isdigit() and len(code) in (2, 4, 6) for code in codes)
