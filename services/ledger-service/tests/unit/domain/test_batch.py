"""Planning a batch: dedup, conflicts, parking, epochs, and the poison stop."""

from exchange_ledger.domain.accounts import AccountKey
from exchange_ledger.domain.batch import LedgerView, plan_batch
from exchange_ledger.domain.decoding import decode_order_event, decode_trade_event
from exchange_ledger.domain.entries import EntryDraft, EntryKind, Posting
from exchange_ledger.domain.inbound import EventKind, Inbound, Source
from exchange_ledger.domain.rejection import Refusal, Rejection
from exchange_ledger.testing import CoreEvents

SCALES = {"BTC": 8, "USDT": 8}


def order(payload: bytes) -> Inbound:
    event = decode_order_event(payload, Source("o"), SCALES)
    assert isinstance(event, Inbound)
    return event


def trade(payload: bytes) -> Inbound:
    event = decode_trade_event(payload, Source("t"), SCALES)
    assert isinstance(event, Inbound)
    return event


def funded() -> LedgerView:
    return LedgerView(balances={AccountKey("bea", "USDT", "available"): 20_000 * 10**8,
                                AccountKey("sam", "BTC", "available"): 10**8})


M = CoreEvents()
BUY = order(M.accepted("b1", "bea", "USDT", "15020", seq=1))
SELL = order(M.accepted("s1", "sam", "BTC", "0.5", seq=2))
TRADE = trade(M.trade("t1", price="30000", quantity="0.5", quote_amount="15000", buyer="bea",
                      seller="sam", buyer_order="b1", seller_order="s1", seq=3,
                      buyer_fee="15", seller_fee="15", buyer_refund="5"))


def test_events_in_order_all_apply() -> None:
    plan = plan_batch(funded(), [BUY, SELL, TRADE])
    assert [e.event_id for e in plan.applied] == [BUY.event_id, SELL.event_id, TRADE.event_id]
    assert plan.poison is None and plan.consumed == 3
    assert plan.deltas[AccountKey("bea", "USDT", "hold")] == 0


def test_a_trade_before_its_orders_parks_then_applies_when_they_arrive() -> None:
    plan = plan_batch(funded(), [TRADE, BUY, SELL])
    assert plan.parked_new == []  # parked, then woken within the same batch
    assert [e.event_id for e in plan.applied] == [BUY.event_id, SELL.event_id, TRADE.event_id]
    assert plan.processed[TRADE.event_id][1] == "applied"


def test_a_trade_whose_orders_are_elsewhere_stays_parked() -> None:
    plan = plan_batch(funded(), [TRADE, BUY])
    assert [e.event_id for e in plan.parked_new] == [TRADE.event_id]
    assert plan.processed[TRADE.event_id][1] == "parked"


def test_the_same_event_twice_is_a_duplicate() -> None:
    plan = plan_batch(funded(), [BUY, BUY])
    assert plan.duplicates == 1 and len(plan.applied) == 1


def test_the_same_trade_under_another_event_id_is_a_duplicate() -> None:
    again = trade(CoreEvents().trade(
        "t1", price="30000", quantity="0.5", quote_amount="15000", buyer="bea", seller="sam",
        buyer_order="b1", seller_order="s1", seq=3, index=7, buyer_fee="15", seller_fee="15",
        buyer_refund="5"))
    plan = plan_batch(funded(), [BUY, SELL, TRADE, again])
    assert plan.duplicates == 1 and plan.processed[again.event_id][1] == "duplicate"


def test_a_known_trade_id_with_other_content_stops_the_batch() -> None:
    forged = trade(CoreEvents().trade(
        "t1", price="30000", quantity="0.5", quote_amount="15000", buyer="bea", seller="sam",
        buyer_order="b1", seller_order="s1", seq=9, buyer_fee="16", seller_fee="15",
        buyer_refund="4"))
    plan = plan_batch(funded(), [BUY, SELL, TRADE, forged, order(M.accepted("x", "bea", "USDT",
                                                                            "1", seq=10))])
    assert plan.poison is not None and plan.poison.index == 3
    assert plan.poison.rejection.code == Refusal.EXISTS_WITH_DIFFERENT_CONTENT
    assert plan.consumed == 3 and len(plan.applied) == 3


def test_a_movement_below_zero_is_poison_and_moves_nothing() -> None:
    plan = plan_batch(LedgerView(), [BUY])
    assert plan.poison is not None and plan.poison.rejection.code == Refusal.INSUFFICIENT_FUNDS
    assert plan.deltas == {} and plan.applied == []


def test_an_undecodable_event_is_poison_at_its_index() -> None:
    bad = Rejection(Refusal.INVALID_REQUEST, "garbage")
    plan = plan_batch(funded(), [BUY, bad, SELL])
    assert plan.poison is not None and plan.poison.index == 1 and plan.consumed == 1


def test_an_older_epoch_is_fenced_once_a_newer_one_was_seen() -> None:
    newer = order(CoreEvents(epoch=3).accepted("o9", "bea", "USDT", "1", seq=20))
    older = order(CoreEvents(epoch=2).accepted("o10", "bea", "USDT", "1", seq=21))
    plan = plan_batch(funded(), [newer, older])
    assert plan.fenced == 1 and [e.ref for e in plan.applied] == ["o9"]
    assert plan.symbols["BTC-USDT"].epoch == 3


def test_a_parked_event_that_cannot_apply_when_woken_stays_parked_as_stuck() -> None:
    view = funded()
    plan = plan_batch(view, [TRADE])
    view.parked = plan.parked_new
    view.balances = {AccountKey("bea", "USDT", "available"): 20_000 * 10**8,
                     AccountKey("sam", "BTC", "available"): 10**8}
    small_sell = order(CoreEvents().accepted("s1", "sam", "BTC", "0.1", seq=2, index=5))
    plan2 = plan_batch(view, [BUY, small_sell])
    assert [e.event_id for e, _ in plan2.stuck] == [TRADE.event_id]
    assert plan2.parked_done == [] and plan2.poison is None


def test_a_refused_movement_leaves_every_balance_of_the_view_as_it_was() -> None:
    view = funded()
    before = dict(view.balances)
    plan = plan_batch(view, [order(M.accepted("b9", "bea", "USDT", "25000", seq=1))])
    assert plan.poison is not None and plan.poison.rejection.code == Refusal.INSUFFICIENT_FUNDS
    assert {k: v for k, v in view.balances.items() if v} == before and plan.deltas == {}


def _entry_event(event_id: str, legs: list[tuple[AccountKey, int]]) -> Inbound:
    postings = tuple(Posting(account, units, None) for account, units in legs)
    return Inbound(Source("t"), event_id, "BTC-USDT", 1, 1, EventKind.NOOP, "", b"h", (),
                   EntryDraft(EntryKind.ADJUSTMENT, event_id, postings), None, b"")


def test_only_the_final_value_of_an_account_posted_twice_must_not_be_negative() -> None:
    bea, sam = AccountKey("bea", "USDT", "available"), AccountKey("sam", "USDT", "available")
    view = LedgerView(balances={sam: 5})
    back_up = _entry_event("e1", [(bea, -5), (bea, 10), (sam, -5)])  # bea dips, ends at 5
    below = _entry_event("e2", [(bea, 1), (bea, -7), (sam, 6)])  # bea ends at -1
    plan = plan_batch(view, [back_up, below])
    assert [e.event_id for e in plan.applied] == ["e1"]
    assert plan.poison is not None and plan.poison.rejection.code == Refusal.INSUFFICIENT_FUNDS
    assert plan.deltas == {bea: 5, sam: -5} and view.balances == {bea: 5, sam: 0}
