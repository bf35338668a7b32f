"""A broker outage stalls publishing, not matching; after the broker (and the core) come
back, the outbox resumes from its cursor: every durable event reaches Kafka, none twice
with different content, none that is not in the WAL."""

from pathlib import Path
from typing import Any

import grpc
import pytest
from core_harness import CORE_TOPICS, consume_range, envelope_of, fund  # type: ignore[import-not-found]

from exchange.v1 import common_pb2
from exchange.v1 import trading_core_pb2 as pb
from exchange.v1 import trading_core_pb2_grpc as pb_grpc
from exchange_common.kafka import ensure_topics
from exchange_core.adapters.wal_reader import read_events
from exchange_testkit.private_kafka import PrivateKafka
from exchange_testkit.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _orders(core: Any, market: Any, prefix: str, count: int) -> int:
    accepted = 0
    with grpc.insecure_channel(f"127.0.0.1:{core.grpc_port}") as channel:
        stub = pb_grpc.TradingCoreStub(channel)
        for i in range(count):
            reply = stub.PlaceOrder(pb.PlaceOrderRequest(
                symbol=market.symbol, account_id=market.accounts[i % 4],
                client_order_id=f"{prefix}-{i}",
                side=common_pb2.SIDE_BUY if i % 2 else common_pb2.SIDE_SELL,
                order_type=common_pb2.ORDER_TYPE_LIMIT,
                price=f"{100 + (i % 5) / 100:.2f}", quantity="0.01"), timeout=10)
            accepted += reply.accepted
    return accepted



def test_outbox_resumes_after_a_broker_restart_with_no_gap(
    core_factory: Any, market: Any, tmp_path: Path
) -> None:
    broker = PrivateKafka(tmp_path / "kafka")
    broker.start()
    try:
        topics = [str(t) for t in CORE_TOPICS]
        ensure_topics(broker.bootstrap, topics, partitions=3)
        start = {(t, p): 0 for t in topics for p in range(3)}
        deposits = fund(broker.bootstrap, market)
        core = core_factory(market, KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap,
                            CORE_S3_ARCHIVE_ENABLED="false", CORE_WAL_PRUNE="false")
        core.start()
        core.wait_serving()
        wait_until(lambda: core.metric("core_durable_seq") >= deposits, 30)
        assert _orders(core, market, "before", 40) == 40
        wait_until(lambda: core.metric("core_outbox_lag_commands") == 0, 30)

        broker.stop()  # outage: matching must go on, publishing stalls
        assert _orders(core, market, "during", 40) == 40
        wait_until(lambda: core.metric("core_outbox_lag_commands") >= 40, 10)
        assert core.terminate() == 0  # a restart during the outage: cursor on disk
        core.start()
        core.wait_serving()
        assert _orders(core, market, "restarted", 20) == 20
        # the gauge is set by the outbox thread: wait for it to count the new commands
        wait_until(lambda: core.metric("core_outbox_lag_commands") >= 60, 10)

        broker.start()
        wait_until(lambda: core.metric("core_outbox_lag_commands") == 0, 90)
        assert core.terminate() == 0
        records = consume_range(broker.bootstrap, start)
    finally:
        broker.stop()
    wal_events = {ev.event_id: (ev.topic, ev.payload)
                  for rec in read_events(core.data_dir / "wal") for ev in rec.events}
    seen: dict[str, bytes] = {}
    for topic, payload in records:
        event_id = envelope_of(topic, payload).event_id
        assert wal_events[event_id] == (topic, payload), "on Kafka but not in the WAL"
        seen[event_id] = payload
    assert set(seen) == set(wal_events), f"gap: {len(set(wal_events) - set(seen))} missing"
    assert len(wal_events) >= 100 * 2
