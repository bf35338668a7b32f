"""A TradingCoreBatch message is sequenced as one WAL record; replay gives the same state."""

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.core.v1 import trading_core_batch_pb2 as batch_pb
from exchange.core.v1 import wal_pb2
from exchange.v1 import common_pb2
from exchange.v1 import trading_core_pb2 as pb
from exchange_core.adapters import command_mapping
from exchange_core.adapters.batch_service import (
    batch_reply,
    batch_reply_bytes,
    decode_batch,
    stage_batch,
    stage_raw_batch,
)
from exchange_core.adapters.event_mapping import EventMapper
from exchange_core.adapters.market_config import parse_markets
from exchange_core.adapters.recovery import recover
from exchange_core.adapters.snapshot_store import SnapshotStore
from exchange_core.adapters.wal_frame import RecordType
from exchange_core.adapters.wal_journal import WalJournal, replay_input
from exchange_core.adapters.wal_reader import read_entries, read_events, read_records
from exchange_core.adapters.wal_segment import scan_segment
from exchange_core.adapters.wal_writer import WalWriter
from exchange_core.app.core_node import CoreNode
from exchange_core.app.durability import DurabilityGate
from exchange_core.app.replay import ReplayCommand, replay
from exchange_core.app.sequencer import Sequencer
from exchange_core.domain import Engine, EngineConfig

MARKETS = {
    "assets": [{"code": "BTC", "scale": 8}, {"code": "USDT", "scale": 6}],
    "markets": [{"symbol": "BTC-USDT", "base": "BTC", "quote": "USDT", "tick_size": "0.01",
                 "lot_size": "0.0001", "min_quantity": "0.0001", "max_quantity": "1000"}],
}
ACCOUNTS = ("alice", "bob", "carol", "dave")


def _config() -> EngineConfig:
    return parse_markets(MARKETS)


def _batches(count: int, seed: int) -> Iterator[batch_pb.SubmitBatchesRequest]:
    """Mixed batches: orders (some off the tick grid: refused), cancels, an empty item."""
    rng = random.Random(seed)
    request_id = 0
    for _ in range(count):
        batch = batch_pb.SubmitBatchesRequest()
        for _ in range(rng.randint(1, 40)):
            request_id += 1
            item = batch.commands.add(request_id=request_id)
            roll = rng.random()
            account = rng.choice(ACCOUNTS)
            if roll < 0.03:
                continue  # no command set: not sequenced, no reply
            if roll < 0.13:
                item.cancel_order.symbol, item.cancel_order.account_id = "BTC-USDT", account
                item.cancel_order.client_order_id = f"c{request_id - rng.randint(1, 30)}"
                continue
            if roll < 0.15:
                item.cancel_all.symbol, item.cancel_all.account_id = "BTC-USDT", account
                continue
            off_grid = roll < 0.20
            item.place_order.CopyFrom(pb.PlaceOrderRequest(
                symbol="BTC-USDT", account_id=account, client_order_id=f"c{request_id}",
                side=common_pb2.SIDE_BUY if rng.random() < 0.5 else common_pb2.SIDE_SELL,
                order_type=common_pb2.ORDER_TYPE_LIMIT,
                time_in_force=common_pb2.TIME_IN_FORCE_IOC if rng.random() < 0.3
                else common_pb2.TIME_IN_FORCE_GTC,
                price=f"{30000 + rng.randint(-20, 20)}.{rng.randint(0, 99):02d}"
                + ("5" if off_grid else ""),
                quantity=f"0.{rng.randint(1, 500):04d}"))
        yield batch


class _Pipeline:
    """The real leader pipeline (node -> sequencer -> journal -> WAL), fsync on."""

    def __init__(self, wal_dir: Path, *, max_in_flight: int = 10**9) -> None:
        wal_dir.mkdir(parents=True, exist_ok=True)
        self.loop = asyncio.new_event_loop()
        self.engine = Engine(_config())
        self.writer = WalWriter(wal_dir, shard_id="t", next_seq=1, epoch=3,
                                on_durable=lambda s: None, segment_max_bytes=30_000)
        self.mapper = EventMapper(self.engine, "t")
        sequencer = Sequencer(self.engine, WalJournal(self.writer, self.mapper), epoch=3,
                              next_seq=1, checkpoint_every=25,
                              clock_ns=iter(range(10**9, 2 * 10**9, 1000)).__next__)
        self.node = CoreNode(self.engine, sequencer, DurabilityGate(self.loop),
                             max_in_flight=max_in_flight, balance_positions={})
        self.writer.start()
        for i, account in enumerate(ACCOUNTS):
            for asset in ("USDT", "BTC"):
                source = wal_pb2.SequencedCommand()
                adjusted = source.balance.adjusted
                adjusted.adjustment_id, adjusted.account_id = f"d{i}{asset}", account
                adjusted.asset, adjusted.delta = asset, "1000000"
                mapped = command_mapping.balance_adjust(self.engine, adjusted, "", 10**9)
                assert not isinstance(mapped, command_mapping.Unsequenced)
                sequencer.execute(source, mapped)

    def close(self) -> None:
        self.writer.close()
        self.loop.close()


