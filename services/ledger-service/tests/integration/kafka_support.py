"""Kafka helpers for the ledger's integration tests: private topics, a producer."""

import time
import uuid
from collections.abc import Callable, Iterable

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from exchange_common.kafka import ensure_topics, producer_config
from exchange_ledger.testing import CoreEvents, Record, scripted_market


def private_topics(bootstrap: str, partitions: int = 3) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:10]
    order_topic, trade_topic = f"test.ledger.orders.{suffix}", f"test.ledger.trades.{suffix}"
    ensure_topics(bootstrap, [order_topic, trade_topic], partitions=partitions,
                  config={"retention.ms": "-1"})
    return order_topic, trade_topic


def drop_topics(bootstrap: str, topics: Iterable[str]) -> None:
    """Delete a test's private topics from the shared broker (best effort)."""
    futures = AdminClient({"bootstrap.servers": bootstrap}).delete_topics(list(topics),
                                                                           operation_timeout=30)
    for future in futures.values():
        try:
            future.result(timeout=30)
        except Exception:  # already gone, or the broker is busy: leave it
            continue


def produce(bootstrap: str, records: Iterable[Record], topics: dict[str, str]) -> None:
    producer = Producer(producer_config(bootstrap))
    for r in records:
        producer.produce(topics[r.topic], key=r.key, value=r.value)
        producer.poll(0)
    if producer.flush(30) != 0:
        raise RuntimeError("records not delivered")


def two_markets(n_trades: int) -> list[tuple[list[Record], list[Record]]]:
    """Two symbols, so the records spread over partitions (keyed by symbol)."""
    btc = scripted_market(n_trades, market=CoreEvents("BTC-USDT", "BTC", "USDT"), prefix="btc")
    eth = scripted_market(n_trades, market=CoreEvents("ETH-USDT", "ETH", "USDT"), prefix="eth")
    return [btc, eth]


def end_offsets(bootstrap: str, topic: str, partitions: int = 3) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4()}"})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in range(partitions)}
    finally:
        consumer.close()


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Wait for a state (not a performance assertion): fail with ``what`` after the limit."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
