"""Amounts to minor units: the fast path agrees with parse_units, and refuses the same."""

import pytest

from exchange_common.money import MoneyFormatError, parse_units
from exchange_ledger.domain.assets import to_units
from exchange_ledger.domain.rejection import Refusal, Rejection

SCALES = {"BTC": 8, "JPY": 0, "USD": 2}


@pytest.mark.parametrize("text", ["0", "1", "12.5", "0.00000001", "30000.12345678",
                                  "1.10000000000", "007.50", "99999999999999999999999999999"])
@pytest.mark.parametrize("asset", ["BTC", "USD", "JPY"])
def test_every_amount_is_exactly_what_parse_units_says(text: str, asset: str) -> None:
    try:
        expected: int | None = parse_units(text, SCALES[asset])
    except MoneyFormatError:
        expected = None
    got = to_units(SCALES, asset, text, what="amount")
    if expected is None:
        assert isinstance(got, Rejection) and got.code == Refusal.INVALID_AMOUNT
    else:
        assert got == expected


@pytest.mark.parametrize("text", ["", ".5", "12.", "1_000", "-1", "+1", "1e3", " 1", "1 ",
                                  "\uff11", "\u00b2", "1.\u0662", "0.000000001", "1" * 39])
def test_malformed_or_off_grid_amounts_are_refused(text: str) -> None:
    got = to_units(SCALES, "BTC", text, what="amount")
    assert isinstance(got, Rejection) and got.code == Refusal.INVALID_AMOUNT


def test_an_unknown_asset_is_refused() -> None:
    got = to_units(SCALES, "DOGE", "1", what="amount")
    assert isinstance(got, Rejection) and got.code == Refusal.UNKNOWN_ASSET
