"""Kafka of the local stack: an enveloped protobuf event goes in and comes back out."""

import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from exchange.v1 import common_pb2, events_pb2
from exchange_common.envelope import make_envelope
from exchange_common.kafka import consumer_config, producer_config
from exchange_common.topics import ALL_TOPICS, Topic

pytestmark = pytest.mark.integration
TIMEOUT_S = 30.0


def _trade_event(symbol: str, seq: int) -> events_pb2.TradeEvent:
    envelope = make_envelope(
        producer=symbol, symbol=symbol, seq=seq, index=0,
        occurred_at_ns=1_700_000_000_123_456_789, correlation_id=f"corr-{seq}",
        causation_id=f"cmd-{seq}", epoch=1,
    )
    trade = events_pb2.TradeExecuted(
        trade_id=f"{symbol}-t{seq}", base_asset="BTC", quote_asset="USDT",
        price="50000.10", quantity="0.001", quote_amount="50.0001",
        taker_side=common_pb2.SIDE_BUY,
    )
    return events_pb2.TradeEvent(envelope=envelope, trade=trade)


def _produce(bootstrap: str, topic: str, key: str, value: bytes) -> tuple[int, int]:
    """Send one record and wait for the broker's ack; return (partition, offset)."""
    producer = Producer(producer_config(bootstrap))
    acked: list[Message] = []
    producer.produce(topic, key=key, value=value, on_delivery=lambda err, msg: acked.append(msg))
    assert producer.flush(TIMEOUT_S) == 0, "the broker did not ack the record in time"
    (msg,) = acked
    assert msg.error() is None, msg.error()
    partition, offset = msg.partition(), msg.offset()
    assert partition is not None and offset is not None
    return partition, offset


def _consume_one(bootstrap: str, topic: str, partition: int, offset: int) -> Message:
    group = f"stack-probe-{uuid.uuid4().hex}"
    consumer = Consumer(consumer_config(bootstrap, group))
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            error = msg.error()
            if error is not None and error.code() != KafkaError._PARTITION_EOF:
                raise AssertionError(f"consumer error: {error}")
            if error is None:
                return msg
        raise AssertionError(f"no record at {topic}[{partition}]@{offset} within {TIMEOUT_S}s")
    finally:
        consumer.close()


def test_every_platform_topic_exists_with_three_partitions(kafka_bootstrap: str) -> None:
    topics = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=TIMEOUT_S)
    for topic in ALL_TOPICS:
        assert str(topic) in topics.topics, f"missing topic {topic}"
        assert len(topics.topics[str(topic)].partitions) == 3


def test_a_trade_event_produced_is_consumed_with_the_same_event_id(kafka_bootstrap: str) -> None:
    symbol = f"PROBE{uuid.uuid4().hex[:8].upper()}-USDT"
    sent = _trade_event(symbol, seq=42)
    topic = str(Topic.CORE_TRADE_EVENTS)

    partition, offset = _produce(kafka_bootstrap, topic, symbol, sent.SerializeToString())
    msg = _consume_one(kafka_bootstrap, topic, partition, offset)

    assert msg.key() == symbol.encode()
    got = events_pb2.TradeEvent.FromString(msg.value() or b"")
    assert got.envelope.event_id == f"{symbol}:42:0"
    assert got == sent
