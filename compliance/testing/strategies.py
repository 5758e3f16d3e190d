"""Hypothesis strategies for case-file records: valid by construction against the contract.

Every strategy draws real codes (ISO 3166-1 countries, ISO 4217 currencies
quoted by the ECB, HS codes of the shipped nomenclature) and takes arguments
that narrow what it draws. Arguments are checked when the strategy is made,
not when it is drawn from, so a typo fails at once with a clear message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import hypothesis.strategies as st
from hypothesis.errors import InvalidArgument

from compliance import reference
from compliance.models import Case, Item, Money, Party, Transfer, TransferType, normalise_hs_code

EARLIEST = dt.date(2006, 10, 14)
"""Default first date: UNSCR 1718 (2006), the first DPRK sanctions resolution."""

LATEST = dt.date(2025, 12, 31)
"""Default last date: within the reference-rate history the package ships."""

RATE_CURRENCIES = ("USD", "EUR", "GBP", "CNY", "JPY", "CHF", "KRW", "SGD", "HKD", "TRY")
"""Currencies drawn by default: quoted by the ECB over the whole default date range."""

_UNSET: Any = object()




def _check_countries(name: str, values: Sequence[str] | str | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    values = (values,) if isinstance(values, str) else tuple(values)
    for value in values:
        if reference.country_name(value) is None:
            raise InvalidArgument(f"{name}={value!r} is not an ISO 3166-1 alpha-2 country code")
    if not values:
        raise InvalidArgument(f"{name} is empty: nothing could be drawn")
    return values


def countries(only: Sequence[str] | str | None = None,
              exclude: Sequence[str] = ()) -> st.SearchStrategy[str]:
    """Country codes: all of ISO 3166-1, or ``only`` these, less ``exclude``."""
    chosen = _check_countries("only", only) or reference.country_codes()
    _check_countries("exclude", list(exclude) or None)
    pool = [c for c in chosen if c not in set(exclude)]
    if not pool:
        raise InvalidArgument("only and exclude leave no country to draw")
    return st.sampled_from(pool)


def hs_codes(under: Sequence[str] | str | None = None,
             levels: Sequence[int] = (2, 4, 6)) -> st.SearchStrategy[str]:
    """Real HS 2022 codes at the given levels (digits), optionally under some prefixes."""
    prefixes = (under,) if isinstance(under, str) else tuple(under or ())
    normal = tuple(normalise_hs_code(p) for p in prefixes)
    for written, prefix in zip(prefixes, normal, strict=True):
        if reference.hs_entry(prefix) is None:
            raise InvalidArgument(f"under={written!r} is not a code of the HS 2022 nomenclature")
    if not set(levels) <= {2, 4, 6}:
        raise InvalidArgument(f"levels={tuple(levels)!r}: HS levels are 2, 4 and 6 digits")
    pool = [c for c in reference.hs_codes() if len(c) in levels
            and (not normal or any(c.startswith(p) for p in normal))]
    if not pool:
        raise InvalidArgument(f"no HS code at levels {tuple(levels)} under {prefixes}")
    return st.sampled_from(pool)


def amounts(min_value: Decimal | float | str = "0.01",
            max_value: Decimal | float | str = "10000000") -> st.SearchStrategy[Decimal]:
    """Positive amounts with two decimals, between the bounds (inclusive)."""
    low, high = Decimal(str(min_value)), Decimal(str(max_value))
    if low <= 0 or high < low:
        raise InvalidArgument(f"amounts need 0 < min_value <= max_value, got {low} and {high}")
    return st.decimals(min_value=low, max_value=high, places=2, allow_nan=False,
                       allow_infinity=False)


def money(currency: str | Sequence[str] | None = None,
          min_value: Decimal | float | str = "0.01",
          max_value: Decimal | float | str = "10000000") -> st.SearchStrategy[Money]:
    """Amounts in a currency (by default one the ECB quotes throughout the default dates)."""
    chosen = (currency,) if isinstance(currency, str) else tuple(currency or RATE_CURRENCIES)
    for code in chosen:
        if reference.currency_name(code) is None:
            raise InvalidArgument(f"currency={code!r} is not an ISO 4217 code")
    return st.builds(lambda a, c: Money(amount=a, currency=c),
                     amounts(min_value, max_value), st.sampled_from(chosen))


_WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=9)
names = st.lists(_WORDS, min_size=1, max_size=3).map(lambda ws: " ".join(ws).title())
"""Plausible names: one to three capitalised words."""


def _composite(name: str) -> Any:
    """``st.composite`` under a public name, so that reprs read like the public call."""
    def wrap(function: Any) -> Any:
        function.__name__ = function.__qualname__ = name
        return st.composite(function)

    return wrap


def _given(options: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not defaults.get(k, _UNSET)}


_ROLES = ["head-of-state", "ministry", "trading-company", "individual"]


@_composite("parties")
def _parties(draw: st.DrawFn, country: Any = None, role: Any = _UNSET) -> Party:
    code = draw(countries(country))
    chosen = draw(st.none() | st.sampled_from(_ROLES)) if role is _UNSET else role
    return Party(name=draw(names), country=code, role=chosen)


def parties(country: Sequence[str] | str | None = None,
            role: str | None = _UNSET) -> st.SearchStrategy[Party]:
    """A party in one of ``country`` (any country by default), with or without a role."""
    _check_countries("country", country)
    return _parties(**_given({"country": country, "role": role},
                             {"country": None, "role": _UNSET}))


@_composite("items")
def _items(draw: st.DrawFn, hs_code: Any = _UNSET, with_value: Any = None,
           currency: Any = None, made_in: Any = _UNSET) -> Item:
    code = draw(st.none() | hs_codes()) if hs_code is _UNSET else (
        None if hs_code is None else draw(hs_codes(hs_code)))
    value = None
    if with_value is True or (with_value is None and draw(st.booleans())):
        value = draw(money(currency))
    place = draw(st.none() | countries()) if made_in is _UNSET else (
        None if made_in is None else draw(countries(made_in)))
    return Item(description=draw(names), hs_code=code,
                quantity=draw(st.integers(1, 20)), unit_value=value, made_in=place)


def items(hs_code: Sequence[str] | str | None = _UNSET, with_value: bool | None = None,
          currency: str | Sequence[str] | None = None,
          made_in: Sequence[str] | str | None = _UNSET) -> st.SearchStrategy[Item]:
    """An item; ``hs_code`` narrows its code to prefixes (None: no code), as does the rest.

    ``with_value``: True always states a unit value, False never, None either.
    """
    if hs_code is not _UNSET and hs_code is not None:
        hs_codes(hs_code)
    if currency is not None:
        money(currency)
    if made_in is not _UNSET:
        _check_countries("made_in", made_in)
    options = {"hs_code": hs_code, "with_value": with_value, "currency": currency,
               "made_in": made_in}
    return _items(**_given(options, {"hs_code": _UNSET, "with_value": None,
                                     "currency": None, "made_in": _UNSET}))


def _dates(date_between: tuple[dt.date, dt.date] | None) -> st.SearchStrategy[dt.date]:
    start, end = date_between or (EARLIEST, LATEST)
    if start > end:
        raise InvalidArgument(f"date_between={date_between!r} is an empty range")
    return st.dates(min_value=start, max_value=end)


@_composite("transfers")
def _transfers(draw: st.DrawFn, destination: Any = None, origin: Any = None, via: Any = None,
               date_between: Any = None, type: Any = None,
               item: Any = None, max_items: int = 3) -> Transfer:
    supplier = draw(parties(origin))
    recipient = draw(parties(destination))
    route_via = list(via) if via is not None else draw(
        st.lists(countries(), max_size=2, unique=True))
    goods = draw(st.lists(item or items(), min_size=1, max_size=max_items))
    return Transfer(
        id=f"t-{draw(st.integers(1, 10_000))}", date=draw(_dates(date_between)),
        type=TransferType(type) if type else draw(st.sampled_from(list(TransferType))),
        supplier=supplier, recipient=recipient,
        origin=supplier.country, destination=recipient.country, via=tuple(route_via),
        items=tuple(goods),
    )


def transfers(*, destination: Sequence[str] | str | None = None,
              origin: Sequence[str] | str | None = None,
              via: Sequence[str] | None = None,
              date_between: tuple[dt.date, dt.date] | None = None,
              type: str | None = None,
              item: st.SearchStrategy[Item] | None = None,
              max_items: int = 3) -> st.SearchStrategy[Transfer]:
    """A transfer; each argument narrows one fact (``destination="KP"``, ``type="gift"``...)."""
    _check_countries("destination", destination)
    _check_countries("origin", origin)
    if via:
        _check_countries("via", via)
    if type is not None and type not in {t.value for t in TransferType}:
        raise InvalidArgument(f"type={type!r} is not a transfer type")
    if max_items < 1:
        raise InvalidArgument("max_items must be at least 1")
    _dates(date_between)
    options = {"destination": destination, "origin": origin, "via": via,
               "date_between": date_between, "type": type, "item": item,
               "max_items": max_items}
    return _transfers(**{k: v for k, v in options.items()
                         if v is not None and not (k == "max_items" and v == 3)})


@_composite("cases")
def _cases(draw: st.DrawFn, transfer: Any = None, max_transfers: int = 4) -> Case:
    drawn = draw(st.lists(transfer or transfers(), min_size=1, max_size=max_transfers))
    unique = [t.model_copy(update={"id": f"t{i + 1}"}) for i, t in enumerate(drawn)]
    return Case(case="generated", transfers=tuple(unique))


def cases(transfer: st.SearchStrategy[Transfer] | None = None,
          max_transfers: int = 4) -> st.SearchStrategy[Case]:
    """A case of one to ``max_transfers`` transfers, with unique ids."""
    if max_transfers < 1:
        raise InvalidArgument("max_transfers must be at least 1")
    options = {"transfer": transfer, "max_transfers": max_transfers}
    return _cases(**{k: v for k, v in options.items()
                     if v is not None and not (k == "max_transfers" and v == 4)})
