"""The command pipeline, spelled out in one place.

Stages of ``execute``: stamp (seq, time, epoch) -> apply to the engine (risk, matching,
release: the domain) -> journal (queued for the next group commit, with a checkpoint
hash every N commands) -> fold the state hash's changed entities -> maybe hand a
snapshot image to the writer. The caller releases the reply only once the journal
reports the seq durable: that is the commit line, and it is enforced by the adapter that
owns the replies (``DurabilityGate``).

The fold (``Engine.hash_dirty``) runs after every journal record, while that record's
fsync is in flight: its cost follows the entities the record changed (a few per command).
Left to the engine, it would run as one ~2 ms fold inside whichever command crosses
8,192 changed orders: a stall in one batch's staging, in the service's p99.

Single-threaded by contract: one thread (the event loop) calls ``execute``.
"""

import time
from collections.abc import Callable, Sequence

from exchange_core.app.ports import EnginePort, Journal, JournalBatch, JournalEntry, SnapshotSink
from exchange_core.domain import Command, InvariantViolation, Result


class SnapshotPolicy:
    """Every N commands or T seconds, whichever comes first."""

    def __init__(
        self,
        sink: SnapshotSink,
        every_commands: int,
        every_seconds: float,
        clock_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self.every_commands = every_commands
        self.every_seconds = every_seconds
        self._clock_s = clock_s
        self._last_seq = 0
        self._last_time = clock_s()

    def due(self, seq: int) -> bool:
        return seq - self._last_seq >= self.every_commands or (
            seq > self._last_seq and self._clock_s() - self._last_time >= self.every_seconds
        )

    def taken(self, seq: int) -> None:
        self._last_seq = seq
        self._last_time = self._clock_s()


class Sequencer:
    def __init__(
        self,
        engine: EnginePort,
        journal: Journal,
        *,
        epoch: int,
        next_seq: int,
        checkpoint_every: int,
        snapshots: SnapshotPolicy | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        if epoch <= 0 or next_seq <= 0 or checkpoint_every <= 0:
            raise InvariantViolation("SEQ-0: epoch, next_seq and checkpoint_every must be > 0")
        self._engine = engine
        self._journal = journal
        self._epoch = epoch
        self._next_seq = next_seq
        self._checkpoint_every = checkpoint_every
        self._snapshots = snapshots
        self._clock_ns = clock_ns
        self._last_ts_ns = 0
        if snapshots is not None:
            snapshots.taken(next_seq - 1)

    @property
    def last_seq(self) -> int:
        return self._next_seq - 1

    @property
    def epoch(self) -> int:
        return self._epoch

    def execute(self, source: object, command: Command) -> tuple[int, Result]:
        seq = self._next_seq
        # Time never goes backwards in the log, even if the wall clock does.
        ts_ns = max(self._clock_ns(), self._last_ts_ns)
        stamped = command._replace(ts_ns=ts_ns)
        result = self._engine.apply(stamped)
        state_hash = self._engine.state_hash() if seq % self._checkpoint_every == 0 else None
        self._journal.record(
            JournalEntry(seq, ts_ns, self._epoch, source, stamped, result, state_hash)
        )
        self._engine.hash_dirty()
        self._next_seq = seq + 1
        self._last_ts_ns = ts_ns
        if self._snapshots is not None and self._snapshots.due(seq):
            self.snapshot_now()
        return seq, result

    def now_ns(self) -> int:
        """The time a command sequenced now carries (never before the previous one).

        A batch is stamped once: map its commands with this time, then ``execute_batch``.
        """
        return max(self._clock_ns(), self._last_ts_ns)

    def execute_batch(
        self, source: object, commands: Sequence[Command], ts_ns: int
    ) -> tuple[int, list[Result]]:
        """Sequence ``commands`` (all stamped with ``ts_ns``, from ``now_ns``) as one
        journal record: seqs first, first + 1, ... in order. Returns (first seq, results).

        The checkpoint hash is taken after the last command when the batch crosses a
        multiple of ``checkpoint_every`` (a checkpoint always names a record boundary).
        """
        if ts_ns < self._last_ts_ns:
            raise InvariantViolation("SEQ-1: a batch's time precedes the previous command's")
        for command in commands:
            if command.ts_ns != ts_ns:
                raise InvariantViolation("SEQ-2: a batch command is not stamped with its time")
        first = self._next_seq
        if not commands:
            return first, []
        apply = self._engine.apply
        results = [apply(command) for command in commands]
        last = first + len(results) - 1
        every = self._checkpoint_every
        crossed = last // every != (first - 1) // every
        state_hash = self._engine.state_hash() if crossed else None
        self._journal.record_batch(
            JournalBatch(first, ts_ns, self._epoch, source, commands, results, state_hash)
        )
        self._engine.hash_dirty()
        self._next_seq = last + 1
        self._last_ts_ns = ts_ns
        if self._snapshots is not None and self._snapshots.due(last):
            self.snapshot_now()
        return first, results

    def snapshot_now(self) -> bool:
        """Hand the engine's state at this seq to the snapshot sink, which serializes and
        writes it off this thread (serve's: in a forked copy of the process)."""
        if self._snapshots is None or self.last_seq == 0:
            return False
        seq = self.last_seq
        offered = self._snapshots.sink.offer(
            seq, self._engine.state_hash(), self._engine.snapshot, self._epoch
        )
        if offered:
            self._snapshots.taken(seq)
        return offered
