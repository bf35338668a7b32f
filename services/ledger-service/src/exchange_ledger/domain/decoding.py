"""Core events (contracts exchange.v1) to ``Inbound``: exact amounts, settlement identity.

A malformed event is returned as a ``Rejection`` (the consumer treats it as poison)."""

import hashlib

from exchange.v1 import common_pb2, events_pb2
from exchange_ledger.domain.accounts import FEES_OWNER, AccountKey, Kind, is_valid_user
from exchange_ledger.domain.assets import AssetScales, to_units
from exchange_ledger.domain.entries import EntryDraft, EntryKind, Posting, make_entry
from exchange_ledger.domain.inbound import EventKind, Inbound, OrderFacts, Source
from exchange_ledger.domain.rejection import Refusal, Rejection

# Plain values, read once: enum attribute access costs a descriptor call per use, and
# these are used six times per trade on the settlement hot path.
_HOLD, _AVAILABLE, _FEE = Kind.HOLD.value, Kind.AVAILABLE.value, Kind.FEE.value
_TRADE = EntryKind.TRADE

_CLOSURES = {"canceled": "canceled", "expired": "expired", "filled": "filled"}


def body_hash(kind: str, body: bytes) -> bytes:
    return hashlib.sha256(kind.encode() + b"\x00" + body).digest()


def _bad(message: str) -> Rejection:
    return Rejection(Refusal.INVALID_REQUEST, message)


def _envelope_fields(env: object) -> tuple[str, str, int, int] | Rejection:
    event_id = getattr(env, "event_id", "")
    if not event_id or len(event_id) > 200:
        return _bad("envelope.event_id is missing or too long")
    return event_id, getattr(env, "symbol", ""), int(getattr(env, "seq", 0)), int(
        getattr(env, "epoch", 0)
    )


def decode_order_event(
    payload: bytes, source: Source, scales: AssetScales
) -> Inbound | Rejection:
    event = events_pb2.OrderEvent()
    try:
        event.ParseFromString(payload)
    except Exception as exc:  # protobuf raises DecodeError; any failure is poison
        return _bad(f"undecodable OrderEvent: {exc}")
    if not event.HasField("envelope"):
        return _bad("OrderEvent without envelope")
    head = _envelope_fields(event.envelope)
    if isinstance(head, Rejection):
        return head
    event_id, symbol, seq, epoch = head
    which = event.WhichOneof("body")
    if which is None:
        return _bad(f"OrderEvent {event_id} has no body")
    body = getattr(event, which)
    digest = body_hash(which, body.SerializeToString(deterministic=True))

    def noop() -> Inbound:
        return Inbound(source, event_id, symbol, seq, epoch, EventKind.NOOP, "", digest, (),
                       None, None, payload)

    if which in ("rejected", "balance_applied"):
        return noop()
    order_id, owner = body.order_id, body.account_id
    if not order_id or not is_valid_user(owner):
        return _bad(f"{which} event {event_id}: missing order_id or invalid account_id")
    if which == "accepted":
        asset, amount = body.reserved_asset, body.reserved_amount
    else:
        asset, amount = body.released_asset, body.released_amount
    if not asset and amount in ("", "0"):
        if which == "accepted":  # nothing reserved, but the order exists for what follows
            return Inbound(source, event_id, symbol, seq, epoch, EventKind.ACCEPT, order_id,
                           digest, (), None, OrderFacts(owner, "", 0), payload)
        return _release(head, source, digest, payload, (order_id, owner, "", 0, which))
    units = to_units(scales, asset, amount, what=f"{which}.amount of {event_id}")
    if isinstance(units, Rejection):
        return units
    if which == "accepted":
        entry = make_entry(EntryKind.RESERVE, order_id, (
            Posting(AccountKey(owner, asset, Kind.AVAILABLE), -units, None),
            Posting(AccountKey(owner, asset, Kind.HOLD), units, order_id),
        ))
        return Inbound(source, event_id, symbol, seq, epoch, EventKind.ACCEPT, order_id, digest,
                       (), entry, OrderFacts(owner, asset, units), payload)
    return _release(head, source, digest, payload, (order_id, owner, asset, units, which))


def _release(head: tuple[str, str, int, int], source: Source, digest: bytes, payload: bytes,
             what: tuple[str, str, str, int, str]) -> Inbound:
    event_id, symbol, seq, epoch = head
    order_id, owner, asset, units, which = what
    entry = make_entry(EntryKind.RELEASE, order_id, (
        Posting(AccountKey(owner, asset, Kind.HOLD), -units, order_id),
        Posting(AccountKey(owner, asset, Kind.AVAILABLE), units, None),
    )) if units else None
    return Inbound(source, event_id, symbol, seq, epoch, EventKind.RELEASE, order_id, digest,
                   (order_id,), entry, OrderFacts(owner, asset, units, _CLOSURES[which]), payload)


