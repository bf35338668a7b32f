"""Versioned SQL migrations with a small runner.

Files ``NNNN_name.sql`` in ``exchange_ledger/migrations`` are applied in version order,
each in its own transaction together with its row in ``schema_migrations`` (version,
name, sha256 checksum). A file whose checksum differs from the applied one stops the
runner: applied migrations are never edited, a change is a new file. A session-level
advisory lock serializes concurrent starts (two replicas, or tests) cluster-wide.
"""

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg
from psycopg import sql

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x1ED6E5  # advisory lock id of the ledger's migration runner
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class MigrationError(RuntimeError):
    """A migration file changed after it was applied, or the files are malformed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def bundled_migrations() -> list[Migration]:
    found: list[Migration] = []
    for item in resources.files("exchange_ledger.migrations").iterdir():
        match = _FILE.match(item.name)
        if match is None:
            continue
        found.append(Migration(int(match.group(1)), match.group(2), item.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions: {versions}")
    return found


def check_schema_name(schema: str) -> str:
    if not _SCHEMA.match(schema):
        raise MigrationError(f"invalid schema name {schema!r}")
    return schema


def migrate(dsn: str, schema: str, migrations: list[Migration] | None = None) -> list[int]:
    """Apply the pending migrations to ``schema``; return the versions applied now."""
    check_schema_name(schema)
    todo = bundled_migrations() if migrations is None else migrations
    applied_now: list[int] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
                " name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
            done = {int(v): str(c) for v, c in rows}
            for migration in todo:
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.version:04d}_{migration.name} changed after"
                            " it was applied (checksum mismatch); add a new migration instead"
                        )
                    continue
                with conn.transaction():
                    conn.execute(migration.text.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum)"
                        " VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(migration.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
