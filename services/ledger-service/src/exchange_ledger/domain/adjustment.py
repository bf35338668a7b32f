"""Adjustments: deposits, withdrawals, credits and debits of a user's available balance,
journaled against the treasury (the outside world)."""

from dataclasses import dataclass
from enum import StrEnum

from exchange_ledger.domain.accounts import TREASURY_OWNER, AccountKey, Kind, is_valid_user
from exchange_ledger.domain.assets import AssetScales, to_units
from exchange_ledger.domain.entries import EntryDraft, EntryKind, Posting, make_entry
from exchange_ledger.domain.rejection import Refusal, Rejection


class AdjustmentKind(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    CREDIT = "credit"
    DEBIT = "debit"


_SIGN = {AdjustmentKind.DEPOSIT: 1, AdjustmentKind.CREDIT: 1,
         AdjustmentKind.WITHDRAWAL: -1, AdjustmentKind.DEBIT: -1}


@dataclass(frozen=True, slots=True)
class Adjustment:
    adjustment_id: str
    owner: str
    asset: str
    delta_units: int
    kind: AdjustmentKind
    reason: str

    def fingerprint(self) -> str:
        return f"{self.owner}|{self.asset}|{self.delta_units}|{self.kind.value}|{self.reason}"


def parse_adjustment(*, adjustment_id: str, owner: str, asset: str, delta: str, kind: str,
                     reason: str, scales: AssetScales) -> Adjustment | Rejection:
    if not adjustment_id or len(adjustment_id) > 128:
        return Rejection(Refusal.INVALID_REQUEST, "adjustment_id must be 1..128 characters")
    if not is_valid_user(owner):
        return Rejection(Refusal.INVALID_ACCOUNT, f"invalid account_id {owner!r}")
    try:
        adj_kind = AdjustmentKind(kind)
    except ValueError:
        return Rejection(Refusal.INVALID_REQUEST,
                         f"kind must be one of {[k.value for k in AdjustmentKind]}")
    units = to_units(scales, asset, delta, what="delta", signed=True)
    if isinstance(units, Rejection):
        return units
    if units == 0 or (units > 0) != (_SIGN[adj_kind] > 0):
        wanted = "positive" if _SIGN[adj_kind] > 0 else "negative"
        return Rejection(Refusal.INVALID_AMOUNT, f"a {adj_kind.value} needs a {wanted} delta")
    if not reason or len(reason) > 500:
        return Rejection(Refusal.INVALID_REQUEST, "reason must be 1..500 characters")
    return Adjustment(adjustment_id, owner, asset, units, adj_kind, reason)


def adjustment_entry(adj: Adjustment) -> EntryDraft:
    entry = make_entry(EntryKind.ADJUSTMENT, adj.adjustment_id, (
        Posting(AccountKey(adj.owner, adj.asset, Kind.AVAILABLE), adj.delta_units, None),
        Posting(AccountKey(TREASURY_OWNER, adj.asset, Kind.EXTERNAL), -adj.delta_units, None),
    ))
    if entry is None:
        raise ValueError("adjustment with zero delta")
    return entry
