"""Snapshots off the command path: the image is the state at its seq (serialized in a
forked copy of the process while the engine moves on), published only once durable."""

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from exchange_common.ids import AccountId, Asset, Symbol
from exchange_core.adapters.housekeeper import Housekeeper
from exchange_core.adapters.market_config import parse_markets
from exchange_core.adapters.snapshot_store import SnapshotStore
from exchange_core.domain import BalanceAdjust, Engine, PlaceOrder, codes

MARKETS = {
    "assets": [{"code": "BTC", "scale": 8}, {"code": "USDT", "scale": 6}],
    "markets": [{"symbol": "BTC-USDT", "base": "BTC", "quote": "USDT", "tick_size": "0.01",
                 "lot_size": "0.0001", "min_quantity": "0.0001", "max_quantity": "1000"}],
}


def _engine() -> Engine:
    engine = Engine(parse_markets(MARKETS))
    engine.apply(BalanceAdjust("d1", AccountId("alice"), Asset("USDT"), 10**12))
    for i in range(200):
        engine.apply(PlaceOrder(Symbol("BTC-USDT"), AccountId("alice"), f"c{i}", codes.BUY,
                                codes.LIMIT, codes.GTC, 10_000 + i, 100))
    return engine


def _wait(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _housekeeper(tmp_path: Path, durable: list[int], *, fork: bool) -> Housekeeper:
    (tmp_path / "wal").mkdir()
    return Housekeeper(
        shard_id="t", store=SnapshotStore(tmp_path / "snapshots"), wal_dir=tmp_path / "wal",
        durable_seq=lambda: durable[0], balance_positions=lambda: {0: 5},
        outbox_cursor=lambda: None, archive=None, snapshots_kept=3, prune_wal=False,
        interval_s=0.01, fork_writer=fork)


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "in-process"])
def test_a_snapshot_is_the_state_at_its_seq_and_published_once_durable(
    tmp_path: Path, fork: bool
) -> None:
    engine, durable = _engine(), [0]
    store = SnapshotStore(tmp_path / "snapshots")
    housekeeper = _housekeeper(tmp_path, durable, fork=fork)
    housekeeper.start()
    at_seq_10 = engine.state_hash()
    assert housekeeper.offer(10, at_seq_10, engine.snapshot, 2)
    assert not housekeeper.offer(11, at_seq_10, engine.snapshot, 2)  # one at a time
    for i in range(50):  # the command path goes on at once
        engine.apply(PlaceOrder(Symbol("BTC-USDT"), AccountId("alice"), f"later-{i}",
                                codes.BUY, codes.LIMIT, codes.GTC, 9_000, 100))
    assert engine.state_hash() != at_seq_10
    time.sleep(0.3)
    assert store.paths() == [] and housekeeper.busy()  # seq 10 is not durable yet
    durable[0] = 10
    _wait(lambda: not housekeeper.busy())
    snapshot = store.load_newest()
    assert snapshot is not None and snapshot.header.seq == 10
    assert Engine.restore(snapshot.image).state_hash() == at_seq_10
    assert dict(snapshot.header.balance_offsets) == {0: 5} and snapshot.header.epoch == 2
    assert [p.name for p in store.directory.iterdir()] == [snapshot.path.name]  # no temp
    housekeeper.stop()


def test_a_failed_forked_writer_publishes_nothing_and_the_next_snapshot_is_taken(
    tmp_path: Path,
) -> None:
    engine, durable = _engine(), [20]
    store = SnapshotStore(tmp_path / "snapshots")
    housekeeper = _housekeeper(tmp_path, durable, fork=True)
    housekeeper.start()

    def broken() -> bytes:
        raise RuntimeError("the serializer failed")

    assert housekeeper.offer(5, engine.state_hash(), broken, 1)
    _wait(lambda: not housekeeper.busy())
    assert store.paths() == [] and list(store.directory.iterdir()) == []
    assert housekeeper.offer(6, engine.state_hash(), engine.snapshot, 1)
    _wait(lambda: not housekeeper.busy())
    assert [p.name for p in store.paths()] == ["snap-00000000000000000006.snap"]
    housekeeper.stop()
