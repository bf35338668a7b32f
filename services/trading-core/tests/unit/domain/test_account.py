"""Per-account risk state: balances created on demand, fixed-window rate limit, the
open-order list."""

from exchange_common.ids import AccountId, Asset
from exchange_core.domain.account import Account
from exchange_core.domain.order import Order


def test_balance_is_created_empty_on_first_use_and_reused() -> None:
    acct = Account(AccountId("a"))
    bal = acct.balance(Asset("USDT"))
    assert (bal.available, bal.hold) == (0, 0) and acct.balance(Asset("USDT")) is bal


def test_rate_limit_admits_up_to_the_limit_per_window_then_resets() -> None:
    acct = Account(AccountId("a"))
    assert [acct.admit(ts, 1_000, 2) for ts in (0, 10, 999)] == [True, True, False]
    assert acct.admit(1_000, 1_000, 2)


def test_a_disabled_rate_limit_admits_everything_and_keeps_no_state() -> None:
    acct = Account(AccountId("a"))
    assert all(acct.admit(ts, 1_000, 0) for ts in range(100))
    assert (acct.rl_window, acct.rl_count) == (-1, 0)


def _orders(acct: Account, count: int) -> list[Order]:
    return [Order(no, "X-Y", acct, "", 1, 0, 100, 1, 0, 0) for no in range(1, count + 1)]


def test_open_orders_are_listed_in_the_order_they_started_resting() -> None:
    acct = Account(AccountId("a"))
    orders = _orders(acct, 4)
    for order in orders:
        acct.link(order)
    assert acct.open_orders() == orders and acct.open_count == 4


def test_unlinking_the_first_a_middle_and_the_last_order_keeps_the_rest_in_order() -> None:
    acct = Account(AccountId("a"))
    o1, o2, o3, o4, o5 = _orders(acct, 5)
    for order in (o1, o2, o3, o4, o5):
        acct.link(order)
    acct.unlink(o3)
    acct.unlink(o1)
    acct.unlink(o5)
    assert acct.open_orders() == [o2, o4] and acct.open_count == 2
    assert (acct.first, acct.last) == (o2, o4)
    assert (o1.prev, o1.next, o3.prev, o3.next) == (None, None, None, None)
    acct.unlink(o2)
    acct.unlink(o4)
    assert acct.open_orders() == [] and (acct.first, acct.last, acct.open_count) == (
        None, None, 0)
    acct.link(o3)
    assert acct.open_orders() == [o3]
