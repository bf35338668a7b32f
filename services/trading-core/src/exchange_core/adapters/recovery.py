"""Recovery: newest valid snapshot + WAL tail replay, hashes checked all the way.

A snapshot whose own hash does not match its image is skipped (an older one and a longer
tail are used). Every checkpoint in the replayed tail is verified; a divergence stops
recovery (DivergenceError): a node never serves from a state it cannot vouch for.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from exchange_core.adapters.snapshot_store import Snapshot, SnapshotStore
from exchange_core.adapters.wal_journal import replay_input
from exchange_core.adapters.wal_reader import repair_tail
from exchange_core.app.replay import DivergenceError, replay
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


def _restore(store: SnapshotStore, *, use_snapshot: bool) -> tuple[Engine, Snapshot] | None:
    if not use_snapshot:
        return None
    max_seq: int | None = None
    while (snapshot := store.load_newest(max_seq)) is not None:
        try:
            engine = Engine.restore(snapshot.image)
            recorded = snapshot.header.state_hash.hex()
            if engine.state_hash() != recorded:
                raise DivergenceError(snapshot.header.seq, recorded, engine.state_hash())
            return engine, snapshot
        except (DomainError, DivergenceError) as exc:
            log.error("snapshot %s unusable, trying an older one: %s", snapshot.path.name, exc)
            max_seq = snapshot.header.seq - 1
    return None


def recover(
    wal_dir: Path,
    store: SnapshotStore,
    config: Callable[[], EngineConfig],
    *,
    repair: bool = True,
    use_snapshot: bool = True,
    verify: bool = True,
) -> Recovered:
    started = time.perf_counter()
    wal_dir.mkdir(parents=True, exist_ok=True)
    if repair:
        repair_tail(wal_dir)
    restored = _restore(store, use_snapshot=use_snapshot)
    if restored is None:
        engine, after, positions, epochs = Engine(config()), 0, {}, [0]
    else:
        engine, snapshot = restored
        after = snapshot.header.seq
        positions = dict(snapshot.header.balance_offsets)
        epochs = [snapshot.header.epoch]
    outcome = replay(engine, replay_input(wal_dir, lambda: engine, after, positions, epochs),
                     after_seq=after, verify=verify)
    recovered = Recovered(
        engine=engine, last_seq=outcome.last_seq, state_hash=engine.state_hash(),
        snapshot_seq=after, replayed=outcome.commands,
        checkpoints_verified=outcome.checkpoints_verified,
        seconds=time.perf_counter() - started, newest_epoch=epochs[0],
        balance_positions=positions,
    )
    log.info("recovered seq %d (snapshot %d + %d replayed, %d checkpoints ok) in %.3fs",
             recovered.last_seq, after, outcome.commands, outcome.checkpoints_verified,
             recovered.seconds)
    return recovered
