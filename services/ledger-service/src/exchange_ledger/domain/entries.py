"""Journal entries and their postings, built in memory before they are written."""

from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple

from exchange_ledger.domain.accounts import AccountKey
from exchange_ledger.domain.invariant import invariant


class EntryKind(StrEnum):
    RESERVE = "reserve"
    RELEASE = "release"
    TRADE = "trade"
    ADJUSTMENT = "adjustment"
    REVERSAL = "reversal"


class Posting(NamedTuple):
    account: AccountKey
    units: int
    order_ref: str | None


class EntryDraft(NamedTuple):
    kind: EntryKind
    ref: str
    postings: tuple[Posting, ...]


def make_entry(kind: EntryKind, ref: str, legs: Iterable[Posting]) -> EntryDraft | None:
    """Drop zero legs; ``None`` when nothing moves. Raises if the legs do not sum to zero."""
    postings = tuple([p for p in legs if p[1]])
    if not postings:
        return None
    check_zero_sum(postings)
    return EntryDraft(kind, ref, postings)


def check_zero_sum(postings: Iterable[Posting]) -> None:
    """LED-1: per asset, the postings of one entry sum to zero."""
    totals: dict[str, int] = {}
    for account, units, _ in postings:
        asset = account[1]
        totals[asset] = totals.get(asset, 0) + units
    if any(totals.values()):
        invariant(False, f"entry postings do not sum to zero per asset: {sorted(totals.items())}")


def reversal_of(ref: str, postings: Iterable[Posting]) -> EntryDraft | None:
    """The entry that undoes ``postings``: same accounts, opposite signs."""
    return make_entry(
        EntryKind.REVERSAL, ref, (Posting(p.account, -p.units, p.order_ref) for p in postings)
    )


def balance_deltas(postings: Iterable[Posting]) -> dict[AccountKey, int]:
    deltas: dict[AccountKey, int] = {}
    for posting in postings:
        deltas[posting.account] = deltas.get(posting.account, 0) + posting.units
    return deltas
