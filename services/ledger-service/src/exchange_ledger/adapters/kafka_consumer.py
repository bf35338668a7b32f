"""The settlement consumer: Kafka records to ledger batches, exactly once.

The offsets that count are the ones in PostgreSQL (``consumer_offsets``), written in the
batch's transaction. On assignment the consumer reads them and seeks there; Kafka's own
committed offsets are never used. Each batch advances a stored offset only from the value
this consumer read (compare-and-set), so a zombie left over from a rebalance fails its
commit and re-reads. A poison event pauses its partition (offset left on it), bumps an
alert metric, and is logged; the rest of the batch before it is committed, after it is
re-read later.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import psycopg
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from exchange_common.kafka import consumer_config
from exchange_common.topics import Topic
from exchange_ledger.adapters.connections import ConnectionSource
from exchange_ledger.adapters.decoders import decode_record
from exchange_ledger.adapters.gc_tuning import tune_for_batches
from exchange_ledger.adapters.metrics import LedgerMetrics
from exchange_ledger.app.ports import (
    PartitionKey,
    RecordCursor,
    SettlementStore,
    StaleOffsetError,
)
from exchange_ledger.domain.assets import AssetScales
from exchange_ledger.domain.batch import BatchPlan
from exchange_ledger.domain.inbound import Inbound, Source
from exchange_ledger.domain.rejection import Rejection

log = logging.getLogger("exchange_ledger.consumer")


class Rec(NamedTuple):
    topic: str
    partition: int
    offset: int
    value: bytes
    ts_ms: int  # producer create time, 0 when unknown

    @property
    def key(self) -> PartitionKey:
        return (self.topic, self.partition)


Decoded = list[Inbound | Rejection]


class _Ahead:
    """The next batch: messages fetched from librdkafka now; turned into records and
    decoded when ``decode`` is called (while the database inserts the current batch) or
    else on first use."""

    def __init__(self, messages: list[Message],
                 records: Callable[[list[Message]], list[Rec]],
                 decoder: Callable[[list[Rec]], Decoded]) -> None:
        self._messages = messages
        self._to_records, self._decoder = records, decoder
        self._records: list[Rec] | None = None
        self._events: Decoded | None = None

    @property
    def records(self) -> list[Rec]:
        if self._records is None:
            self._records = self._to_records(self._messages)
            self._messages = []
        return self._records

    def decode(self) -> None:
        if self._events is None:
            self._events = self._decoder(self.records)

    @property
    def events(self) -> Decoded:
        self.decode()
        return self._events or []


BATCH_MAX = 5_000
_BACKOFF_MAX_S = 5.0


class SettlementConsumer:
    def __init__(self, *, bootstrap: str, group: str, store: SettlementStore,
                 connect: ConnectionSource, scales: AssetScales, metrics: LedgerMetrics,
                 order_topic: str = Topic.CORE_ORDER_EVENTS,
                 trade_topic: str = Topic.CORE_TRADE_EVENTS, batch_max: int = BATCH_MAX,
                 extra_config: dict[str, Any] | None = None, tune_gc: bool = True) -> None:
        if not 0 < batch_max <= 50_000:
            raise ValueError("batch_max must be 1..50000")
        self._group, self._store, self._connect = group, store, connect
        self._scales, self._metrics, self._batch_max = scales, metrics, batch_max
        self._topics = (order_topic, trade_topic)
        config = consumer_config(bootstrap, group)
        config.update(extra_config or {})
        self._consumer = Consumer(config)
        self._positions: dict[PartitionKey, int] = {}
        self._paused: set[PartitionKey] = set()
        self._backoff_s = 0.1
        self._tune_gc = tune_gc
        self.ready = threading.Event()

    # -- assignment: positions come from PostgreSQL -------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = [(tp.topic, tp.partition) for tp in partitions]
        stored = self._load_positions(keys)
        for tp in partitions:
            tp.offset = stored[(tp.topic, tp.partition)]
        self._positions.update(stored)
        consumer.assign(partitions)
        self.ready.set()
        log.info("assigned", extra={"partitions": sorted(stored.items())})

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._positions.pop((tp.topic, tp.partition), None)
            self._paused.discard((tp.topic, tp.partition))
        self._metrics.poisoned_partitions.set(len(self._paused))

    def _load_positions(self, keys: Sequence[PartitionKey]) -> dict[PartitionKey, int]:
        with self._connect() as conn, conn.transaction():
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)"
                    " VALUES (%s, %s, %s, 0) ON CONFLICT DO NOTHING",
                    [(self._group, t, p) for t, p in keys])
            rows = conn.execute(
                "SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = %s",
                (self._group,)).fetchall()
        found = {(str(t), int(p)): int(o) for t, p, o in rows}
        return {k: found[k] for k in keys}

    # -- the loop ---------------------------------------------------------------------
    def _assign_all(self) -> None:
        """Manual assignment: every partition of both topics, no group membership. Two
        such consumers may run; the offset compare-and-set lets only one commit a batch."""
        partitions: list[TopicPartition] = []
        for topic in self._topics:
            meta = self._consumer.list_topics(topic, timeout=30).topics[topic]
            if meta.error is not None:
                raise RuntimeError(f"topic {topic}: {meta.error}")
            partitions += [TopicPartition(topic, p) for p in sorted(meta.partitions)]
        self._on_assign(self._consumer, partitions)

    def run(self, stop: threading.Event, *, poll_timeout_s: float = 0.2,
            manual_assignment: bool = False) -> None:
        if self._tune_gc:
            tune_for_batches()
        if manual_assignment:
            self._assign_all()
        else:
            self._consumer.subscribe(list(self._topics), on_assign=self._on_assign,
                                     on_revoke=self._on_revoke)
        # Overlapped, in this one thread: batch N+1 is polled before N is submitted and
        # decoded while PostgreSQL inserts N's postings (the longest statement of a batch);
        # no second Python thread competes for the GIL. N+1 is settled only after N
        # committed (its cursor needs N's offsets), and is dropped and re-read if N failed
        # or hit poison.
        try:
            ahead = self._ahead([])
            while not stop.is_set():
                if not ahead.records:
                    ahead = self._ahead(self._fetch(poll_timeout_s))
                    if not ahead.records:
                        continue
                records, events = ahead.records, ahead.events
                ahead = self._ahead(self._fetch(0.0))
                if not self._settle(records, events, ahead.decode, stop):
                    self._reseek(ahead.records, reload=False)
                    ahead = self._ahead([])
        finally:
            self._consumer.close()

    def _ahead(self, messages: list[Message]) -> _Ahead:
        return _Ahead(messages, self._records, self._decode)

    def _fetch(self, timeout_s: float) -> list[Message]:
        """The next messages (rebalance callbacks run here, outside any transaction)."""
        return list(self._consumer.consume(num_messages=self._batch_max, timeout=timeout_s))

    def _records(self, messages: list[Message]) -> list[Rec]:
        out: list[Rec] = []
        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("kafka error", extra={"error": str(err)})
                continue
            rec = _rec(msg)
            position = self._positions.get(rec.key)
            if position is None or rec.key in self._paused or rec.offset < position:
                continue  # revoked, paused, or already applied (after a re-seek)
            out.append(rec)
        return out

    def _decode(self, records: list[Rec]) -> Decoded:
        order_topic, trade_topic = self._topics
        return [decode_record(r.topic, r.value, Source(r.topic, r.partition, r.offset),
                              self._scales, order_topic=order_topic, trade_topic=trade_topic)
                for r in records]

    def _cursor(self, records: list[Rec]) -> RecordCursor:
        places = [(r.topic, r.partition, r.offset) for r in records]
        return RecordCursor(self._group, {k: self._positions[k] for k in {r.key for r in records}},
                            places)

    def _settle(self, records: list[Rec], events: Decoded, meanwhile: Callable[[], None],
                stop: threading.Event) -> bool:
        """Settle one batch; True when it committed without poison."""
        cursor = self._cursor(records)
        try:
            plan = self._store.settle(events, cursor, meanwhile).plan
        except StaleOffsetError as exc:
            self._metrics.stale_offsets.inc()
            log.warning("stale offset, reloading positions", extra={"error": str(exc)})
            self._reseek(records, reload=True)
            return False
        except (psycopg.OperationalError, psycopg.errors.SerializationFailure,
                psycopg.errors.DeadlockDetected, psycopg.errors.UniqueViolation) as exc:
            self._metrics.batch_errors.inc()
            log.warning("batch rolled back, retrying", extra={"error": str(exc)})
            self._reseek(records, reload=False)
            stop.wait(self._backoff_s)
            self._backoff_s = min(self._backoff_s * 2, _BACKOFF_MAX_S)
            return False
        self._backoff_s = 0.1
        for advance in cursor.advances(plan.consumed):
            self._positions[(advance.topic, advance.partition)] = advance.next
        self._observe(records, plan)
        if plan.poison is None:
            return True
        bad = records[plan.poison.index]
        self._paused.add(bad.key)
        self._consumer.pause([TopicPartition(bad.topic, bad.partition, bad.offset)])
        self._metrics.poison.inc()
        self._metrics.poisoned_partitions.set(len(self._paused))
        log.error("poison event: partition paused", extra={
            "topic": bad.topic, "partition": bad.partition, "offset": bad.offset,
            "code": plan.poison.rejection.code.value, "reason": plan.poison.rejection.message})
        self._reseek(records[plan.poison.index:], reload=False)
        return False

    def _observe(self, records: list[Rec], plan: BatchPlan) -> None:
        m = self._metrics
        m.batches.inc()
        applied = sum(1 for _, o in plan.processed.values() if o == "applied")
        m.events.labels("applied").inc(applied)
        m.events.labels("parked").inc(len(plan.parked_new))
        m.events.labels("duplicate").inc(plan.duplicates)
        m.events.labels("fenced").inc(plan.fenced)
        if plan.stuck:
            m.poison.inc(len(plan.stuck))
            for event, refusal in plan.stuck:
                log.error("parked event cannot apply", extra={
                    "event_id": event.event_id, "reason": refusal.message})
        now_ms = time.time() * 1000
        for rec in records[:plan.consumed]:
            if rec.ts_ms > 0:
                m.lag.observe(max(0.0, (now_ms - rec.ts_ms) / 1000))

    def _reseek(self, records: list[Rec], *, reload: bool) -> None:
        keys = sorted({r.key for r in records})
        if reload:
            self._positions.update(self._load_positions(
                [k for k in keys if k in self._positions]))
        for key in keys:
            if key in self._positions:
                self._consumer.seek(TopicPartition(key[0], key[1], self._positions[key]))



def _rec(msg: Message) -> Rec:
    topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
    if topic is None or partition is None or offset is None:
        raise RuntimeError("Kafka message without topic/partition/offset")
    kind, ts_ms = msg.timestamp()
    return Rec(topic, partition, offset, msg.value() or b"", ts_ms if kind != 0 else 0)

