"""Wiring: one place where the adapters are built from the settings."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka.admin import AdminClient
from psycopg_pool import ConnectionPool

from exchange_ledger.adapters.adjustment_store import AdjustmentStore
from exchange_ledger.adapters.asset_registry import register_assets
from exchange_ledger.adapters.auth import TokenAuthority
from exchange_ledger.adapters.balance_reader import BalanceReader
from exchange_ledger.adapters.connections import open_pool
from exchange_ledger.adapters.correction_store import CorrectionStore
from exchange_ledger.adapters.invariant_checker import InvariantChecker
from exchange_ledger.adapters.kafka_consumer import SettlementConsumer
from exchange_ledger.adapters.ledger_services import LedgerServices
from exchange_ledger.adapters.metrics import LedgerMetrics
from exchange_ledger.adapters.migrations import migrate
from exchange_ledger.adapters.outbox_relay import OutboxRelay
from exchange_ledger.adapters.reconciliation_store import ReconciliationStore
from exchange_ledger.adapters.settlement_store import PostgresSettlementStore
from exchange_ledger.config import Settings


@dataclass
class Runtime:
    pool: ConnectionPool
    services: LedgerServices
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    consumer: SettlementConsumer | None = None

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        self.pool.close()


def build(settings: Settings, *, run_migrations: bool = True) -> Runtime:
    dsn = settings.database_url.reveal()
    if run_migrations:
        migrate(dsn, settings.schema)
    pool = open_pool(dsn, settings.schema)
    scales = register_assets(pool.connection, settings.assets)
    metrics = LedgerMetrics()
    settlement = PostgresSettlementStore(pool.connection, scales)
    runtime_ready: dict[str, Callable[[], bool]] = {"database": lambda: _db_ok(pool)}
    if settings.kafka_enabled:
        runtime_ready["kafka"] = lambda: _kafka_ok(settings.kafka_bootstrap)

    def ready() -> dict[str, bool]:
        return {name: check() for name, check in runtime_ready.items()}

    services = LedgerServices(
        settlement=settlement,
        adjustments=AdjustmentStore(pool.connection, scales),
        corrections=CorrectionStore(pool.connection),
        invariants=InvariantChecker(pool.connection),
        reconciliation=ReconciliationStore(pool.connection),
        balances=BalanceReader(pool.connection, scales),
        authority=TokenAuthority(settings.api_tokens),
        metrics=metrics, scales=scales, ready=ready)
    runtime = Runtime(pool, services)
    if settings.kafka_enabled:
        consumer = SettlementConsumer(
            bootstrap=settings.kafka_bootstrap, group=settings.consumer_group,
            store=settlement, connect=pool.connection, scales=scales, metrics=metrics,
            batch_max=settings.batch_max, order_topic=settings.order_topic,
            trade_topic=settings.trade_topic, extra_config=_kafka_extra(settings))
        relay = OutboxRelay(pool.connection, settings.kafka_bootstrap, metrics)
        runtime.consumer = consumer
        runtime.threads = [
            threading.Thread(target=consumer.run, args=(runtime.stop,), name="settlement",
                             kwargs={"manual_assignment": settings.manual_assignment}),
            threading.Thread(target=relay.run, args=(runtime.stop,), name="outbox-relay"),
        ]
    return runtime


def _kafka_extra(settings: Settings) -> dict[str, Any]:
    extra: dict[str, Any] = {"session.timeout.ms": settings.session_timeout_ms}
    if settings.group_instance_id != "-":
        extra["group.instance.id"] = settings.group_instance_id
    return extra


def _db_ok(pool: ConnectionPool) -> bool:
    try:
        with pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


def _kafka_ok(bootstrap: str) -> bool:
    try:
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=2)
        return True
    except Exception:
        return False
