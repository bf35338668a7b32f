"""Appending one entry outside the batch path (adjustments, reversals): lock, check, write."""

import json
from typing import Any

import psycopg

from exchange_ledger.adapters.settlement_store import lock_balances
from exchange_ledger.domain.accounts import may_go_negative
from exchange_ledger.domain.entries import EntryDraft, balance_deltas
from exchange_ledger.domain.rejection import Refusal, Rejection


def append_entry(conn: psycopg.Connection, draft: EntryDraft, *, principal: str,
                 reverses: int | None = None) -> int | Rejection:
    """Write ``draft`` and move the balances; refuse (changing nothing) below zero.

    Must run inside the caller's transaction: a refusal is returned before any write.
    """
    deltas = balance_deltas(draft.postings)
    balances = lock_balances(conn, deltas)
    for account, delta in sorted(deltas.items()):
        after = balances.get(account, 0) + delta
        if after < 0 and not may_go_negative(account):
            return Rejection(Refusal.INSUFFICIENT_FUNDS,
                             f"{account.owner}/{account.asset}/{account.kind} would go to {after}")
    row = conn.execute(
        "INSERT INTO journal_entries (entry_id, kind, ref, posting_count, reverses_entry_id,"
        " principal) VALUES (nextval('journal_entry_id_seq'), %s, %s, %s, %s, %s)"
        " RETURNING entry_id",
        (draft.kind.value, draft.ref, len(draft.postings), reverses, principal)).fetchone()
    if row is None:
        raise RuntimeError("INSERT ... RETURNING returned no row")
    entry_id = int(row[0])
    values = [(entry_id, leg, p.account.owner, p.account.asset, p.account.kind, p.units,
               p.order_ref) for leg, p in enumerate(draft.postings)]
    placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(values))
    conn.execute(  # one statement: the zero-sum trigger sees the whole entry
        f"INSERT INTO postings (entry_id, leg, owner, asset, kind, units, order_ref)"
        f" VALUES {placeholders}", [v for row_ in values for v in row_])
    keys = sorted(deltas)
    conn.execute(
        "UPDATE balances b SET units = b.units + d.delta FROM unnest(%s::text[], %s::text[],"
        " %s::text[], %s::numeric[]) AS d(owner, asset, kind, delta)"
        " WHERE (b.owner, b.asset, b.kind) = (d.owner, d.asset, d.kind)",
        ([k.owner for k in keys], [k.asset for k in keys], [k.kind for k in keys],
         [deltas[k] for k in keys]))
    return entry_id


def audit(conn: psycopg.Connection, principal: str, action: str, subject: str,
          details: dict[str, Any]) -> None:
    conn.execute("INSERT INTO audit_log (principal, action, subject, details)"
                 " VALUES (%s, %s, %s, %s::jsonb)",
                 (principal, action, subject, json.dumps(details, sort_keys=True)))
