"""Rebuilding state: apply logged commands in order, checking recorded hashes.

Used by recovery (snapshot + WAL tail) and by the ``replay`` CLI. The engine is pure and
deterministic, so the same commands give the same state hash, bit for bit; a recorded
checkpoint that differs means divergence (a bug or a tampered log), never a retry.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from exchange_core.app.ports import EnginePort
from exchange_core.domain import Command


class ReplayCommand(NamedTuple):
    seq: int
    command: Command  # already stamped with the logged ts_ns


class ReplayCheckpoint(NamedTuple):
    seq: int
    state_hash: str


class DivergenceError(Exception):
    """The replayed state differs from a hash recorded in the WAL or a snapshot."""

    def __init__(self, seq: int, recorded: str, replayed: str) -> None:
        super().__init__(f"state hash diverges at seq {seq}: recorded {recorded}, "
                         f"replayed {replayed}")
        self.seq = seq


@dataclass
class ReplayOutcome:
    last_seq: int
    commands: int = 0
    checkpoints_verified: int = 0
    checkpoints_skipped: int = 0


def replay(
    engine: EnginePort,
    entries: Iterable[ReplayCommand | ReplayCheckpoint],
    *,
    after_seq: int,
    verify: bool = True,
    verify_only_seq: int | None = None,
) -> ReplayOutcome:
    """Apply ``entries`` after ``after_seq``; with ``verify``, check recorded hashes: all of
    them, or only the checkpoint at ``verify_only_seq`` (the state hash is O(state), so
    verifying every checkpoint of a long log costs more than the replay itself)."""
    outcome = ReplayOutcome(last_seq=after_seq)
    for entry in entries:
        if isinstance(entry, ReplayCheckpoint):
            if verify and verify_only_seq is not None and entry.seq != verify_only_seq:
                outcome.checkpoints_skipped += 1
            elif verify and entry.seq == outcome.last_seq:
                if not engine.hash_matches(entry.state_hash):  # any hash version
                    raise DivergenceError(entry.seq, entry.state_hash, engine.state_hash())
                outcome.checkpoints_verified += 1
            continue
        if entry.seq != outcome.last_seq + 1:
            raise DivergenceError(entry.seq, f"seq {outcome.last_seq + 1}", f"seq {entry.seq}")
        engine.apply(entry.command)
        outcome.last_seq = entry.seq
        outcome.commands += 1
    return outcome
