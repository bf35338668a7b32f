"""The version-2 state hash: stable values, the same digests on both paths."""

from hypothesis import given
from hypothesis import strategies as st

from exchange_common.ids import AccountId, Asset
from exchange_core.domain.account import Account
from exchange_core.domain.digest import text_digest
from exchange_core.domain.order import Order
from exchange_core.domain.state_hash import (
    K1,
    K2,
    P1,
    P2,
    _step1,
    _step2,
    account_digest,
    account_record_digest,
    adjustment_digest,
    order_digest,
    order_record_digest,
)


def test_digests_are_pinned_so_a_different_interpreter_hash_fails_here_first() -> None:
    """Golden values: a recorded checkpoint is only as stable as these. If this fails, the
    digest changed: bump the hash version (state_hash.VERSION_PREFIX) instead."""
    assert text_digest("alice") == 397363538825619
    assert order_record_digest(
        "BTC-USDT", [7, "alice", "c1", 1, 37, 3000000, 17, 12, 51000000, 3003000, 2, 9]
    ) == 133897126476126490
    assert account_record_digest(
        ["alice", [["BTC", 5, 0], ["USDT", 10**18, 51000000]], 3, 2]) == 87864027010154250
    assert adjustment_digest("dep-1") == 133249578557053967


def test_an_account_caches_the_same_digest_of_its_id() -> None:
    for name in ("alice", "acct0001", "ünï"):
        assert Account(AccountId(name)).id_digest == text_digest(name)


def test_an_account_with_nothing_to_keep_adds_nothing() -> None:
    assert account_record_digest(None) == 0


def test_one_changed_field_or_character_changes_the_digest() -> None:
    record: list[int | str] = [7, "alice", "c1", 1, 37, 3000000, 17, 12, 51000000, 3003000,
                               2, 9]
    base = order_record_digest("BTC-USDT", record)
    for i, value in enumerate(record):
        if i == 8:  # hold: derived (remaining x unit while open, 0 once closed), not digested
            continue
        changed = list(record)
        changed[i] = value + "x" if isinstance(value, str) else value + 1
        assert order_record_digest("BTC-USDT", changed) != base, f"field {i}"
    assert order_record_digest("ETH-USDT", record) != base
    assert adjustment_digest("dep-1") != adjustment_digest("dep-2")
    assert adjustment_digest("ab") != adjustment_digest("ba")


def test_the_fast_order_digest_equals_the_step_by_step_one() -> None:
    acct = Account(AccountId("alice"))
    for cid, big in (("", 0), ("c1", 0), ("", 2**70)):
        order = Order(7, "BTC-USDT", acct, cid, 1, 37, 3000000, 17, 0, 3003000 + big)
        order.remaining, order.status, order.updated_seq = 12, 2, 9
        record = [7, "alice", cid, 1, 37, 3000000, 17, 12, 999, 3003000 + big, 2, 9]
        assert order_digest(order, text_digest("BTC-USDT")) == order_record_digest(
            "BTC-USDT", record)


@given(st.integers(min_value=0, max_value=P1 - 1), st.integers(min_value=0, max_value=2**62 - 1))
def test_the_division_free_steps_equal_the_remainder(x: int, v: int) -> None:
    assert _step1(x, v) == (x * K1 + v) % P1
    assert _step2(x % P2, v) == (x % P2 * K2 + v) % P2


@given(st.integers(min_value=0, max_value=2**62 - 1), st.integers(min_value=0, max_value=2**62 - 1),
       st.integers(min_value=-1, max_value=2**63), st.integers(min_value=0, max_value=50))
def test_the_fast_account_digest_equals_the_step_by_step_one(available: int, hold: int,
                                                              window: int, count: int) -> None:
    names = ("BTC", "ETH", "USDT")
    acct = Account(AccountId("alice"), {Asset(name): no for no, name in enumerate(names)})
    usdt, btc = Asset("USDT"), Asset("BTC")
    acct.balance(usdt).available = available
    acct.balance(usdt).hold = hold
    acct.balance(btc).available = 5
    acct.rl_window, acct.rl_count = window, count
    balances = [["BTC", 5, 0]] + ([["USDT", available, hold]] if available or hold else [])
    record = ["alice", balances, window if count else -1, count]
    assert account_digest(acct, [text_digest(name) for name in names]) == \
        account_record_digest(record)
