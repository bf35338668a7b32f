"""HTTP request bodies to the same contract events the consumer reads (one code path)."""

from exchange.v1 import common_pb2, events_pb2
from exchange.v1.envelope_pb2 import EventEnvelope
from exchange_ledger.adapters.http_models import EventHead, ReleaseBody, ReserveBody, TradeBody


def _envelope(head: EventHead, default_id: str) -> EventEnvelope:
    return EventEnvelope(event_id=head.event_id or default_id, event_version=1,
                         symbol=head.symbol, seq=head.seq, epoch=head.epoch)


def trade_event(body: TradeBody) -> bytes:
    trade = events_pb2.TradeExecuted(
        trade_id=body.trade_id, base_asset=body.base_asset, quote_asset=body.quote_asset,
        price=body.price, quantity=body.quantity, quote_amount=body.quote_amount,
        taker_side=common_pb2.SIDE_BUY if body.taker_side == "BUY" else common_pb2.SIDE_SELL,
        maker_order_id=body.maker_order_id, taker_order_id=body.taker_order_id,
        maker_account_id=body.maker_account_id, taker_account_id=body.taker_account_id,
        buyer_fee=body.buyer_fee, seller_fee=body.seller_fee, buyer_refund=body.buyer_refund)
    return events_pb2.TradeEvent(envelope=_envelope(body, f"http:trade:{body.trade_id}"),
                                 trade=trade).SerializeToString()


def reserve_event(body: ReserveBody) -> bytes:
    accepted = events_pb2.OrderAccepted(order_id=body.order_id, account_id=body.account_id,
                                        reserved_asset=body.asset, reserved_amount=body.amount)
    return events_pb2.OrderEvent(envelope=_envelope(body, f"http:accept:{body.order_id}"),
                                 accepted=accepted).SerializeToString()


def release_event(body: ReleaseBody) -> bytes:
    event = events_pb2.OrderEvent(envelope=_envelope(body, f"http:release:{body.order_id}"))
    target: events_pb2.OrderCanceled | events_pb2.OrderExpired | events_pb2.OrderFilled
    if body.reason == "canceled":
        target = event.canceled
    elif body.reason == "expired":
        target = event.expired
    else:
        target = event.filled
    target.order_id, target.account_id = body.order_id, body.account_id
    target.released_asset, target.released_amount = body.asset, body.amount
    return event.SerializeToString()
