"""Recovery: newest valid snapshot + WAL tail replay, hashes checked.

A snapshot whose own hash does not match its image is skipped (an older one and a longer
tail are used). The newest checkpoint of the replayed tail (or, with ``verify_all``, every
one) is verified; a divergence stops recovery (DivergenceError): a node never serves from
a state it cannot vouch for.
"""

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from exchange_core.adapters.replay_feeder import decoded_elsewhere
from exchange_core.adapters.segment_replay import ReplayPass
from exchange_core.adapters.snapshot_store import Snapshot, SnapshotStore, decode_snapshot
from exchange_core.adapters.wal_reader import newest_checkpoint_seq, repair_tail, segments_from
from exchange_core.adapters.wal_segment import readable_bytes
from exchange_core.app.replay import DivergenceError, ReplayOutcome, replay
from exchange_core.domain import DomainError, Engine, EngineConfig

log = logging.getLogger(__name__)



@dataclass
class Recovered:
    engine: Engine
    last_seq: int
    state_hash: str
    snapshot_seq: int
    replayed: int
    checkpoints_verified: int
    seconds: float
    newest_epoch: int
    balance_positions: dict[int, int] = field(default_factory=dict)
    checkpoints_skipped: int = 0


def _restore(store: SnapshotStore, *, use_snapshot: bool,
             strict: bool) -> tuple[Engine, Snapshot] | None:
    """The newest snapshot whose image restores to its recorded hash. Not ``strict``
    (serve): an unusable one is logged and an older one tried. ``strict`` (replay
    --verify): it is an error."""
    if not use_snapshot:
        return None
    max_seq: int | None = None
    while (snapshot := store.load_newest(max_seq)) is not None:
        try:
            engine = Engine.restore(snapshot.image)
            recorded = snapshot.header.state_hash.hex()
            if not engine.hash_matches(recorded):  # any hash version
                raise DivergenceError(snapshot.header.seq, recorded, engine.state_hash())
            return engine, snapshot
        except (DomainError, DivergenceError) as exc:
            if strict:
                log.error("snapshot %s unusable: %s", snapshot.path.name, exc)
                raise
            log.error("snapshot %s unusable, trying an older one: %s", snapshot.path.name, exc)
            max_seq = snapshot.header.seq - 1
    return None


def snapshot_hashes(store: SnapshotStore) -> dict[int, str]:
    """seq -> state hash recorded by every snapshot file (an unreadable one raises
    SnapshotFormatError: ``replay --verify`` vouches for all of them)."""
    hashes: dict[int, str] = {}
    for path in store.paths():
        header = decode_snapshot(path.read_bytes(), path).header
        hashes[header.seq] = header.state_hash.hex()
    return hashes


class _quiet_gc:  # noqa: N801 - used as a statement (`with _quiet_gc():`)
    """Replay allocates millions of long-lived objects (orders, levels) and no garbage
    cycles (a collection after a 1M-record replay finds none): collections during it only
    walk live objects (~0.35 s of a 1M replay). The collector is off for the duration and
    back on after (serve then collects once and freezes the heap)."""

    def __enter__(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *_: object) -> None:
        if self._was_enabled:
            gc.enable()


def _replay_segments(
    wal_dir: Path, engine: Engine, after: int, positions: dict[int, int], epochs: list[int],
    *, verify: bool, verify_only_seq: int | None, repaired: bool,
    snapshots: dict[int, str] | None,
) -> ReplayOutcome:
    """The WAL after ``after`` replayed in process by the compiled ``ReplayPass``; the
    first frame that does not check out is classified by ``scan_segment`` (a torn tail of
    the newest segment ends the replay; anything else raises, naming the offset)."""
    run = ReplayPass(engine, after, verify=verify, verify_only_seq=verify_only_seq,
                     positions=positions, newest_epoch=epochs[0], snapshot_hashes=snapshots)
    segments = segments_from(wal_dir, after)
    for index, path in enumerate(segments):
        last = index == len(segments) - 1
        # Not repaired (a read-only replay): the log ends after the last whole group,
        # where ``repair_tail`` would cut it.
        limit = readable_bytes(path) if last and not repaired else -1
        run.segment_file(path, is_last=last, limit=limit)
    epochs[0] = run.newest_epoch
    return ReplayOutcome(last_seq=run.last_seq, commands=run.commands,
                         checkpoints_verified=run.checkpoints_verified + run.snapshots_verified,
                         checkpoints_skipped=run.checkpoints_skipped)


def recover(
    wal_dir: Path,
    store: SnapshotStore,
    config: Callable[[], EngineConfig],
    *,
    repair: bool = True,
    use_snapshot: bool = True,
    verify: bool = True,
    verify_all: bool = True,
    decode_in_child: bool = False,
    strict_snapshots: bool = False,
) -> Recovered:
    """Newest usable snapshot + WAL tail. ``verify`` checks recorded checkpoint hashes:
    every one (``verify_all``), or only the newest, which vouches for the state served
    (the others localize a divergence: ``trading-core replay --verify`` checks them all).
    The tail is replayed in process by the compiled ``segment_replay.ReplayPass`` (frame
    bytes -> command -> apply, no per-command objects in between: 1M records in ~5.5 s
    on the shared 2-core box, bench/core_service/README). ``decode_in_child``: the older
    generic path instead, decoding in a second process (``replay_feeder``); it pays only
    when decoding costs more than pickling the commands across, which it no longer does.
    ``strict_snapshots`` (``replay --verify``): an unreadable snapshot, or one whose image
    does not restore to its recorded hash, is an error instead of a fallback to an older
    one; replayed from scratch, the state at each snapshot's seq is checked against it
    (counted with the checkpoints).
    """
    started = time.perf_counter()
    wal_dir.mkdir(parents=True, exist_ok=True)
    if repair:
        repair_tail(wal_dir)
    snapshots = snapshot_hashes(store) if strict_snapshots else None
    restored = _restore(store, use_snapshot=use_snapshot, strict=strict_snapshots)
    if restored is None:
        engine, after, positions, epochs = Engine(config()), 0, {}, [0]
    else:
        engine, snapshot = restored
        after = snapshot.header.seq
        positions = dict(snapshot.header.balance_offsets)
        epochs = [snapshot.header.epoch]
    only = None if verify_all or not verify else newest_checkpoint_seq(wal_dir, after)
    with _quiet_gc():
        if decode_in_child:
            entries = decoded_elsewhere(wal_dir, config(), after, positions, epochs)
            outcome = replay(engine, entries, after_seq=after, verify=verify,
                             verify_only_seq=only)
        else:
            outcome = _replay_segments(wal_dir, engine, after, positions, epochs,
                                       verify=verify, verify_only_seq=only, repaired=repair,
                                       snapshots=snapshots if verify else None)
    recovered = Recovered(
        engine=engine, last_seq=outcome.last_seq, state_hash=engine.state_hash(),
        snapshot_seq=after, replayed=outcome.commands,
        checkpoints_verified=outcome.checkpoints_verified,
        seconds=time.perf_counter() - started, newest_epoch=epochs[0],
        balance_positions=positions, checkpoints_skipped=outcome.checkpoints_skipped,
    )
    log.info("recovered seq %d (snapshot %d + %d replayed, %d checkpoints ok, %d not "
             "checked) in %.3fs", recovered.last_seq, after, outcome.commands,
             outcome.checkpoints_verified, outcome.checkpoints_skipped, recovered.seconds)
    return recovered
