"""Which decoder reads which record: core topics and parked payloads."""

from exchange_common.topics import Topic
from exchange_ledger.domain.assets import AssetScales
from exchange_ledger.domain.decoding import decode_order_event, decode_trade_event
from exchange_ledger.domain.inbound import Inbound, Source
from exchange_ledger.domain.rejection import Refusal, Rejection


def decode_record(
    topic: str, payload: bytes, source: Source, scales: AssetScales, *,
    trade_topic: str = Topic.CORE_TRADE_EVENTS, order_topic: str = Topic.CORE_ORDER_EVENTS,
) -> Inbound | Rejection:
    if topic == trade_topic:
        return decode_trade_event(payload, source, scales)
    if topic == order_topic:
        return decode_order_event(payload, source, scales)
    return Rejection(Refusal.INVALID_REQUEST, f"record from unexpected topic {topic!r}")


def decode_parked(decoder: str, payload: bytes, scales: AssetScales) -> Inbound | Rejection:
    source = Source("parked")
    if decoder == "trade":
        return decode_trade_event(payload, source, scales)
    return decode_order_event(payload, source, scales)
