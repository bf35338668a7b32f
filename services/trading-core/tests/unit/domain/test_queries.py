"""Read-only queries of the fast engine: orders, open orders, book depth, balances."""

from exchange_common.ids import AccountId
from exchange_core.domain import Engine, PlaceOrder, codes

from .conftest import BTC, ETH, Harness, base_config


def engine_with_orders() -> tuple[Engine, Harness]:
    h = Harness(Engine(base_config()))
    for acct in ("a", "b"):
        h.fund(acct, "USDT", 10**9)
        h.fund(acct, "BTC", 10**9)
        h.fund(acct, "ETH", 10**12)
    return h.engine, h


def test_get_order_by_number_and_by_client_id() -> None:
    engine, h = engine_with_orders()
    no = h.limit("a", codes.BUY, 100, 5, cid="mine").order_id
    view = engine.get_order("BTC-USDT", no)
    assert view is not None and (view.qty_lots, view.status, view.hold) == (
        5, codes.STATUS_NEW, 5 * 1002)
    assert engine.get_order_by_client("BTC-USDT", "a", "mine") == view
    assert engine.get_order_by_client("ETH-USDT", "a", "mine") is None


def test_a_filled_order_stays_queryable_for_a_while() -> None:
    engine, h = engine_with_orders()
    no = h.limit("a", codes.BUY, 100, 5).order_id
    h.limit("b", codes.SELL, 100, 5)
    view = engine.get_order("BTC-USDT", no)
    assert view is not None and view.status == codes.STATUS_FILLED and view.filled_lots == 5


def test_open_orders_of_an_account_filter_by_symbol_and_limit() -> None:
    engine, h = engine_with_orders()
    h.limit("a", codes.BUY, 100, 1)
    h.limit("a", codes.BUY, 99, 1)
    h.limit("a", codes.BUY, 10, 1, symbol=ETH)
    h.limit("b", codes.BUY, 98, 1)
    assert len(engine.open_orders("a")) == 3
    assert [o.price_ticks for o in engine.open_orders("a", "BTC-USDT")] == [100, 99]
    assert len(engine.open_orders("a", limit=1)) == 1
    assert engine.open_orders("nobody") == []


def test_book_depth_is_best_first_and_carries_the_seq() -> None:
    engine, h = engine_with_orders()
    for price in (97, 99, 98):
        h.limit("a", codes.BUY, price, 2)
    h.limit("b", codes.SELL, 101, 1)
    h.limit("b", codes.SELL, 101, 3)
    depth = engine.book("BTC-USDT", 2)
    assert depth is not None
    assert depth.bids == ((99, 2, 1), (98, 2, 1)) and depth.asks == ((101, 4, 2),)
    assert depth.seq == engine.seq("BTC-USDT") == 5
    assert engine.book("NOPE", 1) is None


def test_queries_do_not_change_the_state() -> None:
    engine, h = engine_with_orders()
    h.limit("a", codes.BUY, 100, 1)
    before = engine.state_hash()
    engine.get_order("BTC-USDT", 1)
    engine.open_orders("a")
    engine.book("BTC-USDT", 10)
    engine.balance("zzz", "USDT")
    assert engine.state_hash() == before


def test_apply_refuses_a_non_command() -> None:
    engine, _ = engine_with_orders()
    try:
        engine.apply(("not", "a", "command"))  # type: ignore[arg-type]
    except TypeError:
        return
    raise AssertionError("a non-command must raise TypeError")


def test_place_order_defaults_keep_the_command_short() -> None:
    cmd = PlaceOrder(BTC, AccountId("a"), "", codes.BUY, codes.LIMIT, 0, 100, 1)
    assert (cmd.stp, cmd.post_only, cmd.ts_ns) == (0, False, 0)
