"""Engine sequence numbers reported by the core vs what the ledger applied, and gaps."""

from dataclasses import dataclass

from exchange_ledger.adapters.connections import ConnectionSource

MAX_GAPS_REPORTED = 1_000


@dataclass(frozen=True)
class Reconciliation:
    symbol: str
    engine_seq: int | None
    ledger_seq: int | None
    epoch: int | None
    gaps: list[tuple[int, int]]

    @property
    def in_sync(self) -> bool:
        return (not self.gaps and self.engine_seq is not None
                and self.ledger_seq is not None and self.ledger_seq >= self.engine_seq)


class ReconciliationStore:
    def __init__(self, connect: ConnectionSource) -> None:
        self._connect = connect

    def report_engine_seq(self, symbol: str, seq: int) -> None:
        with self._connect() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO engine_seq (symbol, engine_seq) VALUES (%s, %s) ON CONFLICT (symbol)"
                " DO UPDATE SET engine_seq = greatest(engine_seq.engine_seq, excluded.engine_seq),"
                " reported_at = now()", (symbol, seq))

    def reconcile(self, symbol: str) -> Reconciliation:
        with self._connect() as conn, conn.transaction():
            engine = conn.execute("SELECT engine_seq FROM engine_seq WHERE symbol = %s",
                                  (symbol,)).fetchone()
            state = conn.execute("SELECT last_seq, epoch FROM symbol_state WHERE symbol = %s",
                                 (symbol,)).fetchone()
            gaps = conn.execute("SELECT from_seq, to_seq FROM seq_gaps WHERE symbol = %s"
                                " ORDER BY from_seq LIMIT %s",
                                (symbol, MAX_GAPS_REPORTED)).fetchall()
        return Reconciliation(symbol, None if engine is None else int(engine[0]),
                              None if state is None else int(state[0]),
                              None if state is None else int(state[1]),
                              [(int(a), int(b)) for a, b in gaps])
