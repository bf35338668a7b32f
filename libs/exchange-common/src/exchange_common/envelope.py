"""The event envelope every event carries (contracts: exchange.v1.EventEnvelope)."""

from google.protobuf.timestamp_pb2 import Timestamp

from exchange.v1.envelope_pb2 import EventEnvelope
from exchange_common.ids import EventId

EVENT_VERSION = 1
_NS_PER_S = 1_000_000_000


def make_event_id(producer: str, seq: int, index: int) -> EventId:
    """Deterministic event id: the same (producer, seq, index) always gives the same id.

    ``producer`` is the symbol for core events, or a producer's own key space
    (e.g. ``ledger``) for account-level events. A re-published duplicate therefore
    carries the same id, and consumers dedup on it.
    """
    if seq < 0 or index < 0:
        raise ValueError("seq and index must be >= 0")
    return EventId(f"{producer}:{seq}:{index}")


def timestamp_from_ns(ts_ns: int) -> Timestamp:
    seconds, nanos = divmod(ts_ns, _NS_PER_S)
    return Timestamp(seconds=seconds, nanos=nanos)


def timestamp_to_ns(ts: Timestamp) -> int:
    return ts.seconds * _NS_PER_S + ts.nanos


def make_envelope(
    *,
    producer: str,
    symbol: str,
    seq: int,
    index: int,
    occurred_at_ns: int,
    correlation_id: str,
    causation_id: str,
    epoch: int,
    event_version: int = EVENT_VERSION,
) -> EventEnvelope:
    return EventEnvelope(
        event_id=make_event_id(producer, seq, index),
        event_version=event_version,
        symbol=symbol,
        seq=seq,
        occurred_at=timestamp_from_ns(occurred_at_ns),
        correlation_id=correlation_id,
        causation_id=causation_id,
        epoch=epoch,
    )
