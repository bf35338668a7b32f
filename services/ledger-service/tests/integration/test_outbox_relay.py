"""Adjustments reach ledger.balance-events through the transactional outbox."""

import uuid

import pytest
from confluent_kafka import Consumer

from exchange.v1 import events_pb2
from exchange_common.kafka import consumer_config, ensure_topics
from exchange_ledger.adapters.adjustment_store import AdjustmentStore
from exchange_ledger.adapters.metrics import LedgerMetrics
from exchange_ledger.adapters.outbox_relay import OutboxRelay
from exchange_ledger.domain.adjustment import parse_adjustment
from exchange_ledger.domain.rejection import Rejection

from .conftest import Ledger
from .kafka_support import drop_topics

pytestmark = pytest.mark.integration


def test_each_adjustment_is_published_once_keyed_by_account(ledger: Ledger,
                                                            kafka_bootstrap: str) -> None:
    topic = f"test.ledger.balance.{uuid.uuid4().hex[:10]}"
    ensure_topics(kafka_bootstrap, [topic], partitions=3)
    store = AdjustmentStore(ledger.pool.connection, ledger.scales, topic=topic)
    for i, (owner, delta, kind) in enumerate([("bea", "5", "deposit"), ("sam", "2", "credit"),
                                              ("bea", "-1.25", "withdrawal")]):
        adj = parse_adjustment(adjustment_id=f"adj-{i}", owner=owner, asset="USDT",
                               delta=delta, kind=kind, reason="r", scales=ledger.scales)
        assert not isinstance(adj, Rejection)
        assert not isinstance(store.apply(adj, "ops"), Rejection)
    relay = OutboxRelay(ledger.pool.connection, kafka_bootstrap, LedgerMetrics())
    assert relay.publish_pending() == 3
    assert relay.publish_pending() == 0  # published rows are not sent again
    consumer = Consumer(consumer_config(kafka_bootstrap, f"probe-{uuid.uuid4()}"))
    consumer.subscribe([topic])
    seen: list[tuple[bytes, str, str]] = []
    try:
        for _ in range(100):
            for msg in consumer.consume(num_messages=10, timeout=0.5):
                if msg.error() is None:
                    event = events_pb2.BalanceEvent()
                    event.ParseFromString(msg.value() or b"")
                    seen.append((msg.key() or b"", event.adjusted.adjustment_id,
                                 event.adjusted.delta))
            if len(seen) >= 3:
                break
    finally:
        consumer.close()
        drop_topics(kafka_bootstrap, [topic])
    assert sorted(seen) == [(b"bea", "adj-0", "5"), (b"bea", "adj-2", "-1.25"),
                            (b"sam", "adj-1", "2")]
    bea = [s[1] for s in seen if s[0] == b"bea"]
    assert bea == ["adj-0", "adj-2"]  # per-account order kept