def test_batches_are_one_record_each_and_replay_to_the_live_state(tmp_path: Path) -> None:
    pipeline = _Pipeline(tmp_path / "wal")
    sequenced = 8  # the deposits
    crossings = 0  # batches that cross a multiple of 25: a checkpoint after each
    for batch in _batches(60, seed=5):
        staged = stage_batch(pipeline.node, batch)
        crossings += (sequenced + len(staged.results)) // 25 != sequenced // 25
        sequenced += len(staged.results)
        assert staged.last_seq in (0, sequenced)
    pipeline.close()
    frames = [f for p in sorted((tmp_path / "wal").iterdir())
              for f in scan_segment(p, is_last=True).frames]
    kinds = [f.record_type for f in frames]
    assert kinds.count(RecordType.COMMAND_BATCH) == 60
    assert kinds.count(RecordType.EVENTS) == sequenced
    recovered = recover(tmp_path / "wal", SnapshotStore(tmp_path / "snap"), _config)
    assert recovered.last_seq == sequenced and recovered.replayed == sequenced
    assert recovered.state_hash == pipeline.engine.state_hash()
    everything = recover(tmp_path / "wal", SnapshotStore(tmp_path / "snap"), _config,
                         verify_all=True)
    assert everything.checkpoints_verified == crossings > 10
    # Tools see one SequencedCommand per sequenced command, seqs contiguous.
    logged = [e for e in read_entries(tmp_path / "wal") if isinstance(e, wal_pb2.SequencedCommand)]
    assert [e.seq for e in logged] == list(range(1, sequenced + 1))


