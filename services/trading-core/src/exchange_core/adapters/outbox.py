"""The outbox: publishes the WAL's durable events to Kafka, off the command path.

It follows the WAL (``EventTailer``) and never reads past the durable seq, so no event
leaves before the fsync that holds its command. The cursor (highest seq whose events
were *all* acknowledged by the broker, contiguously) is persisted after the acks; after
a restart or a delivery error it resumes from the cursor: a duplicate may go out again,
with the same event_id, but no event is ever skipped. A broker outage stalls this
thread only (in-flight is bounded); matching goes on and the lag shows in metrics.
A leader that lost its lease stops publishing.

Acknowledgements are tracked per *round*, not per message: a round is up to
``batch_records`` WAL records produced at once; once the producer's queue is empty
(every message delivered, or failed: failures are reported through one error callback),
the cursor moves to the round's last seq. No Python callback or closure per message
(with ``delivery.report.only.error`` set on the producer, librdkafka reports only
failures, to the producer's default callback), which was the outbox's largest cost.
The WAL is read and turned into messages by compiled code (``event_tailer``).
"""

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from exchange_core.adapters.cursor_file import CursorFile
from exchange_core.adapters.event_frames import produce_all
from exchange_core.adapters.event_tailer import EventTailer

log = logging.getLogger(__name__)


class Producer(Protocol):
    """The slice of confluent_kafka.Producer the outbox uses."""

    def produce(self, topic: str, value: bytes, key: bytes, *, timestamp: int) -> None: ...
    def poll(self, timeout: float) -> int: ...
    def __len__(self) -> int: ...
    def flush(self, timeout: float) -> int: ...
    def purge(self) -> None: ...


class OutboxObserver(Protocol):
    def published(self, events: int, cursor: int) -> None: ...
    def delivery_failed(self, reason: str) -> None: ...
    def lag(self, commands: int) -> None: ...


class Outbox:
    def __init__(
        self,
        wal_dir: Path,
        cursor: CursorFile,
        make_producer: Callable[[Callable[[Any, Any], None]], Any],
        durable_seq: Callable[[], int],
        *,
        is_fence_valid: Callable[[], bool] = lambda: True,
        observer: OutboxObserver | None = None,
        batch_records: int = 2_000,
        persist_every_s: float = 0.05,
        idle_wait_s: float = 0.02,
    ) -> None:
        self._wal_dir = wal_dir
        self._cursor_file = cursor
        # Called with the delivery callback, to be the producer's default (config
        # ``on_delivery``): librdkafka calls it for failures only.
        self._make_producer: Callable[[Callable[[Any, Any], None]], Producer] = make_producer
        self._durable_seq = durable_seq
        self._is_fence_valid = is_fence_valid
        self._observer = observer
        self._batch_records = batch_records
        self._persist_every_s = persist_every_s
        self._idle_wait_s = idle_wait_s
        self._stop = threading.Event()
        self._wakeup = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self.cursor = cursor.load()
        self._persisted = self.cursor
        # The round in flight: (last seq, events), or None; bounded by batch_records.
        self._round: tuple[int, int] | None = None
        self._failed: str | None = None
        self._last_persist = 0.0
        self._drain_timeout_s = 5.0

    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        """New durable records exist (called after each fsync; cheap)."""
        self._wakeup.set()

    def stop(self, drain_timeout_s: float = 5.0) -> None:
        self._drain_timeout_s = drain_timeout_s
        self._stop.set()
        self._wakeup.set()
        self._thread.join(drain_timeout_s + 5)

    def _run(self) -> None:
        producer = self._make_producer(self._on_delivery)
        tailer = EventTailer(self._wal_dir, self.cursor, self._durable_seq)
        while not self._stop.is_set():
            if not self._is_fence_valid():
                log.error("outbox: leader lease lost; publishing stopped at seq %d", self.cursor)
                producer.purge()
                return
            if self._round is None:
                polled = tailer.poll(self._batch_records)
                if polled.records:
                    produce_all(producer, polled.messages)
                    self._round = (polled.last_seq, len(polled.messages))
            producer.poll(0.005 if self._round is not None else 0)
            if self._failed is not None:
                producer, tailer = self._rewind(producer)
                continue
            self._advance(producer)
            if self._round is None:
                self._wakeup.wait(self._idle_wait_s)
                self._wakeup.clear()
        self._drain(producer)

    def _on_delivery(self, err: Any, _msg: Any) -> None:
        if err is not None:
            self._failed = str(err)

    def _advance(self, producer: Producer) -> None:
        """The round is acknowledged once nothing is queued or in flight any more."""
        if self._round is not None and len(producer) == 0 and self._failed is None:
            seq, events = self._round
            self._round = None
            self.cursor = seq
            if self._observer is not None:
                self._observer.published(events, seq)
        if self._observer is not None:
            self._observer.lag(self._durable_seq() - self.cursor)
        now = time.monotonic()
        if self.cursor != self._persisted and now - self._last_persist >= self._persist_every_s:
            self._cursor_file.store(self.cursor)
            self._persisted = self.cursor
            self._last_persist = now

    def _rewind(self, producer: Producer) -> tuple[Producer, EventTailer]:
        """A delivery failed: drop everything in flight and resume from the cursor."""
        reason = self._failed or "unknown"
        log.warning("outbox: delivery failed (%s); resuming from seq %d", reason, self.cursor)
        if self._observer is not None:
            self._observer.delivery_failed(reason)
        producer.purge()
        producer.flush(1.0)
        self._round = None
        self._failed = None
        self._stop.wait(0.5)
        return (self._make_producer(self._on_delivery),
                EventTailer(self._wal_dir, self.cursor, self._durable_seq))

    def _drain(self, producer: Producer) -> None:
        """On shutdown: wait (bounded) for the acks of what is in flight, persist cursor."""
        deadline = time.monotonic() + self._drain_timeout_s
        while self._round is not None and self._failed is None and time.monotonic() < deadline:
            producer.poll(0.05)
            self._advance(producer)
        if self.cursor != self._persisted:
            self._cursor_file.store(self.cursor)
            self._persisted = self.cursor
