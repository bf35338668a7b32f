"""Balance feed: each ledger event becomes one sequenced command, exactly once across
restarts (positions come back from the WAL), and a re-sent adjustment is not applied
twice."""

import time
from typing import Any

import pytest
from confluent_kafka import Producer
from core_harness import fund  # type: ignore[import-not-found]

from exchange.v1 import events_pb2
from exchange_common.kafka import producer_config
from exchange_core.adapters.wal_reader import read_events

pytestmark = pytest.mark.integration


def _wait_seq(core: Any, seq: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while core.metric("core_durable_seq") < seq:
        assert time.monotonic() < deadline, f"durable seq never reached {seq}"
        time.sleep(0.05)


def _deposit(bootstrap: str, topic: str, account: str, adjustment_id: str, *,
             asset: str = "USDT", raw: bytes | None = None) -> None:
    producer = Producer(producer_config(bootstrap))
    event = events_pb2.BalanceEvent(adjusted=events_pb2.BalanceAdjusted(
        adjustment_id=adjustment_id, account_id=account, asset=asset, delta="5"))
    event.envelope.event_id = f"ledger:{adjustment_id}"
    producer.produce(topic, event.SerializeToString() if raw is None else raw,
                     account.encode())
    assert producer.flush(30) == 0


def test_balance_events_are_sequenced_once_across_restarts(
    core_factory: Any, market: Any, kafka_bootstrap: str
) -> None:
    deposits = fund(kafka_bootstrap, market)
    core = core_factory(market, CORE_S3_ARCHIVE_ENABLED="false", CORE_WAL_PRUNE="false")
    core.start()
    core.wait_serving()
    _wait_seq(core, deposits)
    assert core.terminate() == 0
    core.start()  # the feed resumes after the positions the WAL recorded
    core.wait_serving()
    time.sleep(1.5)
    assert core.metric("core_durable_seq") == deposits, "an event was sequenced twice"
    _deposit(kafka_bootstrap, market.balance_topic, market.accounts[0], "late-1")
    _deposit(kafka_bootstrap, market.balance_topic, market.accounts[0], "late-1")  # resent
    _wait_seq(core, deposits + 2)
    # Records the core cannot apply are skipped, logged and counted (never silently).
    topic, account = market.balance_topic, market.accounts[0]
    _deposit(kafka_bootstrap, topic, account, "bad-1", raw=b"\xff\xff\xff")
    _deposit(kafka_bootstrap, topic, account, "bad-2", asset="NOPE")
    _deposit(kafka_bootstrap, topic, account, "late-2")
    _wait_seq(core, deposits + 3)
    skipped = "core_balance_events_skipped_total"
    assert core.metric(f'{skipped}{{reason="undecodable"}}') == 1
    assert core.metric(f'{skipped}{{reason="unmappable"}}') == 1
    assert core.terminate() == 0
    applied = [
        events_pb2.OrderEvent.FromString(ev.payload).balance_applied
        for rec in read_events(core.data_dir / "wal") for ev in rec.events
    ]
    assert len(applied) == deposits + 3
    late = [a for a in applied if a.adjustment_id == "late-1"]
    assert [a.applied for a in late] == [True, False]
    assert len({a.adjustment_id for a in applied if a.applied}) == deposits + 2
