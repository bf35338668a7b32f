"""Publishes the transactional outbox to Kafka with an idempotent producer.

Rows are picked in id order with ``FOR UPDATE SKIP LOCKED`` (two relays never publish the
same row at once), produced, flushed, and only then marked published. A crash between the
flush and the mark re-publishes the same bytes: the envelope's event id is deterministic
(``ledger:<outbox id>:0``) so consumers drop the duplicate. Reading by "not yet published"
rather than by an id cursor means a row whose id was allocated before, but committed
after, a newer row is never skipped (the hazard of an outbox read by id). Per-account
order holds because adjustments of one account serialize on its balance row lock, and
the outbox id is drawn after that lock is taken.
"""

import logging
import threading

from confluent_kafka import Producer

from exchange_common.kafka import producer_config
from exchange_ledger.adapters.connections import ConnectionSource
from exchange_ledger.adapters.metrics import LedgerMetrics

log = logging.getLogger("exchange_ledger.outbox")

RELAY_BATCH = 500


class OutboxRelay:
    def __init__(self, connect: ConnectionSource, bootstrap: str, metrics: LedgerMetrics,
                 batch: int = RELAY_BATCH) -> None:
        self._connect, self._metrics, self._batch = connect, metrics, batch
        self._producer = Producer(producer_config(bootstrap))

    def publish_pending(self, flush_timeout_s: float = 30.0) -> int:
        """Publish one batch of pending rows; return how many were published."""
        errors: list[str] = []

        def delivered(err: object, _msg: object) -> None:
            if err is not None:
                errors.append(str(err))

        with self._connect() as conn, conn.transaction():
            rows = conn.execute(
                "SELECT id, topic, record_key, payload FROM outbox WHERE published_at IS NULL"
                " ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED", (self._batch,)).fetchall()
            if not rows:
                return 0
            for _id, topic, key, payload in rows:
                self._producer.produce(topic, key=bytes(key), value=bytes(payload),
                                       on_delivery=delivered)
            remaining = self._producer.flush(flush_timeout_s)
            if remaining or errors:
                raise RuntimeError(f"outbox publish failed: {remaining} undelivered, {errors[:3]}")
            conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY(%s)",
                         ([r[0] for r in rows],))
        self._metrics.outbox_published.inc(len(rows))
        return len(rows)

    def run(self, stop: threading.Event, idle_s: float = 0.5) -> None:
        while not stop.is_set():
            try:
                if self.publish_pending() == 0:
                    stop.wait(idle_s)
            except Exception as exc:  # broker or DB down: log, back off, retry
                log.warning("outbox relay error", extra={"error": str(exc)})
                stop.wait(2.0)
