"""Balance feed: ledger.balance-events.v1 -> sequenced balance commands, exactly once.

The consumer is assigned every partition at the positions recovered from the WAL (and
the snapshot), not from consumer-group offsets: a balance command and the Kafka position
it came from become durable in the same WAL record, so after a crash the feed resumes
right after the last durable one. A re-delivered event is still harmless: the engine
applies each adjustment_id at most once (DUPLICATE_EVENT). A record that cannot be
decoded or mapped (unknown asset, bad amount) is not applied: logged with its partition
and offset and counted in ``core_balance_events_skipped_total{reason}`` (an alert: the
ledger moved a balance the core did not).
"""

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from google.protobuf.message import DecodeError

from exchange.core.v1 import wal_pb2
from exchange.v1 import events_pb2
from exchange_common.kafka import consumer_config
from exchange_core.adapters import command_mapping
from exchange_core.app.core_node import CoreNode, NotServing

log = logging.getLogger(__name__)


class BalanceFeed:
    def __init__(
        self,
        *,
        bootstrap: str,
        topic: str,
        shard_id: str,
        node: CoreNode,
        loop: asyncio.AbstractEventLoop,
        positions: dict[int, int],
        batch_max: int = 500,
        on_error: Callable[[str], None] = lambda reason: None,
        on_skipped: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._group = f"trading-core-{shard_id}"
        self._node = node
        self._loop = loop
        self._positions = dict(positions)
        self._batch_max = batch_max
        self._on_error = on_error
        self._on_skipped = on_skipped  # a record not applied: "undecodable" / "unmappable"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="balance-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        consumer = Consumer(consumer_config(self._bootstrap, self._group))
        try:
            partitions = self._partitions(consumer)
            consumer.assign([
                TopicPartition(self._topic, p, self._positions.get(p, OFFSET_BEGINNING))
                for p in partitions
            ])
            while not self._stop.is_set():
                messages = consumer.consume(self._batch_max, timeout=0.2)
                batch = [m for m in messages if self._usable(m)]
                if batch:
                    self._submit(batch)
        except NotServing as exc:
            log.warning("balance feed stopped: %s", exc)
        except Exception as exc:
            log.exception("balance feed stopped")
            self._on_error(f"balance feed stopped: {exc}")
        finally:
            consumer.close()

    def _partitions(self, consumer: Any) -> list[int]:
        """The topic's partitions; waits (bounded steps, until stopped) out a broker outage:
        an unreachable broker delays balance updates, it never stops matching."""
        while not self._stop.is_set():
            try:
                metadata = consumer.list_topics(self._topic, timeout=5)
                found = metadata.topics[self._topic]
                if found.error is None and found.partitions:
                    return sorted(found.partitions)
                log.warning("balance feed: topic %s not ready: %s", self._topic, found.error)
            except KafkaException as exc:
                log.warning("balance feed: broker unavailable, retrying: %s", exc)
            self._stop.wait(1.0)
        return []

    def _usable(self, message: Any) -> bool:
        error = message.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("balance feed: %s", error)
            return False
        return True

    def _submit(self, messages: list[Any]) -> None:
        """Hand a batch to the sequencer (on the loop) and wait until it is durable."""
        future: Future[None] = asyncio.run_coroutine_threadsafe(self._apply(messages), self._loop)
        future.result()

    async def _apply(self, messages: list[Any]) -> None:
        pending = []
        for message in messages:
            try:
                event = events_pb2.BalanceEvent.FromString(message.value())
            except DecodeError:
                log.error("balance feed: undecodable record at %s/%d, skipped",
                          message.partition(), message.offset())
                self._on_skipped("undecodable")
                continue
            source = wal_pb2.SequencedCommand(balance=wal_pb2.BalanceCommand(
                adjusted=event.adjusted, source_event_id=event.envelope.event_id,
                source_partition=message.partition(), source_offset=message.offset()))
            mapped = command_mapping.balance_adjust(
                self._node.engine, event.adjusted, event.envelope.event_id)
            if isinstance(mapped, command_mapping.Unsequenced):
                log.error("balance feed: %s at %s/%d skipped: %s", event.envelope.event_id,
                          message.partition(), message.offset(), mapped.reason)
                self._on_skipped("unmappable")
                continue
            _, durable = self._node.submit_balance(
                source, mapped, message.partition(), message.offset())
            pending.append(durable)
        if pending:
            await asyncio.gather(*pending)