def test_replay_from_a_snapshot_inside_a_batch_skips_the_batch_s_first_commands(
    tmp_path: Path,
) -> None:
    pipeline = _Pipeline(tmp_path / "wal")
    for batch in _batches(20, seed=9):
        stage_batch(pipeline.node, batch)
    pipeline.close()
    batches = [r for r in read_records(tmp_path / "wal")
               if isinstance(r, wal_pb2.SequencedBatch) and r.count >= 3]
    inside = batches[len(batches) // 2].first_seq + 1  # the 2nd command of a batch
    prefix = Engine(_config())
    entries = [e for e in replay_input(tmp_path / "wal", lambda: prefix, 0, {}, [0])
               if isinstance(e, ReplayCommand) and e.seq <= inside]
    replay(prefix, entries, after_seq=0, verify=False)
    tail = list(replay_input(tmp_path / "wal", lambda: prefix, inside, {}, [0]))
    assert next(e.seq for e in tail if isinstance(e, ReplayCommand)) == inside + 1
    outcome = replay(prefix, tail, after_seq=inside)
    assert prefix.state_hash() == pipeline.engine.state_hash()
    assert outcome.last_seq == pipeline.node.sequencer.last_seq


def test_a_batch_reply_answers_each_command_in_order_with_refusals_in_place(
    tmp_path: Path,
) -> None:
    pipeline = _Pipeline(tmp_path / "wal")
    batch = batch_pb.SubmitBatchesRequest()
    good = pb.PlaceOrderRequest(symbol="BTC-USDT", account_id="alice", client_order_id="a",
                                side=common_pb2.SIDE_BUY, order_type=common_pb2.ORDER_TYPE_LIMIT,
                                price="30000.00", quantity="0.5")
    batch.commands.add(request_id=1, place_order=good)
    batch.commands.add(request_id=2)  # empty: no reply
    off_tick = pb.PlaceOrderRequest()
    off_tick.CopyFrom(good)
    off_tick.price, off_tick.client_order_id = "30000.001", "b"
    batch.commands.add(request_id=3, place_order=off_tick)
    batch.commands.add(request_id=4, cancel_order=pb.CancelOrderRequest(
        symbol="BTC-USDT", account_id="alice", client_order_id="a"))
    batch.commands.add(request_id=5, cancel_order=pb.CancelOrderRequest(symbol="NOPE"))
    staged = stage_batch(pipeline.node, batch)
    reply = batch_reply(pipeline.mapper, staged)
    pipeline.close()
    assert [r.request_id for r in reply.replies] == [1, 3, 4, 5]
    placed, refused, canceled, unknown = reply.replies
    assert placed.place_order.accepted and placed.place_order.seq == 1  # symbol seq
    assert placed.place_order.epoch == 3
    assert refused.place_order.code == common_pb2.REJECT_CODE_PRICE_OFF_TICK
    assert refused.place_order.status == common_pb2.ORDER_STATUS_REJECTED
    assert refused.place_order.seq == 0
    assert canceled.cancel_order.accepted and canceled.cancel_order.seq == 2
    assert unknown.cancel_order.code == common_pb2.REJECT_CODE_UNKNOWN_SYMBOL
    logged = [r for r in read_records(tmp_path / "wal") if isinstance(r, wal_pb2.SequencedBatch)]
    assert [(r.first_seq, r.count, list(r.skipped)) for r in logged] == [(9, 2, [1, 2, 4])]
    assert logged[0].batch == batch


def test_an_overloaded_node_refuses_a_batch_s_new_orders_but_sequences_its_cancels(
    tmp_path: Path,
) -> None:
    pipeline = _Pipeline(tmp_path / "wal", max_in_flight=1)  # nothing is ever released
    batch = batch_pb.SubmitBatchesRequest()
    batch.commands.add(request_id=1, place_order=pb.PlaceOrderRequest(
        symbol="BTC-USDT", account_id="alice", client_order_id="a", side=common_pb2.SIDE_BUY,
        order_type=common_pb2.ORDER_TYPE_LIMIT, price="30000.00", quantity="0.5"))
    batch.commands.add(request_id=2, cancel_all=pb.CancelAllRequest(symbol="BTC-USDT",
                                                                    account_id="alice"))
    reply = batch_reply(pipeline.mapper, stage_batch(pipeline.node, batch))
    pipeline.close()
    busy, cancel_all = reply.replies
    assert busy.place_order.code == common_pb2.REJECT_CODE_OVERLOADED
    assert not busy.place_order.accepted
    assert cancel_all.cancel_all.seq > 0


@pytest.mark.parametrize("count", [0, 7])
def test_an_all_refused_batch_is_not_logged(tmp_path: Path, count: int) -> None:
    pipeline = _Pipeline(tmp_path / "wal")
    batch = batch_pb.SubmitBatchesRequest()
    for i in range(count):
        batch.commands.add(request_id=i, cancel_order=pb.CancelOrderRequest(symbol="NOPE"))
    staged = stage_batch(pipeline.node, batch)
    pipeline.close()
    assert staged.last_seq == 0 and len(batch_reply(pipeline.mapper, staged).replies) == count
    assert not any(isinstance(r, wal_pb2.SequencedBatch)
                   for r in read_records(tmp_path / "wal"))


def test_batch_replies_written_as_bytes_equal_the_serialized_reply_messages(
    tmp_path: Path,
) -> None:
    pipeline = _Pipeline(tmp_path / "wal", max_in_flight=120)  # some refused as OVERLOADED
    trades = 0
    try:
        for batch in _batches(60, seed=11):
            staged = stage_batch(pipeline.node, batch)
            message = batch_reply(pipeline.mapper, staged)
            trades += sum(len(r.place_order.trades) for r in message.replies)
            assert batch_reply_bytes(pipeline.mapper, staged) == message.SerializeToString()
    finally:
        pipeline.close()
    assert trades > 50  # replies with trades were compared, not only plain ones


def test_a_batch_staged_from_its_bytes_logs_and_answers_exactly_like_the_message(
    tmp_path: Path,
) -> None:
    by_message, by_bytes = _Pipeline(tmp_path / "a"), _Pipeline(tmp_path / "b")
    try:
        for batch in _batches(40, seed=5):
            data = batch.SerializeToString()
            one = stage_batch(by_message.node, batch)
            other = stage_raw_batch(by_bytes.node, data, decode_batch(data))
            assert batch_reply_bytes(by_bytes.mapper, other) == batch_reply_bytes(
                by_message.mapper, one)
        assert by_bytes.engine.state_hash() == by_message.engine.state_hash()
    finally:
        by_message.close()
        by_bytes.close()
    def logged(wal: Path) -> list[bytes]:  # records, not files: rotation follows timing
        records = [r.SerializeToString() for r in read_records(wal)]
        return records + [e.SerializeToString() for e in read_events(wal)]

    assert logged(tmp_path / "a") == logged(tmp_path / "b")


def test_malformed_batch_bytes_are_refused_with_a_value_error() -> None:
    data = next(_batches(1, seed=2)).SerializeToString()
    with pytest.raises(ValueError, match=r"malformed|past the end|varint"):
        decode_batch(data[:-2])
