"""Adjustments: sign matches kind, exact amounts, valid accounts."""

import pytest

from exchange_ledger.domain.adjustment import Adjustment, adjustment_entry, parse_adjustment
from exchange_ledger.domain.rejection import Refusal, Rejection

SCALES = {"USDT": 6}


def parse(delta: str, kind: str = "deposit", owner: str = "bea") -> Adjustment | Rejection:
    return parse_adjustment(adjustment_id="a1", owner=owner, asset="USDT", delta=delta,
                            kind=kind, reason="r", scales=SCALES)


@pytest.mark.parametrize(("delta", "kind"), [("-1", "deposit"), ("1", "withdrawal"),
                                             ("0", "credit"), ("-0.5", "credit")])
def test_the_sign_of_the_delta_must_match_the_kind(delta: str, kind: str) -> None:
    result = parse(delta, kind)
    assert isinstance(result, Rejection) and result.code == Refusal.INVALID_AMOUNT


def test_a_system_owner_cannot_be_adjusted() -> None:
    result = parse("1", owner="@treasury")
    assert isinstance(result, Rejection) and result.code == Refusal.INVALID_ACCOUNT


def test_a_withdrawal_debits_available_and_credits_the_treasury() -> None:
    adj = parse("-1.5", "withdrawal")
    assert isinstance(adj, Adjustment) and adj.delta_units == -1_500_000
    entry = adjustment_entry(adj)
    assert [(p.account.owner, p.units) for p in entry.postings] == [("bea", -1_500_000),
                                                                    ("@treasury", 1_500_000)]
