"""Migrations: applied once, concurrent starts are safe, an edited migration is refused."""

import threading

import psycopg
import pytest

from exchange_ledger.adapters.migrations import (
    Migration,
    MigrationError,
    bundled_migrations,
    migrate,
)

pytestmark = pytest.mark.integration


def test_migrate_applies_every_version_once(postgres_dsn: str, schema_name: str) -> None:
    first = migrate(postgres_dsn, schema_name)
    assert first == [m.version for m in bundled_migrations()]
    assert migrate(postgres_dsn, schema_name) == []


def test_concurrent_migrations_apply_each_version_exactly_once(
        postgres_dsn: str, schema_name: str) -> None:
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate(postgres_dsn, schema_name))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 0, len(bundled_migrations())]


def test_a_migration_edited_after_it_was_applied_is_refused(
        postgres_dsn: str, schema_name: str) -> None:
    migrate(postgres_dsn, schema_name)
    edited = [Migration(m.version, m.name, m.text + "\n-- edited") for m in bundled_migrations()]
    with pytest.raises(MigrationError, match="checksum"):
        migrate(postgres_dsn, schema_name, edited)


def test_a_failing_migration_leaves_no_trace(postgres_dsn: str, schema_name: str) -> None:
    migrate(postgres_dsn, schema_name)
    broken = [*bundled_migrations(), Migration(9999, "broken", "CREATE TABLE t9 (a int); SELEC")]
    with pytest.raises(psycopg.errors.SyntaxError):
        migrate(postgres_dsn, schema_name, broken)
    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("SELECT to_regclass(%s)", (f"{schema_name}.t9",)).fetchone() == (None,)
        assert conn.execute(f"SELECT max(version) FROM {schema_name}.schema_migrations".encode()
                            ).fetchone() == (bundled_migrations()[-1].version,)
