"""Static PlaceOrder checks and the price band arithmetic."""

from typing import Any

from exchange_common.ids import AccountId, Asset, Symbol
from exchange_core.domain import MarketGrid, MarketSpec, PlaceOrder, codes
from exchange_core.domain.validation import band_limits, check_place, normalized_tif

GRID = MarketGrid(MarketSpec(Symbol("X-Y"), Asset("X"), Asset("Y"), "1", "1", "1", "100"),
                  {Asset("X"): 0, Asset("Y"): 0})


def cmd(**kw: Any) -> PlaceOrder:
    base = PlaceOrder(Symbol("X-Y"), AccountId("a"), "", codes.BUY, codes.LIMIT, 0, 10, 1)
    return base._replace(**kw)


def test_a_valid_limit_passes() -> None:
    assert check_place(GRID, cmd()) == (codes.OK, "")


def test_market_orders_carry_no_price_and_sells_no_budget() -> None:
    market = cmd(order_type=codes.MARKET, price_ticks=0, quote_budget=100)
    assert check_place(GRID, market)[0] == codes.OK
    assert check_place(GRID, market._replace(price_ticks=5))[0] == codes.INVALID_PRICE
    assert check_place(GRID, market._replace(side=codes.SELL))[0] == codes.INVALID_AMOUNT
    assert check_place(GRID, market._replace(time_in_force=codes.GTC))[0] == \
        codes.INVALID_TIME_IN_FORCE


def test_limit_orders_take_no_market_bounds() -> None:
    assert check_place(GRID, cmd(quote_budget=5))[0] == codes.INVALID_AMOUNT
    assert check_place(GRID, cmd(protection_ticks=5))[0] == codes.INVALID_PRICE
    assert check_place(GRID, cmd(stp=9))[0] == codes.INVALID_ORDER_TYPE


def test_unspecified_tif_means_gtc_for_limit_and_ioc_for_market() -> None:
    assert normalized_tif(codes.LIMIT, 0) == codes.GTC
    assert normalized_tif(codes.MARKET, 0) == codes.IOC


def test_band_limits_round_inwards() -> None:
    assert band_limits(1_000, 500) == (950, 1_050)
    assert band_limits(999, 500) == (950, 1_048)  # ceil(949.05), floor(1048.95)
    assert band_limits(0, 500) == (0, 0) and band_limits(1_000, 0) == (0, 0)
