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
from exchange_core.adapters.snapshot_store import Snapshot, SnapshotStore
from exchange_core.adapters.wal_journal import replay_input
from exchange_core.adapters.wal_reader import newest_checkpoint_seq, repair_tail
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
    checkpoints_skipped: int = 0


def _restore(store: SnapshotStore, *, use_snapshot: bool) -> tuple[Engine, Snapshot] | None:
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
            log.error("snapshot %s unusable, trying an older one: %s", snapshot.path.name, exc)
            max_seq = snapshot.header.seq - 1
    return None


class _quiet_gc:  # noqa: N801 - used as a statement (`with _quiet_gc():`)
    """Replay allocates millions of long-lived objects (orders, levels) and no cycles
    worth collecting: young-generation collections that walk them are pure overhead.
    Raise the thresholds for the duration, then restore them."""

    def __enter__(self) -> None:
        self._saved = gc.get_threshold()
        gc.set_threshold(200_000, 50, 1000)

    def __exit__(self, *_: object) -> None:
        gc.set_threshold(*self._saved)


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
) -> Recovered:
    """Newest usable snapshot + WAL tail. ``verify`` checks recorded checkpoint hashes:
    every one (``verify_all``), or only the newest, which vouches for the state served
    (the others localize a divergence: ``trading-core replay --verify`` checks them all).
    ``decode_in_child``: decode the WAL in a second process. Off by default since the WAL
    requests are decoded straight from their wire bytes (``request_wire``): pickling the
    commands across then costs more than decoding them here (1M records: 15.4 s in
    process, 18.8 s with the child, on the shared 2-core box; bench/core_service/README).
    """
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
    only = None if verify_all or not verify else newest_checkpoint_seq(wal_dir, after)
    entries = (decoded_elsewhere(wal_dir, config(), after, positions, epochs)
               if decode_in_child else
               replay_input(wal_dir, lambda: engine, after, positions, epochs))
    with _quiet_gc():
        outcome = replay(engine, entries, after_seq=after, verify=verify,
                         verify_only_seq=only)
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
