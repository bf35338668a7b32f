"""PostgreSQL of the local stack: reachable with the exchange role, durable, writable."""

import uuid

import psycopg
import pytest

pytestmark = pytest.mark.integration


def test_a_row_written_in_a_transaction_reads_back_the_same(postgres_dsn: str) -> None:
    table = f"stack_probe_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, connect_timeout=5) as conn:
        conn.execute(f"CREATE TEMPORARY TABLE {table} (id bigint PRIMARY KEY, amount numeric)")
        conn.execute(f"INSERT INTO {table} VALUES (%s, %s)", (7, "12.345678901234567890"))
        row = conn.execute(f"SELECT id, amount::text FROM {table}").fetchone()
    assert row == (7, "12.345678901234567890")


def test_the_exchange_role_may_create_databases_and_roles(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row == (True, True)


def test_fsync_stays_on(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, connect_timeout=5) as conn:
        row = conn.execute("SHOW fsync").fetchone()
    assert row == ("on",)
