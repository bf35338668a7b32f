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
    """Golden values: integer/tuple hashing and BLAKE2b as of CPython 3.11 (64-bit). A
    recorded checkpoint is only as stable as these; if this fails, bump the hash version."""
    assert text_digest("alice") == 397363538825619
    assert order_record_digest(
        "BTC-USDT", [7, "alice", "c1", 1, 37, 3000000, 17, 12, 51000000, 3003000, 2, 9]
    ) == 5996399823799491
    assert account_record_digest(
        ["alice", [["BTC", 5, 0], ["USDT", 10**18, 51000000]], 3, 2]) == 65598081483890712
    assert adjustment_digest("dep-1") == 71263728403219692


def test_an_account_caches_the_same_digest_of_its_id() -> None:
    for name in ("alice", "acct0001", "ünï"):
        assert Account(AccountId(name)).id_digest == text_digest(name)


def test_an_account_with_nothing_to_keep_adds_nothing() -> None:
    assert account_record_digest(None) == 0