def decode_trade_event(
    payload: bytes, source: Source, scales: AssetScales
) -> Inbound | Rejection:
    event = events_pb2.TradeEvent()
    try:
        event.ParseFromString(payload)
    except Exception as exc:
        return _bad(f"undecodable TradeEvent: {exc}")
    if not event.HasField("envelope") or not event.HasField("trade"):
        return _bad("TradeEvent without envelope or trade")
    head = _envelope_fields(event.envelope)
    if isinstance(head, Rejection):
        return head
    event_id, symbol, seq, epoch = head
    trade = event.trade
    digest = body_hash("trade", trade.SerializeToString(deterministic=True))
    entry = trade_entry(trade, scales, event_id)
    if isinstance(entry, Rejection):
        return entry
    draft, buyer_order, seller_order = entry
    return Inbound(source, event_id, symbol, seq, epoch, EventKind.TRADE, trade.trade_id, digest,
                   (buyer_order, seller_order), draft, None, payload)


def _is_price_times_quantity(price: str, qty: int, qty_scale: int, quote: int,
                             quote_scale: int) -> bool:
    """Exact, in integers: price * (qty / 10**qs) == quote / 10**Qs."""
    whole, _, frac = price.partition(".")
    if not (whole.isascii() and whole.isdigit() and (not frac or (frac.isascii()
                                                                   and frac.isdigit()))):
        return False
    price_units = int(whole + frac)
    return bool(price_units * qty * 10**quote_scale == quote * 10 ** (len(frac) + qty_scale))


def trade_entry(
    trade: events_pb2.TradeExecuted, scales: AssetScales, event_id: str
) -> tuple[EntryDraft | None, str, str] | Rejection:
    """The settlement identity of ``events.proto`` (TradeExecuted) as postings."""
    if not trade.trade_id:
        return _bad(f"trade event {event_id} has no trade_id")
    if trade.taker_side == common_pb2.SIDE_BUY:
        buyer, seller = trade.taker_account_id, trade.maker_account_id
        buyer_order, seller_order = trade.taker_order_id, trade.maker_order_id
    elif trade.taker_side == common_pb2.SIDE_SELL:
        buyer, seller = trade.maker_account_id, trade.taker_account_id
        buyer_order, seller_order = trade.maker_order_id, trade.taker_order_id
    else:
        return _bad(f"trade {trade.trade_id}: taker_side unspecified")
    if not (is_valid_user(buyer) and is_valid_user(seller) and buyer_order and seller_order):
        return _bad(f"trade {trade.trade_id}: missing account or order ids")
    base, quote, tid = trade.base_asset, trade.quote_asset, trade.trade_id
    qty = to_units(scales, base, trade.quantity, what="quantity")
    q_amt = to_units(scales, quote, trade.quote_amount, what="quote_amount")
    b_fee = to_units(scales, quote, trade.buyer_fee or "0", what="buyer_fee")
    s_fee = to_units(scales, quote, trade.seller_fee or "0", what="seller_fee")
    refund = to_units(scales, quote, trade.buyer_refund or "0", what="buyer_refund")
    for value in (qty, q_amt, b_fee, s_fee, refund):
        if isinstance(value, Rejection):
            return Rejection(value.code, f"trade {tid}: {value.message}")
    if not (isinstance(qty, int) and isinstance(q_amt, int) and isinstance(b_fee, int)
            and isinstance(s_fee, int) and isinstance(refund, int)):
        raise TypeError("unreachable: amounts are ints here")
    if qty <= 0 or q_amt <= 0:
        return Rejection(Refusal.INVALID_AMOUNT, f"trade {tid}: zero quantity/amount")
    if s_fee > q_amt:
        return Rejection(Refusal.INVALID_AMOUNT, f"trade {tid}: seller_fee > amount")
    if not _is_price_times_quantity(trade.price, qty, scales[base], q_amt, scales[quote]):
        return Rejection(Refusal.INVALID_AMOUNT, f"trade {tid}: quote_amount != price * quantity")
    legs = [
        Posting(AccountKey(buyer, quote, _HOLD), -(q_amt + b_fee + refund), buyer_order),
        Posting(AccountKey(buyer, quote, _AVAILABLE), refund, None),
        Posting(AccountKey(buyer, base, _AVAILABLE), qty, None),
        Posting(AccountKey(seller, base, _HOLD), -qty, seller_order),
        Posting(AccountKey(seller, quote, _AVAILABLE), q_amt - s_fee, None),
        Posting(AccountKey(FEES_OWNER, quote, _FEE), b_fee + s_fee, None),
    ]
    draft = make_entry(_TRADE, tid, legs)
    return draft, buyer_order, seller_order
