"""Prometheus metrics of the ledger, on their own registry (one per service instance)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class LedgerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter("ledger_events_total", "Events seen by outcome",
                              ["outcome"], registry=r)
        self.batches = Counter("ledger_batches_total", "Settlement batches committed", registry=r)
        self.poison = Counter("ledger_poison_events_total",
                              "Poison events (partition paused) and stuck parked events",
                              registry=r)
        self.poisoned_partitions = Gauge("ledger_poisoned_partitions",
                                         "Partitions paused on a poison event (alert if > 0)",
                                         registry=r)
        self.stale_offsets = Counter("ledger_stale_offset_total",
                                     "Batches rolled back: offset moved (zombie)", registry=r)
        self.batch_errors = Counter("ledger_batch_errors_total",
                                    "Batches rolled back on an error, retried", registry=r)
        self.lag = Histogram("ledger_settlement_lag_seconds",
                             "Record timestamp to ledger commit", registry=r,
                             buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.outbox_published = Counter("ledger_outbox_published_total",
                                        "Outbox rows published to Kafka", registry=r)
        self.http = Counter("ledger_http_requests_total", "HTTP requests",
                            ["route", "status"], registry=r)
