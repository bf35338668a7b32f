"""The fast book side: sorted levels, FIFO levels with lazy deletion and compaction."""

from exchange_common.ids import AccountId
from exchange_core.domain import codes
from exchange_core.domain.account import Account
from exchange_core.domain.book import BookSide
from exchange_core.domain.order import Order


def order(no: int, side: int, price: int, qty: int = 1) -> Order:
    return Order(no, "X-Y", Account(AccountId("a")), "", side, 0, price, qty, 0, 0)


def test_best_bid_is_the_highest_and_best_ask_the_lowest() -> None:
    bids, asks = BookSide(codes.BUY), BookSide(codes.SELL)
    for i, price in enumerate((101, 99, 100)):
        bids.add(order(i + 1, codes.BUY, price))
        asks.add(order(i + 10, codes.SELL, price + 10))
    assert bids.best() == 101 and asks.best() == 109
    assert [lv[0] for lv in bids.depth(2)] == [101, 100]
    assert [lv[0] for lv in asks.depth(0)] == [109, 110, 111]


def test_an_empty_side_has_best_zero() -> None:
    assert BookSide(codes.SELL).best() == 0


def test_removing_from_the_middle_keeps_fifo_and_totals() -> None:
    side = BookSide(codes.BUY)
    orders = [order(i + 1, codes.BUY, 100, qty=i + 1) for i in range(3)]
    for o in orders:
        side.add(o)
    lvl = side.remove(orders[1])
    orders[1].status = codes.STATUS_CANCELED
    assert (lvl.qty, lvl.count, lvl.dead) == (4, 2, 1)
    assert [o.no for o in lvl.live()] == [1, 3]


def test_removing_the_last_order_drops_the_level() -> None:
    side = BookSide(codes.SELL)
    only = order(1, codes.SELL, 105)
    side.add(only)
    side.remove(only)
    assert side.levels == {} and side.keys == [] and side.best() == 0


def test_a_level_compacts_once_dead_entries_outnumber_live_ones() -> None:
    side = BookSide(codes.BUY)
    orders = [order(i + 1, codes.BUY, 100) for i in range(40)]
    for o in orders:
        side.add(o)
    for o in orders[:30]:
        lvl = side.remove(o)
        o.status = codes.STATUS_CANCELED
        side.compact(lvl)
    lvl = side.levels[100]
    assert lvl.count == 10 and len(lvl.queued()) - lvl.dead == 10
    assert len(lvl.queued()) < 40  # compaction ran
