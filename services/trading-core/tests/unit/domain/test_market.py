"""MarketGrid: exact conversions between decimal strings and ticks / lots / minor units."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_common.ids import Asset, Symbol
from exchange_core.domain import (
    AssetSpec,
    ConfigError,
    MarketGrid,
    MarketSpec,
    codes,
    format_order_id,
    format_trade_id,
    parse_order_id,
)
from exchange_core.domain.engine import _order_number

SCALES = {Asset("BTC"): 8, Asset("USDT"): 6}


def grid(**kw: str) -> MarketGrid:
    spec = MarketSpec(Symbol("BTC-USDT"), Asset("BTC"), Asset("USDT"),
                      tick_size=kw.get("tick", "0.05"), lot_size=kw.get("lot", "0.001"),
                      min_quantity="0.001", max_quantity="10")
    return MarketGrid(spec, SCALES)


def test_price_on_the_tick_grid_converts_to_ticks_exactly() -> None:
    g = grid()
    assert g.parse_price("30000.15").value == 600_003
    assert g.format_price(600_003) == "30000.15"


@pytest.mark.parametrize(("text", "code"), [
    ("30000.17", codes.PRICE_OFF_TICK),  # between ticks of 0.05
    ("30000.051", codes.PRICE_OFF_TICK),  # beyond the tick's decimals
    ("0", codes.INVALID_PRICE),
    ("-1", codes.INVALID_PRICE),
    ("1e3", codes.INVALID_PRICE),
    ("", codes.INVALID_PRICE),
])
def test_bad_prices_get_a_reject_code_never_a_rounded_value(text: str, code: int) -> None:
    parsed = grid().parse_price(text)
    assert (parsed.ok, parsed.code) == (False, code) and parsed.reason


def test_quantity_off_the_lot_grid_is_rejected() -> None:
    assert grid().parse_quantity("0.0015").code == codes.QUANTITY_OFF_LOT
    assert grid().parse_quantity("1.5").value == 1_500


def test_fill_amount_factors_are_exact_integers() -> None:
    g = grid()  # tick 0.05 (5 @ scale 2), lot 0.001 (1 @ scale 3), USDT scale 6
    assert g.quote_per_tick_lot == 5 * 1 * 10  # 0.05 * 0.001 = 0.00005 USDT = 50 minor
    assert g.base_per_lot == 100_000
    assert g.format_amount(Asset("USDT"), 600_003 * 1_500 * g.quote_per_tick_lot) == \
        f"{30000.15 * 1.5:.6f}".rstrip("0")  # 45000.225


def test_amounts_parse_in_minor_units_of_the_asset() -> None:
    g = grid()
    assert g.parse_amount(Asset("USDT"), "12.5").value == 12_500_000
    assert g.parse_amount(Asset("USDT"), "0.0000001").code == codes.INVALID_AMOUNT
    assert g.parse_amount(Asset("BTC"), "-1", signed=True).value == -100_000_000


def test_a_market_whose_quote_scale_cannot_hold_tick_times_lot_is_refused() -> None:
    with pytest.raises(ConfigError):
        MarketGrid(MarketSpec(Symbol("X-Y"), Asset("BTC"), Asset("USDT"), tick_size="0.0001",
                              lot_size="0.001", min_quantity="0.001", max_quantity="1"),
                   SCALES)


def test_config_with_unknown_asset_or_bad_fee_is_refused() -> None:
    with pytest.raises(ConfigError):
        MarketGrid(MarketSpec(Symbol("X-Y"), Asset("ETH"), Asset("USDT"), "0.01", "0.001",
                              "0.001", "1"), SCALES)
    with pytest.raises(ConfigError):
        MarketGrid(MarketSpec(Symbol("X-Y"), Asset("BTC"), Asset("USDT"), "0.01", "0.001",
                              "0.001", "1", taker_fee_ppm=200_000), SCALES)


def test_order_and_trade_ids_round_trip_and_foreign_ids_parse_to_zero() -> None:
    assert format_order_id("BTC-USDT", 42) == "BTC-USDT:42"
    assert parse_order_id("BTC-USDT", "BTC-USDT:42") == 42
    assert parse_order_id("BTC-USDT", "ETH-USDT:42") == 0
    assert parse_order_id("BTC-USDT", "BTC-USDT:x") == 0
    for junk in ("BTC-USDT:²", "BTC-USDT:٣", "BTC-USDT:", "BTC-USDT:-1", "BTC-USDT:1:2",
                 "BTC-USDT", "BTC-USDT:" + "9" * 19, "XBTC-USDT:1"):
        assert parse_order_id("BTC-USDT", junk) == 0, junk
    assert format_trade_id("BTC-USDT", 7) == "BTC-USDT:T7"


def test_asset_spec_is_a_value() -> None:
    assert AssetSpec(Asset("BTC"), 8) == AssetSpec(Asset("BTC"), 8)


@given(st.text(alphabet="0123456789²٣x:-BTCUSD", max_size=24))
def test_the_engines_order_number_parser_agrees_with_parse_order_id(tail: str) -> None:
    for order_id in (f"BTC-USDT:{tail}", tail):
        assert _order_number(order_id, "BTC-USDT:") == parse_order_id("BTC-USDT", order_id)
