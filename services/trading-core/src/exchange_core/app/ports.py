"""The ports the app layer is written against; adapters implement them."""

from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from exchange_core.domain import Command, Result


class EnginePort(Protocol):
    def apply(self, cmd: Command) -> Result: ...
    def state_hash(self) -> str: ...
    def hash_dirty(self) -> None: ...
    def hash_matches(self, recorded: str) -> bool: ...
    def snapshot(self) -> bytes: ...


class JournalEntry(NamedTuple):
    """One sequenced command as the journal records it."""

    seq: int
    ts_ns: int
    epoch: int
    source: object  # the request as received (opaque to the app; the adapter encodes it)
    command: Command
    result: Result
    state_hash: str | None  # set every N commands: a checkpoint the replay verifies


class JournalBatch(NamedTuple):
    """Commands sequenced together (seqs first_seq, first_seq + 1, ...), one journal record."""

    first_seq: int
    ts_ns: int  # every command of the batch carries this time
    epoch: int
    source: object  # the batch as received (opaque to the app; the adapter encodes it)
    commands: Sequence[Command]
    results: Sequence[Result]
    state_hash: str | None  # after the last command, when the batch crossed a checkpoint


class Journal(Protocol):
    """The WAL: queues an entry for the next group commit (never blocks on the fsync)."""

    def record(self, entry: JournalEntry) -> None: ...
    def record_batch(self, batch: JournalBatch) -> None: ...


class SnapshotSink(Protocol):
    """Serializes (``image()``) and writes an engine image off the command path; False if
    the previous one is still being written. ``image`` must be called before the engine
    changes again, or from a copy of the process taken before it does (a fork)."""

    def offer(self, seq: int, state_hash: str, image: Callable[[], bytes], epoch: int) -> bool: ...
