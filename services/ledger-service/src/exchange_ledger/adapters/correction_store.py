"""Corrections: a request names an entry, two distinct approvers (neither the requester)
approve, and apply appends the reversal entry. Nothing is ever edited."""

import uuid
from dataclasses import dataclass

import psycopg

from exchange_ledger.adapters.connections import ConnectionSource
from exchange_ledger.adapters.journal_writer import append_entry, audit
from exchange_ledger.domain.accounts import AccountKey
from exchange_ledger.domain.entries import Posting, reversal_of
from exchange_ledger.domain.rejection import Refusal, Rejection

APPROVALS_NEEDED = 2


@dataclass(frozen=True)
class CorrectionState:
    correction_id: str
    entry_id: int
    requested_by: str
    approvers: list[str]
    reversal_entry_id: int | None

    @property
    def status(self) -> str:
        if self.reversal_entry_id is not None:
            return "applied"
        return "approved" if len(self.approvers) >= APPROVALS_NEEDED else "pending"


def _lock(conn: psycopg.Connection, correction_id: str) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"correction:{correction_id}",))


def _state(conn: psycopg.Connection, correction_id: str) -> CorrectionState | None:
    row = conn.execute("SELECT entry_id, requested_by FROM correction_requests"
                       " WHERE correction_id = %s", (correction_id,)).fetchone()
    if row is None:
        return None
    approvers = [r[0] for r in conn.execute(
        "SELECT approver FROM correction_approvals WHERE correction_id = %s ORDER BY approver",
        (correction_id,))]
    applied = conn.execute("SELECT reversal_entry_id FROM correction_applications"
                           " WHERE correction_id = %s", (correction_id,)).fetchone()
    return CorrectionState(correction_id, int(row[0]), row[1], approvers,
                           None if applied is None else int(applied[0]))


class CorrectionStore:
    def __init__(self, connect: ConnectionSource) -> None:
        self._connect = connect

    def request(self, entry_id: int, reason: str, requester: str) -> CorrectionState | Rejection:
        if not reason or len(reason) > 500:
            return Rejection(Refusal.INVALID_REQUEST, "reason must be 1..500 characters")
        with self._connect() as conn, conn.transaction():
            if conn.execute("SELECT 1 FROM journal_entries WHERE entry_id = %s",
                            (entry_id,)).fetchone() is None:
                return Rejection(Refusal.NOT_FOUND, f"journal entry {entry_id} does not exist")
            if conn.execute("SELECT 1 FROM journal_entries WHERE reverses_entry_id = %s",
                            (entry_id,)).fetchone() is not None:
                return Rejection(Refusal.ALREADY_REVERSED, f"entry {entry_id} is already reversed")
            correction_id = str(uuid.uuid4())
            conn.execute("INSERT INTO correction_requests (correction_id, entry_id, reason,"
                         " requested_by) VALUES (%s, %s, %s, %s)",
                         (correction_id, entry_id, reason, requester))
            audit(conn, requester, "correction-request", correction_id,
                  {"entry_id": entry_id, "reason": reason})
            state = _state(conn, correction_id)
        if state is None:
            raise RuntimeError("correction vanished inside its own transaction")
        return state

    def approve(self, correction_id: str, approver: str) -> CorrectionState | Rejection:
        with self._connect() as conn, conn.transaction():
            _lock(conn, correction_id)
            state = _state(conn, correction_id)
            if state is None:
                return Rejection(Refusal.NOT_FOUND, f"correction {correction_id} does not exist")
            if state.reversal_entry_id is not None:
                return Rejection(Refusal.ALREADY_APPLIED, "correction is already applied")
            if approver == state.requested_by:
                return Rejection(Refusal.SELF_APPROVAL, "the requester cannot approve")
            if approver in state.approvers:
                return Rejection(Refusal.ALREADY_APPROVED, f"{approver} already approved")
            conn.execute("INSERT INTO correction_approvals (correction_id, approver)"
                         " VALUES (%s, %s)", (correction_id, approver))
            audit(conn, approver, "correction-approve", correction_id, {})
            return _state(conn, correction_id) or state

    def apply(self, correction_id: str, principal: str) -> CorrectionState | Rejection:
        outcome: list[CorrectionState | Rejection] = []
        with self._connect() as conn, conn.transaction():
            outcome.append(self._apply(conn, correction_id, principal))
            if isinstance(outcome[0], Rejection):
                raise psycopg.Rollback()  # a refusal changes nothing
        return outcome[0]

    def _apply(self, conn: psycopg.Connection, correction_id: str,
               principal: str) -> CorrectionState | Rejection:
        _lock(conn, correction_id)
        state = _state(conn, correction_id)
        if state is None:
            return Rejection(Refusal.NOT_FOUND, f"correction {correction_id} does not exist")
        if state.reversal_entry_id is not None:
            return Rejection(Refusal.ALREADY_APPLIED, "correction is already applied")
        if len(state.approvers) < APPROVALS_NEEDED:
            return Rejection(Refusal.NOT_APPROVED, f"needs {APPROVALS_NEEDED} approvals,"
                             f" has {len(state.approvers)}")
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                     (f"reverse:{state.entry_id}",))
        if conn.execute("SELECT 1 FROM journal_entries WHERE reverses_entry_id = %s",
                        (state.entry_id,)).fetchone() is not None:
            return Rejection(Refusal.ALREADY_REVERSED, "the entry is already reversed")
        postings = [Posting(AccountKey(o, a, k), int(u), r) for o, a, k, u, r in conn.execute(
            "SELECT owner, asset, kind, units, order_ref FROM postings WHERE entry_id = %s"
            " ORDER BY leg", (state.entry_id,))]
        draft = reversal_of(f"correction:{correction_id}", postings)
        if draft is None:
            return Rejection(Refusal.NOT_FOUND, "the entry has no postings")
        entry_id = append_entry(conn, draft, principal=principal, reverses=state.entry_id)
        if isinstance(entry_id, Rejection):
            return entry_id
        conn.execute("INSERT INTO correction_applications (correction_id, reversal_entry_id,"
                     " applied_by) VALUES (%s, %s, %s)", (correction_id, entry_id, principal))
        audit(conn, principal, "correction-apply", correction_id,
              {"reversal_entry_id": entry_id, "reversed_entry_id": state.entry_id})
        return _state(conn, correction_id) or state
