"""The settlement consumer against the real Kafka broker and PostgreSQL."""

import threading
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Message, Producer

from exchange_common.kafka import producer_config
from exchange_ledger.adapters.invariant_checker import InvariantChecker
from exchange_ledger.adapters.kafka_consumer import SettlementConsumer
from exchange_ledger.adapters.metrics import LedgerMetrics

from .conftest import Ledger
from .kafka_support import (
    drop_topics,
    end_offsets,
    private_topics,
    produce,
    two_markets,
    wait_for,
)

pytestmark = pytest.mark.integration

ORDER, TRADE = "core.order-events.v1", "core.trade-events.v1"


class Running:
    def __init__(self, ledger: Ledger, bootstrap: str, topics: tuple[str, str], *,
                 group: str | None = None, manual: bool = False) -> None:
        self.metrics = LedgerMetrics()
        self.group = group or f"ledger-test-{uuid.uuid4().hex[:8]}"
        self.consumer = SettlementConsumer(
            bootstrap=bootstrap, group=self.group, store=ledger.store,
            connect=ledger.pool.connection, scales=ledger.scales, metrics=self.metrics,
            order_topic=topics[0], trade_topic=topics[1], batch_max=300)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.consumer.run, args=(self.stop,),
                                       kwargs={"manual_assignment": manual})
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


@pytest.fixture
def topics(kafka_bootstrap: str) -> Iterator[tuple[str, str]]:
    made = private_topics(kafka_bootstrap)
    yield made
    drop_topics(kafka_bootstrap, made)


@pytest.fixture
def running(ledger: Ledger, kafka_bootstrap: str,
            topics: tuple[str, str]) -> Iterator[Running]:
    ledger.fund()
    for i in range(20):
        ledger.deposit(f"acct-{i}", "ETH", "1000")
    made = Running(ledger, kafka_bootstrap, topics)
    yield made
    made.close()


def test_every_trade_settles_once_and_offsets_land_in_postgres(
        ledger: Ledger, running: Running, kafka_bootstrap: str,
        topics: tuple[str, str]) -> None:
    names = {ORDER: topics[0], TRADE: topics[1]}
    markets = two_markets(150)
    for _, trades in markets:  # trades first: they park until their orders arrive
        produce(kafka_bootstrap, trades, names)
    for orders, _ in markets:
        produce(kafka_bootstrap, orders, names)
    produce(kafka_bootstrap, markets[0][1][:50], names)  # and some duplicates
    wait_for(lambda: ledger.scalar("SELECT count(*) FROM trades") == 300
             and ledger.scalar("SELECT count(*) FROM parked_events") == 0, 60, "300 trades")
    expected = {(topics[i], p): o for i in (0, 1)
                for p, o in end_offsets(kafka_bootstrap, topics[i]).items() if o > 0}
    wait_for(lambda: _stored_offsets(ledger, running.group) == expected, 30, "offsets")
    assert ledger.scalar("SELECT count(*) FROM journal_entries WHERE kind = 'trade'") == 300
    assert InvariantChecker(ledger.pool.connection).check().ok


def test_a_poison_record_pauses_its_partition_and_raises_the_alert(
        ledger: Ledger, running: Running, kafka_bootstrap: str,
        topics: tuple[str, str]) -> None:
    placed: dict[tuple[str, bytes], tuple[int, int]] = {}  # (topic, key) -> first placement

    def note(err: object, msg: Message) -> None:
        placed.setdefault((msg.topic() or "", msg.key() or b""),
                          (msg.partition() or 0, msg.offset() or 0))

    producer = Producer(producer_config(kafka_bootstrap))
    producer.produce(topics[0], key=b"BTC-USDT", value=b"\xff not protobuf", on_delivery=note)
    orders, trades = two_markets(20)[1]  # ETH-USDT: another key
    for r in [*orders, *trades]:
        producer.produce(topics[0] if r.topic == ORDER else topics[1], key=r.key,
                         value=r.value, on_delivery=note)
    assert producer.flush(10) == 0
    bad_partition, bad_offset = placed[(topics[0], b"BTC-USDT")]
    wait_for(lambda: running.metrics.poisoned_partitions._value.get() == 1, 30, "poison alert")
    assert running.metrics.poison._value.get() == 1
    with ledger.app_conn() as conn:
        assert conn.execute("SELECT source, partition, kafka_offset FROM poison_events"
                            ).fetchall() == [(topics[0], bad_partition, bad_offset)]
    # The ETH trades settle, unless their orders sit behind the poison in its partition.
    blocked = placed[(topics[0], b"ETH-USDT")][0] == bad_partition
    wait_for(lambda: ledger.scalar("SELECT count(*) FROM trades") == (0 if blocked else 20)
             and ledger.scalar("SELECT count(*) FROM parked_events") == (20 if blocked else 0),
             30, "ETH settlement")
    stored = ledger.scalar("SELECT next_offset FROM consumer_offsets WHERE topic = %s AND"
                           " partition = %s AND group_id = %s",
                           (topics[0], bad_partition, running.group))
    assert stored == bad_offset  # the poison is never skipped: the offset stays on it


def _stored_offsets(ledger: Ledger, group: str) -> dict[tuple[str, int], int]:
    with ledger.app_conn() as conn:
        return {(t, p): int(o) for t, p, o in conn.execute(
            "SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = %s"
            " AND next_offset > 0", (group,))}



def test_two_consumers_on_the_same_partitions_settle_each_trade_once(
        ledger: Ledger, kafka_bootstrap: str, topics: tuple[str, str]) -> None:
    """A zombie (here: a second consumer that believes it owns every partition) fails its
    offset compare-and-set and re-reads; nothing is settled twice."""
    ledger.fund()
    for i in range(20):
        ledger.deposit(f"acct-{i}", "ETH", "1000")
    first = Running(ledger, kafka_bootstrap, topics, group="shared-group", manual=True)
    second = Running(ledger, kafka_bootstrap, topics, group="shared-group", manual=True)
    try:
        for each in (first, second):
            assert each.consumer.ready.wait(30)
        names = {ORDER: topics[0], TRADE: topics[1]}
        for orders, trades in two_markets(200):
            produce(kafka_bootstrap, [*orders, *trades], names)
        wait_for(lambda: ledger.scalar("SELECT count(*) FROM trades") == 400
                 and ledger.scalar("SELECT count(*) FROM parked_events") == 0, 60, "400 trades")
    finally:
        first.close()
        second.close()
    stale = first.metrics.stale_offsets._value.get() + second.metrics.stale_offsets._value.get()
    assert stale >= 1  # one of them lost a compare-and-set and rolled back
    assert ledger.scalar("SELECT count(*) FROM journal_entries WHERE kind = 'trade'") == 400
    assert InvariantChecker(ledger.pool.connection).check().ok
