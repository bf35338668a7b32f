"""The version-2 state hash: stable values, the same digests on both paths."""

from exchange_common.ids import AccountId
from exchange_core.domain.account import Account
from exchange_core.domain.state_hash import (
    account_record_digest,
    adjustment_digest,
    order_record_digest,
    text_digest,
)


def test_digests_are_pinned_so_a_different_interpreter_hash_fails_here_first() -> None:
    """Golden values: a recorded checkpoint is only as stable as these. If this fails, the
    digest changed: bump the hash version (state_hash.VERSION_PREFIX) instead."""
    assert text_digest("alice") == 397363538825619
    assert order_record_digest(
        "BTC-USDT", [7, "alice", "c1", 1, 37, 3000000, 17, 12, 51000000, 3003000, 2, 9]
    ) == 12430181291749797
    assert account_record_digest(
        ["alice", [["BTC", 5, 0], ["USDT", 10**18, 51000000]], 3, 2]) == 126020768587975776
    assert adjustment_digest("dep-1") == 135194835644735669


def test_an_account_caches_the_same_digest_of_its_id() -> None:
    for name in ("alice", "acct0001", "ünï"):
        assert Account(AccountId(name)).id_digest == text_digest(name)


def test_an_account_with_nothing_to_keep_adds_nothing() -> None:
    assert account_record_digest(None) == 0


def test_one_changed_field_or_character_changes_the_digest() -> None:
    record = [7, "alice", "c1", 1, 37, 3000000, 17, 12, 51000000, 3003000, 2, 9]
    base = order_record_digest("BTC-USDT", record)
    for i, value in enumerate(record):
        changed = list(record)
        changed[i] = value + "x" if isinstance(value, str) else value + 1
        assert order_record_digest("BTC-USDT", changed) != base, f"field {i}"
    assert order_record_digest("ETH-USDT", record) != base
    assert adjustment_digest("dep-1") != adjustment_digest("dep-2")
    assert adjustment_digest("ab") != adjustment_digest("ba")
