"""Snapshot + WAL tail recovery equals a full replay, on real files and the real engine."""

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from exchange.core.v1 import wal_pb2
from exchange.v1 import common_pb2
from exchange.v1 import trading_core_pb2 as pb
from exchange_core.__main__ import main
from exchange_core.adapters import command_mapping
from exchange_core.adapters.event_mapping import EventMapper
from exchange_core.adapters.market_config import parse_markets
from exchange_core.adapters.recovery import recover
from exchange_core.adapters.snapshot_store import SnapshotStore
from exchange_core.adapters.wal_frame import RecordType, encode_frame
from exchange_core.adapters.wal_journal import WalJournal
from exchange_core.adapters.wal_segment import WalCorruptionError, list_segments, scan_segment
from exchange_core.adapters.wal_writer import WalWriter
from exchange_core.app.replay import DivergenceError
from exchange_core.app.sequencer import Sequencer, SnapshotPolicy
from exchange_core.domain import Engine, EngineConfig

MARKETS = {
    "assets": [{"code": "BTC", "scale": 8}, {"code": "USDT", "scale": 6}],
    "markets": [{"symbol": "BTC-USDT", "base": "BTC", "quote": "USDT", "tick_size": "0.01",
                 "lot_size": "0.0001", "min_quantity": "0.0001", "max_quantity": "1000"}],
}


def _config() -> EngineConfig:
    return parse_markets(MARKETS)


class _StoreSink:
    """Writes snapshots synchronously (the commands are made durable first by close())."""

    def __init__(self, store: SnapshotStore) -> None:
        self.store = store
        self.pending: list[tuple[int, str, bytes, int]] = []

    def offer(self, seq: int, state_hash: str, image: Callable[[], bytes], epoch: int) -> bool:
        self.pending.append((seq, state_hash, image(), epoch))  # serialized now, in process
        return True

    def flush(self) -> None:
        for seq, state_hash, image, epoch in self.pending:
            self.store.write(wal_pb2.SnapshotHeader(
                format_version=1, seq=seq, state_hash=bytes.fromhex(state_hash), epoch=epoch),
                image)


def _requests(count: int, seed: int) -> list[wal_pb2.SequencedCommand]:
    rng = random.Random(seed)
    out = []
    for account, asset in (("alice", "USDT"), ("bob", "BTC"), ("carol", "USDT"), ("dave", "BTC")):
        balance = wal_pb2.BalanceCommand(source_event_id=f"dep-{account}")
        balance.adjusted.adjustment_id = f"dep-{account}"
        balance.adjusted.account_id, balance.adjusted.asset = account, asset
        balance.adjusted.delta = "100000000" if asset == "USDT" else "1000"
        out.append(wal_pb2.SequencedCommand(balance=balance))
    for i in range(count):
        buy = rng.random() < 0.5
        account = rng.choice(("alice", "carol") if buy else ("bob", "dave"))
        if rng.random() < 0.1:
            out.append(wal_pb2.SequencedCommand(cancel_order=pb.CancelOrderRequest(
                symbol="BTC-USDT", account_id=account, client_order_id=f"c{i - 5}")))
            continue
        out.append(wal_pb2.SequencedCommand(place_order=pb.PlaceOrderRequest(
            symbol="BTC-USDT", account_id=account, client_order_id=f"c{i}",
            side=common_pb2.SIDE_BUY if buy else common_pb2.SIDE_SELL,
            order_type=common_pb2.ORDER_TYPE_LIMIT,
            price=f"{30000 + rng.randint(-20, 20)}.{rng.randint(0, 99):02d}",
            quantity=f"0.{rng.randint(1, 500):04d}")))
    return out


def _command(engine: Engine, source: wal_pb2.SequencedCommand) -> object:
    which = source.WhichOneof("command")
    if which == "balance":
        return command_mapping.balance_adjust(engine, source.balance.adjusted,
                                              source.balance.source_event_id)
    if which == "cancel_order":
        return command_mapping.cancel_order(engine, source.cancel_order)
    return command_mapping.place_order(engine, source.place_order)


def _run(data_dir: Path, count: int, *, snapshot_every: int, seed: int = 7) -> Engine:
    """Drive the real pipeline (sequencer -> journal -> WAL) and return the live engine."""
    wal_dir, store = data_dir / "wal", SnapshotStore(data_dir / "snapshots")
    wal_dir.mkdir(parents=True, exist_ok=True)
    engine = Engine(_config())
    writer = WalWriter(wal_dir, shard_id="t", next_seq=1, epoch=1, on_durable=lambda s: None,
                       segment_max_bytes=20_000)
    sink = _StoreSink(store)
    sequencer = Sequencer(engine, WalJournal(writer, EventMapper(engine, "t")), epoch=1,
                          next_seq=1, checkpoint_every=25,
                          snapshots=SnapshotPolicy(sink, snapshot_every, 10**9),
                          clock_ns=iter(range(10**9, 2 * 10**9, 1000)).__next__)
    writer.start()
    for source in _requests(count, seed):
        command = _command(engine, source)
        assert not isinstance(command, command_mapping.Unsequenced)
        sequencer.execute(source, command)  # type: ignore[arg-type]
    writer.close()
    sink.flush()
    return engine


