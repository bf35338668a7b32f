from decimal import Context, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_common.money import MoneyFormatError, format_units, parse_units


@pytest.mark.parametrize(
    ("text", "scale", "units"),
    [("0", 0, 0), ("12", 2, 1200), ("1.25", 2, 125), ("1.2500", 2, 125), ("0.00000001", 8, 1)],
)
def test_parse_units_is_exact(text: str, scale: int, units: int) -> None:
    assert parse_units(text, scale) == units


@pytest.mark.parametrize(
    "text", ["", " 1", "1 ", "+1", ".5", "5.", "1e3", "1,5", "NaN", "inf", "0x10", "1.2.3"]
)
def test_parse_units_rejects_anything_but_plain_decimals(text: str) -> None:
    with pytest.raises(MoneyFormatError):
        parse_units(text, 8)


def test_value_off_the_grid_is_rejected_not_rounded() -> None:
    with pytest.raises(MoneyFormatError, match="more than 2 decimal places"):
        parse_units("1.005", 2)


def test_negative_values_need_signed() -> None:
    with pytest.raises(MoneyFormatError, match="negative"):
        parse_units("-1", 2)
    assert parse_units("-1.5", 2, signed=True) == -150


def test_too_many_digits_are_rejected() -> None:
    with pytest.raises(MoneyFormatError, match="too many digits"):
        parse_units("1" * 39, 0)


@pytest.mark.parametrize(
    ("units", "scale", "text"),
    [(0, 2, "0"), (125, 2, "1.25"), (120, 2, "1.2"), (1, 8, "0.00000001"), (-150, 2, "-1.5"),
     (7, 0, "7")],
)
def test_format_units_is_canonical(units: int, scale: int, text: str) -> None:
    assert format_units(units, scale) == text


@given(units=st.integers(min_value=-(10**30), max_value=10**30), scale=st.integers(0, 18))
def test_format_then_parse_round_trips(units: int, scale: int) -> None:
    text = format_units(units, scale)
    assert parse_units(text, scale, signed=True) == units
    assert Decimal(text) == Decimal(units).scaleb(-scale, Context(prec=100))


@pytest.mark.parametrize("text", ["١", "1.٥", "１"])
def test_non_ascii_digits_are_rejected(text: str) -> None:
    with pytest.raises(MoneyFormatError):
        parse_units(text, 2)
