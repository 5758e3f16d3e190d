"""The case-file contract as frozen pydantic models: case, transfer, party, item, money, licence.

The contract is ``docs/case-format.md``. Validation errors raised here carry a
stable error type (``unknown_country``, ``unknown_hs_code``...) and, in their
context, a ``hint`` and sometimes a ``path`` that the loader turns into a
file:line:column diagnostic.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from compliance import reference

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
ISO_DATE_SHAPE = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
"""A date as the contract writes it, YYYY-MM-DD in ASCII digits (``\\d`` takes any script's),
as a pattern Python and DuckDB both read (no braces: the screen's SQL templates format it)."""
_ISO_DATE = re.compile(ISO_DATE_SHAPE)


def _country(value: str) -> str:
    if reference.country_name(value) is None:
        raise PydanticCustomError(
            "unknown_country",
            "'{code}' is not an ISO 3166-1 alpha-2 country code",
            {"code": value, "hint": reference.country_hint(value) or ""},
        )
    return value


def _currency(value: str) -> str:
    if reference.currency_name(value) is None:
        raise PydanticCustomError(
            "unknown_currency",
            "'{code}' is not an ISO 4217 currency code",
            {"code": value, "hint": reference.currency_hint(value) or ""},
        )
    return value


def normalise_hs_code(value: str) -> str:
    """Drop dots and spaces: ``"8703.24"`` and ``"8703 24"`` both become ``"870324"``."""
    return value.replace(".", "").replace(" ", "")


def _hs_code(value: str) -> str:
    code = normalise_hs_code(value)
    if not code.isdigit() or not 2 <= len(code) <= 10 or len(code) % 2:
        raise PydanticCustomError(
            "invalid_hs_code",
            "'{code}' is not an HS code: expected 2, 4, 6, 8 or 10 digits (dots and spaces"
            " are ignored)",
            {"code": value, "hint": 'write it as in the tariff, for instance "8703.24"'},
        )
    if reference.hs_entry(code) is None:
        parent = reference.hs_known_parent(code)
        hint = (
            f"{parent.code} exists: {parent.description}"
            if parent
            else "check the chapter: HS chapters run from 01 to 97 (77 is unused)"
        )
        raise PydanticCustomError(
            "unknown_hs_code",
            "HS code '{code}' does not exist in the {version} nomenclature",
            {"code": value, "version": reference.HS_VERSION, "hint": hint},
        )
    return code


def _iso_date(value: Any) -> Any:
    # YAML timestamps reach us as text so that an impossible date (2024-02-30)
    # is reported here, with its field, rather than by the YAML parser.
    if isinstance(value, dt.datetime):
        raise PydanticCustomError("date_type", "expected a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise PydanticCustomError(
                "invalid_date", "'{text}' is not a real date: {reason}",
                {"text": value, "reason": str(exc)},
            ) from None
    raise PydanticCustomError(  # the loader says what was given: "; got text ('19/06/2024')"
        "date_type", "expected a date written YYYY-MM-DD", {"text": value}
    )


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise PydanticCustomError(
            "invalid_slug",
            "'{text}' is not a slug: lower-case letters, digits, '.', '_' and '-',"
            " starting with a letter or digit",
            {"text": value},
        )
    return value


CountryCode = Annotated[str, AfterValidator(_country), Field(description="ISO 3166-1 alpha-2")]
CurrencyCode = Annotated[str, AfterValidator(_currency), Field(description="ISO 4217")]
HsCode = Annotated[
    str,
    AfterValidator(_hs_code),
    Field(description="HS code of 2 to 10 digits; dots and spaces are ignored"),
]
IsoDate = Annotated[
    dt.date, BeforeValidator(_iso_date), Field(description="ISO 8601 date, YYYY-MM-DD")
]
Slug = Annotated[str, AfterValidator(_slug), Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
Text = Annotated[str, Field(min_length=1)]
PositiveDecimal = Annotated[
    Decimal,
    Field(gt=0, allow_inf_nan=False),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
]


class TransferType(StrEnum):
    """How the goods changed hands. Every type is a transfer in the sense of the sanctions texts."""

    SALE = "sale"
    GIFT = "gift"
    LOAN = "loan"
    LEASE = "lease"
    BARTER = "barter"
    DONATION = "donation"
    OTHER = "other"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Money(_Frozen):
    """An amount in a currency."""

    amount: PositiveDecimal
    currency: CurrencyCode

    def __str__(self) -> str:
        return f"{self.amount:,f} {self.currency}"


class Party(_Frozen):
    """A supplier or a recipient."""

    name: Text
    country: CountryCode
    role: Text | None = None
    identifiers: dict[str, str] = Field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.name} ({self.country})"


class Licence(_Frozen):
    """An authorisation a party holds; exemption rules decide what it clears."""

    issuer: Text
    reference: Text
    covers: Text | None = None


class Item(_Frozen):
    """Goods of one kind in a transfer."""

    description: Text
    hs_code: HsCode | None = None
    quantity: PositiveDecimal = Decimal(1)
    unit_value: Money | None = None
    value_estimated: bool = False
    made_in: CountryCode | None = None
    identifiers: dict[str, str] = Field(default_factory=dict)
    notes: str | None = None

    @property
    def total_value(self) -> Money | None:
        """Unit value times quantity, when the unit value is known."""
        if self.unit_value is None:
            return None
        # Both parts were validated already; the product needs no second check.
        return Money.model_construct(amount=self.unit_value.amount * self.quantity,
                                     currency=self.unit_value.currency)


class Transfer(_Frozen):
    """One handing-over of goods: a sale, a gift, a loan... from a supplier to a recipient."""

    id: Text
    date: IsoDate
    type: TransferType
    supplier: Party
    recipient: Party
    origin: CountryCode | None = None
    destination: CountryCode | None = None
    via: tuple[CountryCode, ...] = ()
    items: tuple[Item, ...] = Field(min_length=1)
    licences: tuple[Licence, ...] = ()
    notes: str | None = None

    @property
    def route_origin(self) -> str:
        """The country the goods leave: ``origin``, else the supplier's country."""
        return self.origin or self.supplier.country

    @property
    def route_destination(self) -> str:
        """The final destination: ``destination``, else the recipient's country."""
        return self.destination or self.recipient.country

    @property
    def route(self) -> tuple[str, ...]:
        """Origin, the transit countries in order, and the final destination."""
        return (self.route_origin, *self.via, self.route_destination)


class Case(_Frozen):
    """One matter under review, holding one or more transfers."""

    case: Slug
    title: str | None = None
    sources: tuple[str, ...] = ()
    notes: str | None = None
    transfers: tuple[Transfer, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_transfer_ids(self) -> Case:
        seen: dict[str, int] = {}
        for index, transfer in enumerate(self.transfers):
            if transfer.id in seen:
                raise PydanticCustomError(
                    "duplicate_id",
                    "transfer id '{id}' is used twice (first by transfer {first})",
                    {"id": transfer.id, "first": seen[transfer.id] + 1,
                     "path": ("transfers", index, "id"),
                     "hint": "give every transfer of a case its own id"},
                )
            seen[transfer.id] = index
        return self
