"""Prometheus metrics of the core, served on a side port (``/metrics``)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_FSYNC_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5)
_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)


class CoreMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.commands = Counter("core_commands_total", "Commands made durable", registry=r)
        self.balance_skipped = Counter(
            "core_balance_events_skipped_total",
            "ledger.balance-events.v1 records not turned into a balance command (alert: a "
            "balance change the core did not apply)", ["reason"], registry=r)
        self.fsync_seconds = Histogram(
            "core_wal_fsync_seconds", "WAL write+fdatasync latency", buckets=_FSYNC_BUCKETS,
            registry=r)
        self.batch_commands = Histogram(
            "core_wal_batch_commands", "Commands per group commit", buckets=_BATCH_BUCKETS,
            registry=r)
        self.wal_bytes = Counter("core_wal_bytes_total", "Bytes written to the WAL", registry=r)
        self.durable_seq = Gauge("core_durable_seq", "Last durable command seq", registry=r)
        self.outbox_cursor = Gauge("core_outbox_cursor_seq", "Outbox publish cursor", registry=r)
        self.outbox_lag = Gauge(
            "core_outbox_lag_commands", "Durable commands not yet published", registry=r)
        self.outbox_events = Counter(
            "core_outbox_events_total", "Events acknowledged by Kafka", registry=r)
        self.outbox_failures = Counter(
            "core_outbox_delivery_failures_total", "Kafka delivery failures (rewinds)",
            registry=r)
        self.recovery_seconds = Gauge(
            "core_recovery_seconds", "Duration of the last recovery", registry=r)
        self.recovered_commands = Gauge(
            "core_recovery_replayed_commands", "WAL commands replayed at the last recovery",
            registry=r)
        self.snapshot_seconds = Histogram(
            "core_snapshot_write_seconds", "Snapshot write duration", registry=r)
        self.epoch = Gauge("core_leader_epoch", "Leader epoch (0 = not leader)", registry=r)

    def observe_fsync(self, seconds: float, commands: int, size: int) -> None:
        self.fsync_seconds.observe(seconds)
        self.batch_commands.observe(commands)
        self.commands.inc(commands)
        self.wal_bytes.inc(size)

    def published(self, events: int, cursor: int) -> None:
        self.outbox_events.inc(events)
        self.outbox_cursor.set(cursor)

    def delivery_failed(self, reason: str) -> None:
        self.outbox_failures.inc()

    def lag(self, commands: int) -> None:
        self.outbox_lag.set(commands)

    def balance_event_skipped(self, reason: str) -> None:
        self.balance_skipped.labels(reason=reason).inc()

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        start_http_server(port, addr=host, registry=self.registry)