def test_snapshot_plus_tail_recovery_equals_full_replay_and_the_live_state(tmp_path: Path) -> None:
    live = _run(tmp_path, 600, snapshot_every=250)
    store = SnapshotStore(tmp_path / "snapshots")
    assert [p.name for p in store.paths()][-1] == f"snap-{500:020d}.snap"
    from_snapshot = recover(tmp_path / "wal", store, _config)
    from_scratch = recover(tmp_path / "wal", store, _config, use_snapshot=False)
    assert from_snapshot.snapshot_seq == 500 and from_snapshot.replayed == 104
    assert from_scratch.replayed == 604
    assert from_snapshot.last_seq == from_scratch.last_seq == 604
    assert from_snapshot.state_hash == from_scratch.state_hash == live.state_hash()
    assert from_scratch.checkpoints_verified == 604 // 25
    assert from_snapshot.balance_positions == {} and from_scratch.newest_epoch == 1


def test_a_snapshot_whose_hash_does_not_match_is_skipped_for_an_older_one(tmp_path: Path) -> None:
    live = _run(tmp_path, 300, snapshot_every=100)
    store = SnapshotStore(tmp_path / "snapshots")
    newest = store.load_newest()
    assert newest is not None
    forged = wal_pb2.SnapshotHeader()
    forged.CopyFrom(newest.header)
    forged.state_hash = bytes(32)
    store.write(forged, newest.image)
    recovered = recover(tmp_path / "wal", store, _config)
    assert recovered.snapshot_seq < newest.header.seq
    assert recovered.state_hash == live.state_hash()


def test_replay_verify_exits_non_zero_on_a_diverging_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(tmp_path, 100, snapshot_every=10**6)
    (tmp_path / "markets.json").write_text(json.dumps(MARKETS))
    monkeypatch.setenv("CORE_MARKETS_FILE", str(tmp_path / "markets.json"))
    assert main(["replay", "--verify", "--data-dir", str(tmp_path)]) == 0
    ok = json.loads(capsys.readouterr().out)
    assert ok["ok"] and ok["seq"] == 104 and ok["checkpoints_verified"] == 4
    segment = sorted((tmp_path / "wal").iterdir())[-1]
    wrong = wal_pb2.Checkpoint(seq=104, state_hash=bytes(32), epoch=1)
    with open(segment, "ab") as handle:
        handle.write(encode_frame(RecordType.CHECKPOINT, wrong.SerializeToString()))
    assert main(["replay", "--verify", "--data-dir", str(tmp_path)]) == 1
    failed = json.loads(capsys.readouterr().out)
    assert not failed["ok"] and "diverges at seq 104" in failed["error"]
    assert main(["replay", "--data-dir", str(tmp_path)]) == 0  # without --verify: no check


def test_recovery_refuses_to_serve_from_a_diverging_log(tmp_path: Path) -> None:
    _run(tmp_path, 60, snapshot_every=10**6)
    segment = sorted((tmp_path / "wal").iterdir())[-1]
    wrong = wal_pb2.Checkpoint(seq=64, state_hash=bytes(32), epoch=1)
    with open(segment, "ab") as handle:
        handle.write(encode_frame(RecordType.CHECKPOINT, wrong.SerializeToString()))
    with pytest.raises(DivergenceError):
        recover(tmp_path / "wal", SnapshotStore(tmp_path / "snapshots"), _config)


def test_recovery_checking_only_the_newest_checkpoint_still_refuses_a_wrong_one(
    tmp_path: Path,
) -> None:
    live = _run(tmp_path, 100, snapshot_every=10**6)  # 104 commands: checkpoints at 25..100
    wal, store = tmp_path / "wal", SnapshotStore(tmp_path / "snapshots")
    newest_only = recover(wal, store, _config, use_snapshot=False, verify_all=False)
    assert newest_only.checkpoints_verified == 1 and newest_only.checkpoints_skipped == 3
    assert newest_only.state_hash == live.state_hash()
    segment = sorted(wal.iterdir())[-1]
    wrong = wal_pb2.Checkpoint(seq=104, state_hash=bytes(32), epoch=1)
    with open(segment, "ab") as handle:
        handle.write(encode_frame(RecordType.CHECKPOINT, wrong.SerializeToString()))
    with pytest.raises(DivergenceError, match="at seq 104"):
        recover(wal, store, _config, use_snapshot=False, verify_all=False)


