"""LED invariants checked over the whole ledger in SQL, and the balance rebuild.

Each check returns at most ``limit`` offending rows, so a broken ledger cannot produce an
unbounded report. See docs/INVARIANTS.md (LED-*) for what each one means."""

import time
from dataclasses import dataclass, field
from typing import Any

from exchange_ledger.adapters.connections import ConnectionSource
from exchange_ledger.adapters.journal_writer import audit

_CHECKS: dict[str, str] = {
    "LED-1 entries sum to zero per asset":
        "SELECT entry_id, asset, sum(units)::text FROM postings GROUP BY entry_id, asset"
        " HAVING sum(units) <> 0 LIMIT %(limit)s",
    "LED-1 entries are complete":
        "SELECT j.entry_id, j.posting_count, count(p.entry_id) FROM journal_entries j"
        " LEFT JOIN postings p USING (entry_id) GROUP BY j.entry_id, j.posting_count"
        " HAVING count(p.entry_id) <> j.posting_count LIMIT %(limit)s",
    "LED-3 balances are not negative":
        "SELECT owner, asset, kind, units::text FROM balances WHERE kind <> 'external'"
        " AND units < 0 LIMIT %(limit)s",
    "LED-4 balances equal the journal":
        "SELECT coalesce(b.owner, j.owner), coalesce(b.asset, j.asset), coalesce(b.kind, j.kind),"
        " coalesce(b.units, 0)::text, coalesce(j.units, 0)::text FROM balances b"
        " FULL JOIN (SELECT owner, asset, kind, sum(units) AS units FROM postings"
        " GROUP BY owner, asset, kind) j USING (owner, asset, kind)"
        " WHERE coalesce(b.units, 0) <> coalesce(j.units, 0) LIMIT %(limit)s",
    "LED-5 no order's hold is below zero":
        "SELECT order_ref, asset, sum(units)::text FROM postings WHERE kind = 'hold'"
        " GROUP BY order_ref, asset HAVING sum(units) < 0 LIMIT %(limit)s",
    "LED-5 closed orders hold nothing":
        "SELECT p.order_ref, p.asset, sum(p.units)::text FROM postings p"
        " JOIN order_closures c ON c.order_id = p.order_ref WHERE p.kind = 'hold'"
        " AND NOT EXISTS (SELECT 1 FROM parked_events e WHERE e.requires @> ARRAY[p.order_ref])"
        " GROUP BY p.order_ref, p.asset HAVING sum(p.units) <> 0 LIMIT %(limit)s",
}


@dataclass
class InvariantReport:
    ok: bool
    elapsed_ms: float
    postings: int
    violations: dict[str, list[list[Any]]] = field(default_factory=dict)


class InvariantChecker:
    def __init__(self, connect: ConnectionSource) -> None:
        self._connect = connect

    def check(self, limit: int = 100) -> InvariantReport:
        started = time.perf_counter()
        violations: dict[str, list[list[Any]]] = {}
        with self._connect() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            for name, query in _CHECKS.items():
                rows = conn.execute(query, {"limit": limit}).fetchall()
                if rows:
                    violations[name] = [list(r) for r in rows]
            count = conn.execute("SELECT count(*) FROM postings").fetchone()
        return InvariantReport(not violations, (time.perf_counter() - started) * 1000,
                               int(count[0]) if count else 0, violations)

    def rebuild_balances(self, principal: str, *, repair: bool,
                         limit: int = 1000) -> list[dict[str, str]]:
        """Recompute balances from the journal; report drift, and repair it if asked."""
        with self._connect() as conn, conn.transaction():
            conn.execute("LOCK TABLE balances IN SHARE ROW EXCLUSIVE MODE")
            rows = conn.execute(
                "SELECT coalesce(b.owner, j.owner), coalesce(b.asset, j.asset),"
                " coalesce(b.kind, j.kind), coalesce(b.units, 0), coalesce(j.units, 0)"
                " FROM balances b FULL JOIN (SELECT owner, asset, kind, sum(units) AS units"
                " FROM postings GROUP BY owner, asset, kind) j USING (owner, asset, kind)"
                " WHERE coalesce(b.units, 0) <> coalesce(j.units, 0)").fetchall()
            drift = [{"owner": o, "asset": a, "kind": k, "balance_units": str(b),
                      "journal_units": str(j)} for o, a, k, b, j in rows]
            if repair and rows:
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO accounts (owner, asset, kind) VALUES (%s, %s, %s)"
                        " ON CONFLICT DO NOTHING", [(o, a, k) for o, a, k, _, _ in rows])
                    cur.executemany(
                        "INSERT INTO balances (owner, asset, kind, units) VALUES (%s, %s, %s, %s)"
                        " ON CONFLICT (owner, asset, kind) DO UPDATE SET units = excluded.units",
                        [(o, a, k, j) for o, a, k, _, j in rows])
            audit(conn, principal, "rebuild-balances", "balances",
                  {"repair": repair, "drift_rows": len(drift)})
        return drift[:limit]
