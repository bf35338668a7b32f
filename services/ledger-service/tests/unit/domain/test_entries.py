"""Entries: zero legs dropped, zero-sum enforced, reversals mirror."""

import pytest

from exchange_ledger.domain.accounts import AccountKey
from exchange_ledger.domain.entries import EntryKind, Posting, make_entry, reversal_of
from exchange_ledger.domain.invariant import InvariantViolation

A = AccountKey("a", "BTC", "available")
B = AccountKey("b", "BTC", "available")


def test_an_entry_that_does_not_sum_to_zero_raises_an_invariant_violation() -> None:
    with pytest.raises(InvariantViolation, match="zero"):
        make_entry(EntryKind.ADJUSTMENT, "x", [Posting(A, 5, None), Posting(B, -4, None)])


def test_zero_legs_are_dropped_and_an_empty_entry_is_none() -> None:
    entry = make_entry(EntryKind.TRADE, "t", [Posting(A, 5, None), Posting(B, -5, None),
                                              Posting(A, 0, None)])
    assert entry is not None and len(entry.postings) == 2
    assert make_entry(EntryKind.TRADE, "t", [Posting(A, 0, None)]) is None


def test_a_reversal_negates_every_leg() -> None:
    entry = reversal_of("r", [Posting(A, 5, "o"), Posting(B, -5, None)])
    assert entry is not None
    assert [(p.account, p.units, p.order_ref) for p in entry.postings] == [(A, -5, "o"),
                                                                           (B, 5, None)]
