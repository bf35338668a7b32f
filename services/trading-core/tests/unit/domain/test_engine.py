"""Scenario tests of the engine, run against both the fast and the naive engine.

BTC-USDT in the base config: 1 tick x 1 lot = 10 USDT minor units, 1 lot = 100_000 BTC
minor units; maker fee 0.1 %, taker fee 0.2 %. A buy at 100 ticks reserves
100*10 + ceil(1000 * 0.2 %) = 1002 per lot.
"""

from collections.abc import Callable
from typing import Any

from exchange_core.domain import (
    BookDelta,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    TradeExecuted,
    codes,
)
from exchange_core.domain.events import one_level

from .conftest import ETH, Harness, base_config

BUY, SELL = codes.BUY, codes.SELL
LOT = 100_000  # BTC minor units per lot


def funded(h: Harness, *accounts: str) -> Harness:
    for account in accounts:
        h.fund(account, "USDT", 10_000_000)
        h.fund(account, "BTC", 1_000 * LOT)
        h.fund(account, "ETH", 10**10)
    return h


def kinds(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


# ---- resting and matching ------------------------------------------------------------


def test_a_limit_buy_that_does_not_cross_rests_and_reserves_price_times_qty_plus_max_fee(
        h: Harness) -> None:
    funded(h, "a")
    r = h.limit("a", BUY, 100, 10)
    assert r.accepted and r.status == codes.STATUS_NEW and r.order_id == r.seq
    accepted = r.events[0]
    assert isinstance(accepted, OrderAccepted)
    assert (accepted.reserved_asset, accepted.reserved_amount) == ("USDT", 10 * 1002)
    assert r.events[-1] == BookDelta(((100, 10, 1),), ())
    assert h.bal("a", "USDT") == (10_000_000 - 10_020, 10_020)


def test_a_crossing_order_trades_at_the_maker_price_and_settles_exactly(h: Harness) -> None:
    funded(h, "a", "b")
    h.limit("b", SELL, 100, 10)
    r = h.limit("a", BUY, 110, 10)
    trade = next(e for e in r.events if isinstance(e, TradeExecuted))
    cost = 100 * 10 * 10
    assert (trade.price_ticks, trade.qty_lots, trade.quote_amount) == (100, 10, cost)
    assert (trade.buyer_fee, trade.seller_fee) == (20, 10)  # taker 0.2 %, maker 0.1 %
    unit = 110 * 10 + 3  # ceil(1100 * 0.2 %) = 3
    assert trade.buyer_refund == 10 * unit - cost - 20
    assert r.status == codes.STATUS_FILLED and r.filled_lots == 10
    assert h.bal("a", "USDT") == (10_000_000 - cost - 20, 0)
    assert h.bal("a", "BTC") == (1_010 * LOT, 0)
    assert h.bal("b", "USDT") == (10_000_000 + cost - 10, 0)
    assert h.bal("b", "BTC") == (990 * LOT, 0)
    assert h.bal("fees", "USDT") == (30, 0)


def test_event_order_of_a_taker_is_accepted_trades_maker_filled_taker_end_then_delta(
        h: Harness) -> None:
    funded(h, "a", "b")
    h.limit("b", SELL, 100, 4)
    r = h.limit("a", BUY, 100, 4)
    assert kinds(r.events) == ["OrderAccepted", "TradeExecuted", "OrderFilled", "OrderFilled",
                               "BookDelta"]
    assert r.events[-1] == BookDelta((), ((100, 0, 0),))


def test_partial_fill_rests_the_remainder_as_partially_filled(h: Harness) -> None:
    funded(h, "a", "b")
    h.limit("b", SELL, 100, 4)
    r = h.limit("a", BUY, 100, 10)
    assert r.status == codes.STATUS_PARTIALLY_FILLED and r.filled_lots == 4
    assert r.events[-1] == BookDelta(((100, 6, 1),), ((100, 0, 0),))
    assert h.bal("a", "USDT")[1] == 6 * 1002


def test_orders_at_one_price_fill_first_in_first_out(h: Harness) -> None:
    funded(h, "a", "b", "c")
    first = h.limit("b", SELL, 100, 5).order_id
    second = h.limit("c", SELL, 100, 5).order_id
    r = h.limit("a", BUY, 100, 7)
    trades = [e for e in r.events if isinstance(e, TradeExecuted)]
    assert [(t.maker_order_id, t.qty_lots) for t in trades] == [(first, 5), (second, 2)]


def test_the_best_price_level_fills_first_across_levels(h: Harness) -> None:
    funded(h, "a", "b")
    h.limit("b", SELL, 103, 1)
    h.limit("b", SELL, 101, 1)
    h.limit("b", SELL, 102, 1)
    r = h.limit("a", BUY, 103, 3)
    assert [e.price_ticks for e in r.events if isinstance(e, TradeExecuted)] == [101, 102, 103]


def test_a_sell_taker_walks_bids_from_the_highest(h: Harness) -> None:
    funded(h, "a", "b")
    h.limit("b", BUY, 98, 1)
    h.limit("b", BUY, 99, 1)
    r = h.limit("a", SELL, 98, 2)
    assert [e.price_ticks for e in r.events if isinstance(e, TradeExecuted)] == [99, 98]
    assert r.events[-1] == BookDelta(((99, 0, 0), (98, 0, 0)), ())


# ---- time in force -------------------------------------------------------------------


def test_ioc_remainder_is_canceled_and_its_hold_released(h: Harness) -> None:
    funded(h, "a", "b")
    h.limit("b", SELL, 100, 3)
    r = h.limit("a", BUY, 100, 10, tif=codes.IOC)
    end = r.events[-2]
    assert isinstance(end, OrderCanceled) and end.reason == codes.CANCEL_IOC_REMAINDER
    assert (end.filled_lots, end.canceled_lots, end.released_amount) == (3, 7, 7 * 1002)
    assert r.status == codes.STATUS_CANCELED and h.bal("a", "USDT")[1] == 0


def test_fok_that_cannot_fill_completely_is_rejected_and_changes_nothing(h: Harness) -> None:
    funded(h, "a", "b")
    h.limit("b", SELL, 100, 3)
    before = h.bal("a", "USDT")
    r = h.limit("a", BUY, 100, 4, tif=codes.FOK)
    assert r.code == codes.FOK_UNFILLABLE and kinds(r.events) == ["OrderRejected"]
    assert h.bal("a", "USDT") == before


def test_fok_that_can_fill_fills_completely(h: Harness) -> None:
    funded(h, "a", "b")
    h.limit("b", SELL, 100, 3)
    h.limit("b", SELL, 101, 3)
    r = h.limit("a", BUY, 101, 5, tif=codes.FOK)
    assert r.status == codes.STATUS_FILLED and r.filled_lots == 5


# ---- market orders -------------------------------------------------------------------


def test_market_sell_sweeps_and_cancels_the_unfilled_remainder(h: Harness) -> None:
    funded(h, "a", "b")
    h.limit("b", BUY, 100, 2)
    h.limit("b", BUY, 90, 2)
    r = h.market("a", SELL, 5)
    assert r.filled_lots == 4 and r.status == codes.STATUS_CANCELED
    end = r.events[-2]
    assert isinstance(end, OrderCanceled) and end.reason == codes.CANCEL_MARKET_REMAINDER
    assert end.released_amount == 1 * LOT


def test_market_buy_with_a_quote_budget_spends_at_most_the_budget_fee_included(
        h: Harness) -> None:
    funded(h, "a", "b")
    h.limit("b", SELL, 100, 50)
    r = h.market("a", BUY, 50, budget=5_000)  # 1000 + 2 fee per lot -> 4 lots
    assert r.filled_lots == 4
    end = r.events[-2]
    assert isinstance(end, OrderCanceled) and end.released_amount == 5_000 - 4 * 1_002
    assert h.bal("a", "USDT") == (10_000_000 - 4_008, 0)


def test_market_buy_with_a_protection_price_stops_there(h: Harness) -> None:
    funded(h, "a", "b")
    h.limit("b", SELL, 100, 1)
    h.limit("b", SELL, 105, 1)
    r = h.market("a", BUY, 2, protection=101)
    assert r.filled_lots == 1
    assert isinstance(r.events[0], OrderAccepted) and r.events[0].reserved_amount == 2 * (
        1010 + 3)


def test_market_buy_without_budget_or_protection_is_rejected(h: Harness) -> None:
    funded(h, "a")
    assert h.market("a", BUY, 1).code == codes.MARKET_BUY_NEEDS_BOUND


def test_market_order_on_an_empty_side_is_rejected_for_no_liquidity(h: Harness) -> None:
    funded(h, "a")
    assert h.market("a", SELL, 1).code == codes.NO_LIQUIDITY


# ---- post-only and self-trade prevention --------------------------------------------


def test_post_only_that_would_take_is_rejected(h: Harness) -> None:
    funded(h, "a", "b")
    h.limit("b", SELL, 100, 1)
    assert h.limit("a", BUY, 100, 1, post_only=True).code == codes.POST_ONLY_WOULD_TAKE
    assert h.limit("a", BUY, 99, 1, post_only=True).status == codes.STATUS_NEW


def test_stp_none_lets_an_account_trade_with_itself(h: Harness) -> None:
    funded(h, "a")
    h.limit("a", SELL, 100, 1)
    r = h.limit("a", BUY, 100, 1, stp=codes.STP_NONE)
    assert r.status == codes.STATUS_FILLED


def test_stp_cancel_newest_cancels_the_incoming_order(h: Harness) -> None:
    funded(h, "a")
    resting = h.limit("a", SELL, 100, 1).order_id
    r = h.limit("a", BUY, 100, 1, stp=codes.STP_CANCEL_NEWEST)
    end = r.events[-1]
    assert isinstance(end, OrderCanceled) and end.reason == codes.CANCEL_SELF_TRADE_PREVENTION
    assert end.order_id == r.order_id != resting and r.status == codes.STATUS_CANCELED


def test_stp_cancel_oldest_cancels_the_resting_order_and_keeps_matching(h: Harness) -> None:
    funded(h, "a", "b")
    own = h.limit("a", SELL, 100, 1).order_id
    h.limit("b", SELL, 100, 1)
    r = h.limit("a", BUY, 100, 1, stp=codes.STP_CANCEL_OLDEST)
    assert kinds(r.events)[:3] == ["OrderAccepted", "OrderCanceled", "TradeExecuted"]
    canceled = r.events[1]
    assert isinstance(canceled, OrderCanceled) and canceled.order_id == own
    assert r.status == codes.STATUS_FILLED


def test_stp_cancel_both_cancels_maker_and_taker(h: Harness) -> None:
    funded(h, "a")
    h.limit("a", SELL, 100, 1)
    r = h.limit("a", BUY, 100, 1, stp=codes.STP_CANCEL_BOTH)
    cancels = [e for e in r.events if isinstance(e, OrderCanceled)]
    assert len(cancels) == 2 and r.status == codes.STATUS_CANCELED
    assert h.bal("a", "USDT")[1] == 0 and h.bal("a", "BTC")[1] == 0


# ---- symbol modes --------------------------------------------------------------------


def test_halted_symbol_rejects_orders_and_cancels(h: Harness) -> None:
    funded(h, "a")
    no = h.limit("a", BUY, 100, 1).order_id
    assert h.mode(codes.MODE_HALTED).mode == codes.MODE_HALTED
    assert h.limit("a", BUY, 100, 1).code == codes.SYMBOL_HALTED
    assert h.cancel("a", no).code == codes.SYMBOL_HALTED


def test_cancel_only_symbol_rejects_orders_but_accepts_cancels(h: Harness) -> None:
    funded(h, "a")
    no = h.limit("a", BUY, 100, 1).order_id
    h.mode(codes.MODE_CANCEL_ONLY)
    assert h.limit("a", BUY, 100, 1).code == codes.SYMBOL_CANCEL_ONLY
    assert h.cancel("a", no).accepted


def test_post_only_symbol_accepts_only_orders_that_rest(h: Harness) -> None:
    funded(h, "a", "b")
    h.limit("b", SELL, 100, 1)
    h.mode(codes.MODE_POST_ONLY)
    assert h.limit("a", BUY, 99, 1, tif=codes.IOC).code == codes.SYMBOL_POST_ONLY
    assert h.market("a", SELL, 1).code == codes.SYMBOL_POST_ONLY
    assert h.limit("a", BUY, 100, 1).code == codes.POST_ONLY_WOULD_TAKE
    assert h.limit("a", BUY, 99, 1).status == codes.STATUS_NEW


def test_an_unknown_mode_is_rejected(h: Harness) -> None:
    assert h.mode(9).code == codes.INVALID_MODE


# ---- reject reasons ------------------------------------------------------------------


def test_insufficient_funds_is_rejected_and_changes_nothing(h: Harness) -> None:
    h.fund("a", "USDT", 1_001)
    r = h.limit("a", BUY, 100, 1)
    assert r.code == codes.INSUFFICIENT_FUNDS and h.bal("a", "USDT") == (1_001, 0)


def test_static_rejects_name_the_first_bad_field(h: Harness) -> None:
    funded(h, "a")
    assert h.limit("a", 3, 100, 1).code == codes.INVALID_SIDE
    assert h.limit("a", BUY, 0, 1).code == codes.INVALID_PRICE
    assert h.limit("a", BUY, 100, 0).code == codes.INVALID_QUANTITY
    assert h.limit("a", BUY, 100, 100_001).code == codes.QUANTITY_ABOVE_MAX
    assert h.limit("a", BUY, 100, 1, tif=7).code == codes.INVALID_TIME_IN_FORCE
    assert h.limit("a", BUY, 100, 1, tif=codes.IOC, post_only=True).code == \
        codes.INVALID_TIME_IN_FORCE
    assert h.limit("", BUY, 100, 1).code == codes.INVALID_ACCOUNT
    assert h.limit("a", BUY, 100, 1, cid="x" * 65).code == codes.INVALID_CLIENT_ORDER_ID


def test_quantity_below_min_and_notional_below_min_are_rejected(
        make: Callable[..., Harness]) -> None:
    h = funded(make(base_config(min_quantity="0.002", min_notional="0.005")), "a")
    assert h.limit("a", BUY, 100, 1).code == codes.QUANTITY_BELOW_MIN
    assert h.limit("a", BUY, 100, 4).code == codes.NOTIONAL_BELOW_MIN  # 0.004 < 0.005
    assert h.limit("a", BUY, 100, 5).accepted


def test_duplicate_client_order_id_among_open_orders_is_rejected(h: Harness) -> None:
    funded(h, "a")
    h.limit("a", BUY, 100, 1, cid="x")
    assert h.limit("a", BUY, 99, 1, cid="x").code == codes.DUPLICATE_CLIENT_ORDER_ID
    h.cancel("a", cid="x")
    assert h.limit("a", BUY, 99, 1, cid="x").accepted


def test_too_many_open_orders_is_rejected(make: Callable[..., Harness]) -> None:
    cfg = base_config()
    h = funded(make(cfg.__class__(cfg.assets, cfg.markets,
                                  cfg.limits.__class__(max_open_orders=2))), "a")
    h.limit("a", BUY, 100, 1)
    h.limit("a", BUY, 99, 1)
    assert h.limit("a", BUY, 98, 1).code == codes.TOO_MANY_OPEN_ORDERS


def test_rate_limit_counts_commands_per_window_of_command_time(
        make: Callable[..., Harness]) -> None:
    cfg = base_config()
    limits = cfg.limits.__class__(rate_limit_count=2, rate_limit_window_ns=1_000)
    h = funded(make(cfg.__class__(cfg.assets, cfg.markets, limits)), "a")
    h.ts_ns = 5_000
    assert h.limit("a", BUY, 100, 1).accepted
    assert h.limit("a", BUY, 100, 1).accepted
    assert h.limit("a", BUY, 100, 1).code == codes.RATE_LIMITED
    h.ts_ns = 6_000
    assert h.limit("a", BUY, 100, 1).accepted


def test_price_outside_the_band_around_the_reference_is_rejected(
        make: Callable[..., Harness]) -> None:
    h = funded(make(base_config(price_band_bps=500, reference_price="1")), "a", "b")
    assert h.limit("a", BUY, 106, 1).code == codes.PRICE_OUTSIDE_BAND
    assert h.limit("a", SELL, 94, 1).code == codes.PRICE_OUTSIDE_BAND
    assert h.limit("a", BUY, 105, 1).accepted


def test_the_band_follows_the_last_trade_price(make: Callable[..., Harness]) -> None:
    h = funded(make(base_config(price_band_bps=500, reference_price="1")), "a", "b")
    h.limit("b", SELL, 105, 1)
    h.limit("a", BUY, 105, 1)  # last trade 105 -> band 99.75..110.25
    assert h.limit("a", BUY, 110, 1).accepted
    assert h.limit("a", BUY, 99, 1).code == codes.PRICE_OUTSIDE_BAND


def test_an_unknown_symbol_is_rejected_without_a_sequence_number(h: Harness) -> None:
    from exchange_common.ids import Symbol

    r = h.limit("a", BUY, 100, 1, symbol=Symbol("NOPE-USDT"))
    assert (r.code, r.seq, r.events) == (codes.UNKNOWN_SYMBOL, 0, [])


# ---- cancels -------------------------------------------------------------------------


def test_cancel_by_order_id_releases_the_hold_and_removes_the_level(h: Harness) -> None:
    funded(h, "a")
    no = h.limit("a", BUY, 100, 3).order_id
    r = h.cancel("a", no)
    assert r.status == codes.STATUS_CANCELED
    assert isinstance(r.events[0], OrderCanceled) and r.events[0].released_amount == 3 * 1002
    assert r.events[1] == BookDelta(((100, 0, 0),), ())
    assert h.bal("a", "USDT") == (10_000_000, 0)


def test_cancel_by_client_order_id(h: Harness) -> None:
    funded(h, "a")
    h.limit("a", BUY, 100, 3, cid="c1")
    assert h.cancel("a", cid="c1").accepted
    assert h.cancel("a", cid="c1").code == codes.ORDER_NOT_FOUND


def test_cancel_of_another_accounts_order_is_not_found(h: Harness) -> None:
    funded(h, "a", "b")
    no = h.limit("a", BUY, 100, 3).order_id
    r = h.cancel("b", no)
    assert r.code == codes.ORDER_NOT_FOUND and isinstance(r.events[0], OrderRejected)


def test_cancel_of_a_filled_order_is_rejected_naming_the_order(h: Harness) -> None:
    funded(h, "a", "b")
    no = h.limit("a", BUY, 100, 1).order_id
    h.limit("b", SELL, 100, 1)
    r = h.cancel("a", no)
    rejected = r.events[0]
    assert r.code == codes.ORDER_NOT_FOUND
    assert isinstance(rejected, OrderRejected) and rejected.order_id == no


def test_cancel_in_the_middle_of_a_level_keeps_fifo_of_the_rest(h: Harness) -> None:
    funded(h, "a", "b", "c")
    first = h.limit("b", SELL, 100, 1).order_id
    middle = h.limit("c", SELL, 100, 1).order_id
    last = h.limit("b", SELL, 100, 1).order_id
    h.cancel("c", middle)
    r = h.limit("a", BUY, 100, 2)
    assert [e.maker_order_id for e in r.events if isinstance(e, TradeExecuted)] == [first, last]


def test_cancel_all_of_an_account_on_one_symbol(h: Harness) -> None:
    funded(h, "a", "b")
    h.limit("a", BUY, 100, 1)
    h.limit("a", BUY, 99, 1)
    h.limit("b", BUY, 100, 1)
    h.limit("a", BUY, 10, 1, symbol=ETH)
    r = h.cancel_all("a", "BTC-USDT")
    assert r.canceled_count == 2
    assert r.events[-1] == BookDelta(((100, 1, 1), (99, 0, 0)), ())


def test_cancel_all_symbols_gives_one_batch_per_symbol(h: Harness) -> None:
    funded(h, "a")
    h.limit("a", BUY, 100, 1)
    h.limit("a", BUY, 10, 1, symbol=ETH)
    r = h.cancel_all("a")
    assert r.canceled_count == 2 and [b.symbol for b in r.batches()] == ["BTC-USDT", "ETH-USDT"]
    assert all(b.seq > 0 for b in r.batches())


def test_admin_cancel_all_uses_the_admin_reason(h: Harness) -> None:
    funded(h, "a", "b")
    h.limit("a", BUY, 100, 1)
    h.limit("b", BUY, 100, 1)
    r = h.cancel_all("", "BTC-USDT")
    reasons = {e.reason for e in r.events if isinstance(e, OrderCanceled)}
    assert r.canceled_count == 2 and reasons == {codes.CANCEL_ADMIN}


# ---- balances ------------------------------------------------------------------------


def test_balance_credit_and_debit_apply_at_most_once(h: Harness) -> None:
    from exchange_common.ids import AccountId, Asset
    from exchange_core.domain import BalanceAdjust

    assert h.run(BalanceAdjust("x", AccountId("a"), Asset("USDT"), 100)).accepted
    assert h.run(BalanceAdjust("x", AccountId("a"), Asset("USDT"), 100)).code == \
        codes.DUPLICATE_EVENT
    assert h.run(BalanceAdjust("y", AccountId("a"), Asset("USDT"), -101)).code == \
        codes.INSUFFICIENT_FUNDS
    assert h.run(BalanceAdjust("z", AccountId("a"), Asset("USDT"), -100)).accepted
    assert h.run(BalanceAdjust("w", AccountId("a"), Asset("XXX"), 1)).code == \
        codes.INVALID_AMOUNT
    assert h.bal("a", "USDT") == (0, 0)


def test_held_funds_cannot_be_debited(h: Harness) -> None:
    from exchange_common.ids import AccountId, Asset
    from exchange_core.domain import BalanceAdjust

    h.fund("a", "USDT", 1_002)
    h.limit("a", BUY, 100, 1)
    assert h.run(BalanceAdjust("d", AccountId("a"), Asset("USDT"), -1)).code == \
        codes.INSUFFICIENT_FUNDS


def test_a_fully_filled_maker_emits_order_filled(h: Harness) -> None:
    funded(h, "a", "b")
    maker = h.limit("b", BUY, 100, 2).order_id
    r = h.limit("a", SELL, 100, 2)
    filled = [e for e in r.events if isinstance(e, OrderFilled)]
    assert [f.order_id for f in filled] == [maker, r.order_id]


def test_a_one_level_delta_equals_the_same_delta_as_tuples() -> None:
    """events.BookDelta keeps one level as four ints; its bids/asks are the tuples."""
    bid = one_level(codes.BUY, 100, 10, 1)
    ask = one_level(codes.SELL, 101, 0, 0)
    assert (bid.bids, bid.asks) == (((100, 10, 1),), ())
    assert (ask.bids, ask.asks) == ((), ((101, 0, 0),))
    assert bid == BookDelta(((100, 10, 1),), ()) and ask == BookDelta((), ((101, 0, 0),))
    assert bid != ask and bid != one_level(codes.SELL, 100, 10, 1)
    assert hash(bid) == hash(BookDelta(((100, 10, 1),), ()))
    assert repr(ask) == "BookDelta(bids=(), asks=((101, 0, 0),))"
