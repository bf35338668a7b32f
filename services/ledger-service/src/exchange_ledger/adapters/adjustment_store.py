"""Adjustments: journaled against the treasury and written to the outbox, in one
transaction; idempotent by adjustment id (same id, other content: refused)."""

import time
from dataclasses import dataclass

import psycopg

from exchange.v1 import events_pb2
from exchange_common.envelope import make_envelope
from exchange_common.money import format_units
from exchange_common.topics import Topic
from exchange_ledger.adapters.connections import ConnectionSource
from exchange_ledger.adapters.journal_writer import append_entry, audit
from exchange_ledger.domain.adjustment import Adjustment, AdjustmentKind, adjustment_entry
from exchange_ledger.domain.assets import AssetScales
from exchange_ledger.domain.rejection import Refusal, Rejection

_KINDS = {
    AdjustmentKind.DEPOSIT: events_pb2.ADJUSTMENT_KIND_DEPOSIT,
    AdjustmentKind.WITHDRAWAL: events_pb2.ADJUSTMENT_KIND_WITHDRAWAL,
    AdjustmentKind.CREDIT: events_pb2.ADJUSTMENT_KIND_CREDIT,
    AdjustmentKind.DEBIT: events_pb2.ADJUSTMENT_KIND_DEBIT,
}


@dataclass(frozen=True, slots=True)
class AdjustmentResult:
    entry_id: int
    created: bool  # False: the same adjustment was already journaled (idempotent replay)


class AdjustmentStore:
    def __init__(self, connect: ConnectionSource, scales: AssetScales,
                 topic: str = Topic.LEDGER_BALANCE_EVENTS) -> None:
        self._connect, self._scales, self._topic = connect, scales, topic

    def apply(self, adj: Adjustment, principal: str,
              correlation_id: str = "") -> AdjustmentResult | Rejection:
        outcome: list[AdjustmentResult | Rejection] = []
        with self._connect() as conn, conn.transaction():
            outcome.append(self._apply(conn, adj, principal, correlation_id))
            if isinstance(outcome[0], Rejection):
                raise psycopg.Rollback()  # a refusal changes nothing (not even accounts)
        return outcome[0]

    def _apply(self, conn: psycopg.Connection, adj: Adjustment, principal: str,
               correlation_id: str) -> AdjustmentResult | Rejection:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (adj.adjustment_id,))
        row = conn.execute(
            "SELECT owner, asset, delta_units, kind, reason, entry_id FROM adjustments"
            " WHERE adjustment_id = %s", (adj.adjustment_id,)).fetchone()
        if row is not None:
            stored = Adjustment(adj.adjustment_id, row[0], row[1], int(row[2]),
                                AdjustmentKind(row[3]), row[4])
            if stored != adj:
                return Rejection(Refusal.EXISTS_WITH_DIFFERENT_CONTENT,
                                 f"adjustment {adj.adjustment_id} exists with other content")
            return AdjustmentResult(int(row[5]), created=False)
        entry_id = append_entry(conn, adjustment_entry(adj), principal=principal)
        if isinstance(entry_id, Rejection):
            return entry_id
        conn.execute(
            "INSERT INTO adjustments (adjustment_id, owner, asset, delta_units, kind, reason,"
            " content_hash, entry_id, principal) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (adj.adjustment_id, adj.owner, adj.asset, adj.delta_units, adj.kind.value,
             adj.reason, adj.fingerprint().encode(), entry_id, principal))
        outbox = conn.execute("SELECT nextval(pg_get_serial_sequence('outbox', 'id'))"
                              ).fetchone()
        if outbox is None:
            raise RuntimeError("nextval returned no row")
        event = events_pb2.BalanceEvent(
            envelope=make_envelope(producer="ledger", symbol="", seq=int(outbox[0]), index=0,
                                   occurred_at_ns=time.time_ns(), correlation_id=correlation_id,
                                   causation_id=adj.adjustment_id, epoch=0),
            adjusted=events_pb2.BalanceAdjusted(
                adjustment_id=adj.adjustment_id, account_id=adj.owner, asset=adj.asset,
                delta=format_units(adj.delta_units, self._scales[adj.asset]),
                kind=_KINDS[adj.kind], reason=adj.reason))
        conn.execute("INSERT INTO outbox (id, topic, record_key, payload) VALUES (%s, %s, %s,"
                     " %s)", (int(outbox[0]), self._topic, adj.owner.encode(),
                              event.SerializeToString()))
        audit(conn, principal, "adjustment", adj.adjustment_id,
              {"account_id": adj.owner, "asset": adj.asset, "kind": adj.kind.value,
               "delta_units": str(adj.delta_units), "entry_id": entry_id})
        return AdjustmentResult(entry_id, created=True)
