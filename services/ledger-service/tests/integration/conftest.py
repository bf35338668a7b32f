"""Each test gets its own freshly migrated schema in the real PostgreSQL (dropped after)."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from exchange_ledger.adapters.adjustment_store import AdjustmentStore
from exchange_ledger.adapters.asset_registry import register_assets
from exchange_ledger.adapters.connections import connect, open_pool
from exchange_ledger.adapters.decoders import decode_record
from exchange_ledger.adapters.migrations import migrate
from exchange_ledger.adapters.settlement_store import PostgresSettlementStore
from exchange_ledger.app.ports import RecordCursor
from exchange_ledger.domain.adjustment import parse_adjustment
from exchange_ledger.domain.batch import BatchPlan
from exchange_ledger.domain.inbound import Inbound, Source
from exchange_ledger.domain.rejection import Rejection
from exchange_ledger.testing import Record

SCALES = {"BTC": 8, "USDT": 8, "ETH": 8}


@dataclass
class Ledger:
    dsn: str
    schema: str
    pool: ConnectionPool
    scales: dict[str, int]
    store: PostgresSettlementStore
    adjustments: AdjustmentStore

    def owner_conn(self) -> psycopg.Connection:
        """A connection as the schema owner (not the app role), for tests that attack."""
        return connect(self.dsn, self.schema, as_app_role=False)

    def app_conn(self) -> psycopg.Connection:
        return connect(self.dsn, self.schema)

    def deposit(self, owner: str, asset: str, amount: str, adjustment_id: str | None = None) -> int:
        adj = parse_adjustment(adjustment_id=adjustment_id or f"dep-{owner}-{asset}-{amount}",
                               owner=owner, asset=asset, delta=amount, kind="deposit",
                               reason="test deposit", scales=self.scales)
        assert not isinstance(adj, Rejection), adj
        result = self.adjustments.apply(adj, "test")
        assert not isinstance(result, Rejection), result
        return result.entry_id

    def balance(self, owner: str, asset: str, kind: str = "available") -> int:
        with self.app_conn() as conn:
            row = conn.execute("SELECT units FROM balances WHERE owner = %s AND asset = %s AND"
                               " kind = %s", (owner, asset, kind)).fetchone()
        return 0 if row is None else int(row[0])

    def fund(self, n_accounts: int = 20) -> None:
        for i in range(n_accounts):
            self.deposit(f"acct-{i}", "BTC", "1000")
            self.deposit(f"acct-{i}", "USDT", "100000000")

    def settle_records(self, records: list[Record], batch: int = 500) -> list[BatchPlan]:
        """Settle like the consumer does: one stream ("replay", partition 0), offsets stored
        with each batch; a poison stops the stream there (the rest is not offered)."""
        with self.app_conn() as conn:
            conn.execute("INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)"
                         " VALUES ('test-group', 'replay', 0, 0) ON CONFLICT DO NOTHING")
            row = conn.execute("SELECT next_offset FROM consumer_offsets WHERE group_id ="
                               " 'test-group' AND topic = 'replay'").fetchone()
        position = int(row[0]) if row else 0
        plans = []
        for start in range(0, len(records), batch):
            chunk = records[start:start + batch]
            events: list[Inbound | Rejection] = [
                decode_record(r.topic, r.value, Source(r.topic, 0, position + i), self.scales)
                for i, r in enumerate(chunk)]
            cursor = RecordCursor("test-group", {("replay", 0): position},
                                  [("replay", 0, position + i) for i in range(len(chunk))])
            plan = self.store.settle(events, cursor).plan
            plans.append(plan)
            position += plan.consumed
            if plan.poison is not None:
                break
        return plans

    def all_balances(self) -> dict[tuple[str, str, str], int]:
        with self.app_conn() as conn:
            return {(o, a, k): int(u) for o, a, k, u in conn.execute(
                "SELECT owner, asset, kind, units FROM balances ORDER BY 1, 2, 3")}

    def scalar(self, query: str, params: tuple[object, ...] = ()) -> object:
        with self.app_conn() as conn:
            row = conn.execute(query.encode(), params).fetchone()
        return None if row is None else row[0]


@pytest.fixture
def schema_name(postgres_dsn: str) -> Iterator[str]:
    name = f"ledger_t_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE".encode())


@contextmanager
def fresh_ledger(dsn: str, schema: str) -> Iterator[Ledger]:
    migrate(dsn, schema)
    pool = open_pool(dsn, schema, max_size=6)
    try:
        scales = register_assets(pool.connection, SCALES)
        yield Ledger(dsn, schema, pool, scales,
                     PostgresSettlementStore(pool.connection, scales),
                     AdjustmentStore(pool.connection, scales))
    finally:
        pool.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())


@pytest.fixture
def ledger(postgres_dsn: str, schema_name: str) -> Iterator[Ledger]:
    with fresh_ledger(postgres_dsn, schema_name) as made:
        yield made


@pytest.fixture
def other_ledger(postgres_dsn: str) -> Iterator[Ledger]:
    with fresh_ledger(postgres_dsn, f"ledger_t_{uuid.uuid4().hex[:12]}") as made:
        yield made
