"""Per-account risk state: balances created on demand, fixed-window rate limit."""

from exchange_common.ids import AccountId, Asset
from exchange_core.domain.account import Account


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
