"""Build core events (exchange.v1) the way the trading core publishes them."""

from dataclasses import dataclass

from exchange.v1 import common_pb2, events_pb2
from exchange.v1.envelope_pb2 import EventEnvelope
from exchange_common.envelope import make_envelope
from exchange_common.money import format_units
from exchange_common.topics import Topic


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    key: bytes
    value: bytes


class CoreEvents:
    """Events of one market; ``seq`` advances per command, ``index`` within it."""

    def __init__(self, symbol: str = "BTC-USDT", base: str = "BTC", quote: str = "USDT",
                 epoch: int = 1, ts_ns: int = 1_700_000_000_000_000_000) -> None:
        self.symbol, self.base, self.quote = symbol, base, quote
        self.epoch, self.ts_ns = epoch, ts_ns

    def _env(self, seq: int, index: int) -> EventEnvelope:
        return make_envelope(producer=self.symbol, symbol=self.symbol, seq=seq, index=index,
                             occurred_at_ns=self.ts_ns + seq, correlation_id=f"c-{seq}",
                             causation_id=f"cmd-{seq}", epoch=self.epoch)

    def accepted(self, order_id: str, account: str, asset: str, amount: str, *, seq: int,
                 index: int = 0, side: common_pb2.Side.ValueType = common_pb2.SIDE_BUY) -> bytes:
        body = events_pb2.OrderAccepted(
            order_id=order_id, client_order_id=f"cl-{order_id}", account_id=account, side=side,
            order_type=common_pb2.ORDER_TYPE_LIMIT, time_in_force=common_pb2.TIME_IN_FORCE_GTC,
            reserved_asset=asset, reserved_amount=amount)
        return events_pb2.OrderEvent(envelope=self._env(seq, index),
                                     accepted=body).SerializeToString()

    def released(self, kind: str, order_id: str, account: str, asset: str, amount: str, *,
                 seq: int, index: int = 0) -> bytes:
        event = events_pb2.OrderEvent(envelope=self._env(seq, index))
        if kind == "canceled":
            event.canceled.CopyFrom(events_pb2.OrderCanceled(
                order_id=order_id, account_id=account, released_asset=asset,
                released_amount=amount, reason=common_pb2.CANCEL_REASON_USER))
        elif kind == "expired":
            event.expired.CopyFrom(events_pb2.OrderExpired(
                order_id=order_id, account_id=account, released_asset=asset,
                released_amount=amount))
        else:
            event.filled.CopyFrom(events_pb2.OrderFilled(
                order_id=order_id, account_id=account, released_asset=asset,
                released_amount=amount))
        return event.SerializeToString()

    def rejected(self, account: str, *, seq: int, index: int = 0) -> bytes:
        body = events_pb2.OrderRejected(client_order_id="x", account_id=account,
                                        code=common_pb2.REJECT_CODE_INSUFFICIENT_FUNDS)
        return events_pb2.OrderEvent(envelope=self._env(seq, index),
                                     rejected=body).SerializeToString()

    def trade(self, trade_id: str, *, price: str, quantity: str, quote_amount: str, buyer: str,
              seller: str, buyer_order: str, seller_order: str, seq: int, index: int = 1,
              buyer_fee: str = "0", seller_fee: str = "0", buyer_refund: str = "0",
              taker_side: common_pb2.Side.ValueType = common_pb2.SIDE_BUY) -> bytes:
        buy_taker = taker_side == common_pb2.SIDE_BUY
        trade = events_pb2.TradeExecuted(
            trade_id=trade_id, base_asset=self.base, quote_asset=self.quote, price=price,
            quantity=quantity, quote_amount=quote_amount, taker_side=taker_side,
            maker_order_id=seller_order if buy_taker else buyer_order,
            taker_order_id=buyer_order if buy_taker else seller_order,
            maker_account_id=seller if buy_taker else buyer,
            taker_account_id=buyer if buy_taker else seller,
            buyer_fee=buyer_fee, seller_fee=seller_fee, buyer_refund=buyer_refund)
        event = events_pb2.TradeEvent(envelope=self._env(seq, index), trade=trade)
        return event.SerializeToString()


# Market grid of the scripted market: price ticks of 0.01, lots of 0.0001, assets scale 8.
_PRICE_SCALE, _QTY_SCALE, _ASSET_SCALE = 2, 4, 8


def scripted_market(n_trades: int, n_accounts: int = 20, *, market: CoreEvents | None = None,
                    first_seq: int = 1, prefix: str = "") -> tuple[list[Record], list[Record]]:
    """A consistent stream: (order records, trade records) for ``n_trades`` fills.

    Each trade: a maker sells (reserves base), a taker buys at a limit one tick higher
    (reserves limit * qty + 0.2% fee reserve, in quote), they trade at the maker's price,
    the buyer pays a 0.1% fee, the seller 0.1%, the rest of the buyer's hold is refunded
    by the trade, and both orders are then reported filled with nothing left to release.
    Accounts need BTC and USDT on `available` first (deposits).
    """
    m = market or CoreEvents()
    key = m.symbol.encode()
    orders: list[Record] = []
    trades: list[Record] = []
    q_scale = _ASSET_SCALE - _PRICE_SCALE - _QTY_SCALE
    for i in range(n_trades):
        seq = first_seq + 2 * i
        seller, buyer = f"acct-{(2 * i) % n_accounts}", f"acct-{(2 * i + 1) % n_accounts}"
        sell_id, buy_id, trade_id = f"{prefix}s{i}", f"{prefix}b{i}", f"{prefix}t{i}"
        price_ticks, qty_lots = 3_000_000 + (i % 500), 1 + (i % 50)
        quote_units = price_ticks * qty_lots * 10**q_scale
        reserve = (price_ticks + 1) * qty_lots * 10**q_scale
        reserve += reserve // 500
        b_fee, s_fee = quote_units // 1000, quote_units // 1000
        refund = reserve - quote_units - b_fee
        base_units = qty_lots * 10 ** (_ASSET_SCALE - _QTY_SCALE)
        qty = format_units(qty_lots, _QTY_SCALE)
        orders.append(Record(Topic.CORE_ORDER_EVENTS, key, m.accepted(
            sell_id, seller, m.base, format_units(base_units, _ASSET_SCALE), seq=seq,
            side=common_pb2.SIDE_SELL)))
        orders.append(Record(Topic.CORE_ORDER_EVENTS, key, m.accepted(
            buy_id, buyer, m.quote, format_units(reserve, _ASSET_SCALE), seq=seq + 1)))
        trades.append(Record(Topic.CORE_TRADE_EVENTS, key, m.trade(
            trade_id, price=format_units(price_ticks, _PRICE_SCALE), quantity=qty,
            quote_amount=format_units(quote_units, _ASSET_SCALE), buyer=buyer, seller=seller,
            buyer_order=buy_id, seller_order=sell_id, seq=seq + 1, index=1,
            buyer_fee=format_units(b_fee, _ASSET_SCALE),
            seller_fee=format_units(s_fee, _ASSET_SCALE),
            buyer_refund=format_units(refund, _ASSET_SCALE))))
        orders.append(Record(Topic.CORE_ORDER_EVENTS, key, m.released(
            "filled", buy_id, buyer, m.quote, "0", seq=seq + 1, index=2)))
        orders.append(Record(Topic.CORE_ORDER_EVENTS, key, m.released(
            "filled", sell_id, seller, m.base, "0", seq=seq + 1, index=3)))
    return orders, trades
