"""Core events (contracts exchange.v1) to ``Inbound``: exact amounts, settlement identity.

A malformed event is returned as a ``Rejection`` (the consumer treats it as poison)."""

import hashlib

from exchange.v1 import common_pb2, events_pb2
from exchange.v1.envelope_pb2 import EventEnvelope
from exchange_ledger.domain.accounts import FEES_OWNER, AccountKey, Kind, is_valid_user
from exchange_ledger.domain.assets import AssetScales, to_units
from exchange_ledger.domain.entries import EntryDraft, EntryKind, Posting, make_entry
from exchange_ledger.domain.inbound import EventKind, Inbound, OrderFacts, Source
from exchange_ledger.domain.rejection import Refusal, Rejection

# Plain values, read once: enum attribute access costs a descriptor call per use, and
# these are used six times per trade on the settlement hot path.
_HOLD, _AVAILABLE, _FEE = Kind.HOLD.value, Kind.AVAILABLE.value, Kind.FEE.value
_TRADE = EntryKind.TRADE
_BUY, _SELL = common_pb2.SIDE_BUY, common_pb2.SIDE_SELL

_CLOSURES = {"canceled": "canceled", "expired": "expired", "filled": "filled"}


def body_hash(kind: str, body: bytes) -> bytes:
    return hashlib.sha256(kind.encode() + b"\x00" + body).digest()


def _bad(message: str) -> Rejection:
    return Rejection(Refusal.INVALID_REQUEST, message)


def _envelope_fields(env: EventEnvelope) -> tuple[str, str, int, int] | Rejection:
    event_id = env.event_id
    if not event_id or len(event_id) > 200:
        return _bad("envelope.event_id is missing or too long")
    return event_id, env.symbol, env.seq, env.epoch


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


_CACHE_MAX = 100_000  # bounded caches below: dropped whole when they reach this size
_prices: dict[str, tuple[int, int] | None] = {}  # price text -> (digits as int, decimals)


def _is_price_times_quantity(price: str, qty: int, qty_scale: int, quote: int,
                             quote_scale: int) -> bool:
    """Exact, in integers: price * (qty / 10**qs) == quote / 10**Qs."""
    parsed = _prices.get(price)
    if parsed is None and price not in _prices:
        whole, _, frac = price.partition(".")
        parsed = (int(whole + frac), len(frac)) if (
            whole.isascii() and whole.isdigit()
            and (not frac or (frac.isascii() and frac.isdigit()))) else None
        if len(_prices) >= _CACHE_MAX:
            _prices.clear()
        _prices[price] = parsed
    if parsed is None:
        return False
    price_units, decimals = parsed
    return bool(price_units * qty * 10**quote_scale == quote * 10 ** (decimals + qty_scale))


# One shared pair of immutable keys per account instead of two new ones per posting
# (fewer objects alive per batch); an owner is in the table only once validated.
_user_keys: dict[str, dict[str, tuple[AccountKey, AccountKey]]] = {}
_fee_keys: dict[str, AccountKey] = {}


def _user(owner: str) -> dict[str, tuple[AccountKey, AccountKey]] | None:
    """The key table of a valid user owner (asset -> (available, hold)); None if invalid."""
    by_asset = _user_keys.get(owner)
    if by_asset is None:
        if not is_valid_user(owner):
            return None
        if len(_user_keys) >= _CACHE_MAX:
            _user_keys.clear()
        by_asset = _user_keys[owner] = {}
    return by_asset


def _pair(by_asset: dict[str, tuple[AccountKey, AccountKey]], owner: str, asset: str
          ) -> tuple[AccountKey, AccountKey]:
    pair = by_asset.get(asset)
    if pair is None:
        pair = by_asset[asset] = (AccountKey(owner, asset, _AVAILABLE),
                                  AccountKey(owner, asset, _HOLD))
    return pair


def _fee_key(asset: str) -> AccountKey:
    key = _fee_keys.get(asset)
    if key is None:
        if len(_fee_keys) >= _CACHE_MAX:
            _fee_keys.clear()
        key = _fee_keys[asset] = AccountKey(FEES_OWNER, asset, _FEE)
    return key


def _amounts(trade: events_pb2.TradeExecuted, base: str, quote: str, scales: AssetScales
             ) -> tuple[int, int, int, int, int] | Rejection:
    qty = to_units(scales, base, trade.quantity, what="quantity")
    q_amt = to_units(scales, quote, trade.quote_amount, what="quote_amount")
    b_fee = to_units(scales, quote, trade.buyer_fee or "0", what="buyer_fee")
    s_fee = to_units(scales, quote, trade.seller_fee or "0", what="seller_fee")
    refund = to_units(scales, quote, trade.buyer_refund or "0", what="buyer_refund")
    if (type(qty) is int and type(q_amt) is int and type(b_fee) is int
            and type(s_fee) is int and type(refund) is int):
        return qty, q_amt, b_fee, s_fee, refund
    for value in (qty, q_amt, b_fee, s_fee, refund):
        if isinstance(value, Rejection):
            return Rejection(value.code, f"trade {trade.trade_id}: {value.message}")
    raise TypeError("unreachable: amounts are ints or rejections")


def trade_entry(
    trade: events_pb2.TradeExecuted, scales: AssetScales, event_id: str
) -> tuple[EntryDraft | None, str, str] | Rejection:
    """The settlement identity of ``events.proto`` (TradeExecuted) as postings."""
    tid = trade.trade_id
    if not tid:
        return _bad(f"trade event {event_id} has no trade_id")
    side = trade.taker_side
    if side == _BUY:
        buyer, seller = trade.taker_account_id, trade.maker_account_id
        buyer_order, seller_order = trade.taker_order_id, trade.maker_order_id
    elif side == _SELL:
        buyer, seller = trade.maker_account_id, trade.taker_account_id
        buyer_order, seller_order = trade.maker_order_id, trade.taker_order_id
    else:
        return _bad(f"trade {tid}: taker_side unspecified")
    buyer_keys, seller_keys = _user(buyer), _user(seller)
    if buyer_keys is None or seller_keys is None or not buyer_order or not seller_order:
        return _bad(f"trade {tid}: missing account or order ids")
    base, quote = trade.base_asset, trade.quote_asset
    amounts = _amounts(trade, base, quote, scales)
    if isinstance(amounts, Rejection):
        return amounts
    qty, q_amt, b_fee, s_fee, refund = amounts
    if qty <= 0 or q_amt <= 0:
        return Rejection(Refusal.INVALID_AMOUNT, f"trade {tid}: zero quantity/amount")
    if s_fee > q_amt:
        return Rejection(Refusal.INVALID_AMOUNT, f"trade {tid}: seller_fee > amount")
    if not _is_price_times_quantity(trade.price, qty, scales[base], q_amt, scales[quote]):
        return Rejection(Refusal.INVALID_AMOUNT, f"trade {tid}: quote_amount != price * quantity")
    buyer_quote_avail, buyer_quote_hold = _pair(buyer_keys, buyer, quote)
    legs = [
        Posting(buyer_quote_hold, -(q_amt + b_fee + refund), buyer_order),
        Posting(buyer_quote_avail, refund, None),
        Posting(_pair(buyer_keys, buyer, base)[0], qty, None),
        Posting(_pair(seller_keys, seller, base)[1], -qty, seller_order),
        Posting(_pair(seller_keys, seller, quote)[0], q_amt - s_fee, None),
        Posting(_fee_key(quote), b_fee + s_fee, None),
    ]
    draft = make_entry(_TRADE, tid, legs)
    return draft, buyer_order, seller_order
