"""Decoding core events: the settlement identity, exact amounts, refusals as values."""

from exchange.v1 import common_pb2
from exchange_ledger.domain.accounts import FEES_OWNER, AccountKey
from exchange_ledger.domain.decoding import decode_order_event, decode_trade_event
from exchange_ledger.domain.entries import balance_deltas
from exchange_ledger.domain.inbound import EventKind, Inbound, Source
from exchange_ledger.domain.rejection import Refusal, Rejection
from exchange_ledger.testing import CoreEvents

SCALES = {"BTC": 8, "USDT": 8}
SRC = Source("test")


def _trade(**overrides: object) -> bytes:
    fields: dict[str, object] = dict(
        price="30000", quantity="0.5", quote_amount="15000", buyer="bea", seller="sam",
        buyer_order="b1", seller_order="s1", seq=3, buyer_fee="15", seller_fee="15",
        buyer_refund="5")
    fields.update(overrides)
    return CoreEvents().trade("t1", **fields)  # type: ignore[arg-type]


def test_a_trade_settles_exactly_as_the_contract_identity_says() -> None:
    event = decode_trade_event(_trade(), SRC, SCALES)
    assert isinstance(event, Inbound) and event.entry is not None
    deltas = balance_deltas(event.entry.postings)
    assert deltas == {
        AccountKey("bea", "USDT", "hold"): -(15000 + 15 + 5) * 10**8,
        AccountKey("bea", "USDT", "available"): 5 * 10**8,
        AccountKey("bea", "BTC", "available"): 50_000_000,
        AccountKey("sam", "BTC", "hold"): -50_000_000,
        AccountKey("sam", "USDT", "available"): (15000 - 15) * 10**8,
        AccountKey(FEES_OWNER, "USDT", "fee"): 30 * 10**8,
    }
    assert event.requires == ("b1", "s1")
    assert event.kind == EventKind.TRADE and event.ref == "t1"


def test_a_sell_taker_is_the_seller() -> None:
    payload = _trade(taker_side=common_pb2.SIDE_SELL)
    event = decode_trade_event(payload, SRC, SCALES)
    assert isinstance(event, Inbound) and event.entry is not None
    holds = {p.account.owner: p.order_ref for p in event.entry.postings
             if p.account.kind == "hold"}
    assert holds == {"bea": "b1", "sam": "s1"}


def test_an_amount_finer_than_the_asset_scale_is_refused_not_rounded() -> None:
    refusal = decode_trade_event(_trade(quantity="0.000000001", quote_amount="0.00003"),
                                 SRC, SCALES)
    assert isinstance(refusal, Rejection) and refusal.code == Refusal.INVALID_AMOUNT


def test_a_quote_amount_that_is_not_price_times_quantity_is_refused() -> None:
    refusal = decode_trade_event(_trade(quote_amount="15000.01"), SRC, SCALES)
    assert isinstance(refusal, Rejection) and "price * quantity" in refusal.message


def test_an_unknown_asset_is_refused() -> None:
    payload = CoreEvents(base="DOGE").trade(
        "t1", price="1", quantity="1", quote_amount="1", buyer="b", seller="s",
        buyer_order="b1", seller_order="s1", seq=1)
    refusal = decode_trade_event(payload, SRC, SCALES)
    assert isinstance(refusal, Rejection) and refusal.code == Refusal.UNKNOWN_ASSET


def test_garbage_bytes_are_refused_with_a_reason() -> None:
    refusal = decode_order_event(b"\xff\x00garbage", SRC, SCALES)
    assert isinstance(refusal, Rejection) and refusal.code == Refusal.INVALID_REQUEST


def test_non_ascii_digits_are_refused() -> None:
    payload = CoreEvents().accepted("o1", "bea", "BTC", "\u0661", seq=1)
    refusal = decode_order_event(payload, SRC, SCALES)
    assert isinstance(refusal, Rejection) and refusal.code == Refusal.INVALID_AMOUNT


def test_accept_moves_available_to_hold_and_release_moves_it_back() -> None:
    m = CoreEvents()
    accept = decode_order_event(m.accepted("o1", "bea", "BTC", "0.25", seq=1), SRC, SCALES)
    release = decode_order_event(m.released("expired", "o1", "bea", "BTC", "0.25", seq=2),
                                 SRC, SCALES)
    assert isinstance(accept, Inbound) and isinstance(release, Inbound)
    assert accept.entry is not None and release.entry is not None
    assert balance_deltas(accept.entry.postings) == {
        AccountKey("bea", "BTC", "available"): -25_000_000,
        AccountKey("bea", "BTC", "hold"): 25_000_000}
    assert balance_deltas(release.entry.postings) == {
        AccountKey("bea", "BTC", "available"): 25_000_000,
        AccountKey("bea", "BTC", "hold"): -25_000_000}
    assert release.requires == ("o1",) and release.order is not None
    assert release.order.closure == "expired"


def test_a_rejected_order_moves_nothing() -> None:
    event = decode_order_event(CoreEvents().rejected("bea", seq=1), SRC, SCALES)
    assert isinstance(event, Inbound) and event.kind == EventKind.NOOP and event.entry is None