def test_decoding_the_wal_in_a_second_process_gives_the_same_recovery(tmp_path: Path) -> None:
    live = _run(tmp_path, 300, snapshot_every=100)
    store = SnapshotStore(tmp_path / "snapshots")
    for use_snapshot in (True, False):
        here = recover(tmp_path / "wal", store, _config, use_snapshot=use_snapshot,
                       decode_in_child=False)
        child = recover(tmp_path / "wal", store, _config, use_snapshot=use_snapshot,
                        decode_in_child=True)
        assert (child.last_seq, child.state_hash, child.replayed) == (
            here.last_seq, here.state_hash, here.replayed)
        assert child.checkpoints_verified == here.checkpoints_verified
        assert child.balance_positions == here.balance_positions
        assert child.newest_epoch == here.newest_epoch
        assert child.state_hash == live.state_hash()


def test_corruption_found_by_the_decoder_process_is_the_same_hard_error(tmp_path: Path) -> None:
    _run(tmp_path, 100, snapshot_every=10**6)
    segment = sorted((tmp_path / "wal").iterdir())[0]  # sealed: any bad record is corruption
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))
    store = SnapshotStore(tmp_path / "snapshots")
    with pytest.raises(WalCorruptionError) as here:
        recover(tmp_path / "wal", store, _config, repair=False, decode_in_child=False)
    with pytest.raises(WalCorruptionError) as child:
        recover(tmp_path / "wal", store, _config, repair=False, decode_in_child=True)
    assert (child.value.path, child.value.offset) == (here.value.path, here.value.offset)


def test_a_command_whose_events_were_cut_off_is_not_recovered_nor_replayed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A crash cut the last write between command 64's record and its events record: the
    # command must go with them (never in the state with its events lost for Kafka).
    _run(tmp_path, 60, snapshot_every=10**6)
    segments = list_segments(tmp_path / "wal")
    while not any(f.record_type == RecordType.COMMAND
                  for f in scan_segment(segments[-1], is_last=True).frames):
        segments.pop().unlink()  # rotated after the last command: the crash came before
    segment = segments[-1]
    last = [f for f in scan_segment(segment, is_last=True).frames
            if f.record_type == RecordType.COMMAND][-1]
    with open(segment, "r+b") as handle:
        handle.truncate(last.end + 5)  # the command whole, 5 bytes of its events
    (tmp_path / "markets.json").write_text(json.dumps(MARKETS))
    monkeypatch.setenv("CORE_MARKETS_FILE", str(tmp_path / "markets.json"))
    assert main(["replay", "--verify", "--data-dir", str(tmp_path)]) == 0  # read-only
    replayed = json.loads(capsys.readouterr().out)
    assert segment.stat().st_size == last.end + 5
    expected = _run(tmp_path / "shorter", 59, snapshot_every=10**6).state_hash()
    store = SnapshotStore(tmp_path / "snapshots")
    recovered = recover(tmp_path / "wal", store, _config)  # serve's: repairs the tail
    assert segment.stat().st_size == last.offset
    assert replayed["seq"] == recovered.last_seq == 63
    assert replayed["state_hash"] == recovered.state_hash == expected


def test_replay_verify_vouches_for_every_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(tmp_path, 300, snapshot_every=100)
    (tmp_path / "markets.json").write_text(json.dumps(MARKETS))
    monkeypatch.setenv("CORE_MARKETS_FILE", str(tmp_path / "markets.json"))
    store = SnapshotStore(tmp_path / "snapshots")
    assert len(store.paths()) == 3
    args = ["replay", "--verify", "--data-dir", str(tmp_path)]
    assert main([*args, "--from-scratch"]) == 0
    assert json.loads(capsys.readouterr().out)["checkpoints_verified"] == 304 // 25 + 3
    oldest = store.load_newest(max_seq=100)
    assert oldest is not None
    forged = wal_pb2.SnapshotHeader()
    forged.CopyFrom(oldest.header)
    forged.state_hash = bytes(32)
    store.write(forged, oldest.image)
    assert main(args) == 0  # from the newest snapshot: the forged old one is not read
    capsys.readouterr()
    assert main([*args, "--from-scratch"]) == 1
    failed = json.loads(capsys.readouterr().out)
    assert not failed["ok"] and "diverges at seq 100" in failed["error"]
    newest = store.load_newest()
    assert newest is not None
    forged.CopyFrom(newest.header)
    forged.state_hash = bytes(32)
    store.write(forged, newest.image)
    assert main(args) == 1  # a snapshot that does not match is an error, not a fallback
    assert f"diverges at seq {newest.header.seq}" in json.loads(capsys.readouterr().out)["error"]
    assert main(["replay", "--data-dir", str(tmp_path)]) == 0  # serve's rule: fall back
