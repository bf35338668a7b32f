"""The compiled replay pass applies what the generic path applies: same commands from the
same bytes, same state, same errors at the same offsets, whatever the read window."""

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.core.v1 import trading_core_batch_pb2 as batch_pb
from exchange.core.v1 import wal_pb2
from exchange.v1 import common_pb2, events_pb2
from exchange.v1 import trading_core_pb2 as pb
from exchange_core.adapters import command_mapping
from exchange_core.adapters.event_mapping import EventMapper
from exchange_core.adapters.market_config import parse_markets
from exchange_core.adapters.proto_wire import bytes_field, varint
from exchange_core.adapters.segment_replay import ReplayPass
from exchange_core.adapters.wal_frame import RecordType, encode_frame
from exchange_core.adapters.wal_journal import WalJournal, replay_input
from exchange_core.adapters.wal_reader import segments_from
from exchange_core.adapters.wal_segment import WalCorruptionError, header_frame, segment_name
from exchange_core.adapters.wal_writer import WalWriter
from exchange_core.app.replay import ReplayCommand, replay
from exchange_core.app.sequencer import Sequencer
from exchange_core.domain import Engine, EngineConfig

MARKETS = {
    "assets": [{"code": "BTC", "scale": 8}, {"code": "USDT", "scale": 6}],
    "markets": [{"symbol": "BTC-USDT", "base": "BTC", "quote": "USDT", "tick_size": "0.01",
                 "lot_size": "0.0001", "min_quantity": "0.0001", "max_quantity": "1000"}],
}
ENGINE = Engine(parse_markets(MARKETS))
_text = st.text(max_size=8)
_enum = st.integers(min_value=-(2**31), max_value=2**31 - 1)
_symbol = st.sampled_from(["BTC-USDT", "ETH-USDT", ""]) | _text
_price = st.sampled_from(["30000.01", "30000.015", "0", "", "1e5", "-3"]) | _text
_quantity = st.sampled_from(["0.25", "0.00001", "abc", ""]) | _text


def _config() -> EngineConfig:
    return parse_markets(MARKETS)


def _pass(engine: Engine = ENGINE, after_seq: int = 0, **kwargs: Any) -> ReplayPass:
    return ReplayPass(engine, after_seq, verify=True, verify_only_seq=None, positions={},
                      newest_epoch=0, **kwargs)


def _generic(data: bytes) -> object:
    """What the generic path makes of a record: protobuf parse, then command_mapping."""
    logged = wal_pb2.SequencedCommand.FromString(data)
    which = logged.WhichOneof("command")
    if which == "place_order":
        return command_mapping.place_order(ENGINE, logged.place_order, logged.ts_ns)
    if which == "cancel_order":
        return command_mapping.cancel_order(ENGINE, logged.cancel_order, logged.ts_ns)
    return command_mapping.cancel_all(ENGINE, logged.cancel_all, logged.ts_ns)


@st.composite
def _logged_place(draw: Any) -> bytes:
    request = pb.PlaceOrderRequest(
        meta=pb.CommandMeta(correlation_id=draw(_text), idempotency_key=draw(_text)),
        symbol=draw(_symbol), account_id=draw(_text), client_order_id=draw(_text),
        side=draw(_enum), order_type=draw(_enum), time_in_force=draw(_enum),
        price=draw(_price), quantity=draw(_quantity),
        quote_budget=draw(st.sampled_from(["", "100", "x"])),
        protection_price=draw(st.sampled_from(["", "29000.00", "y"])),
        post_only=draw(st.booleans()), self_trade_prevention=draw(_enum))
    return wal_pb2.SequencedCommand(
        seq=draw(st.integers(min_value=0, max_value=2**64 - 1)),
        ts_ns=draw(st.integers(min_value=-(2**63), max_value=2**63 - 1)),
        epoch=2, place_order=request).SerializeToString()


@st.composite
def _logged_cancel(draw: Any) -> bytes:
    meta = pb.CommandMeta(correlation_id=draw(_text))
    symbol, account = draw(_symbol), draw(_text)
    if draw(st.booleans()):
        return wal_pb2.SequencedCommand(seq=3, ts_ns=5, cancel_all=pb.CancelAllRequest(
            meta=meta, symbol=symbol, account_id=account)).SerializeToString()
    return wal_pb2.SequencedCommand(seq=3, ts_ns=5, cancel_order=pb.CancelOrderRequest(
        meta=meta, symbol=symbol, account_id=account, order_id=draw(_text),
        client_order_id=draw(_text))).SerializeToString()


@given(_logged_place())
def test_a_logged_place_order_maps_to_what_protobuf_and_command_mapping_make(
    data: bytes,
) -> None:
    assert _pass().logged_command(data) == _generic(data)


@given(_logged_cancel())
def test_logged_cancels_map_to_what_protobuf_and_command_mapping_make(data: bytes) -> None:
    assert _pass().logged_command(data) == _generic(data)


def test_field_order_unknown_fields_repeats_and_meta_merges_follow_protobuf() -> None:
    first = pb.PlaceOrderRequest(symbol="BTC-USDT", price="1.00", quantity="0.5",
                                 meta=pb.CommandMeta(correlation_id="c"))
    second = pb.PlaceOrderRequest(symbol="X", account_id="a", side=common_pb2.SIDE_BUY,
                                  order_type=common_pb2.ORDER_TYPE_LIMIT,
                                  meta=pb.CommandMeta(idempotency_key="k"))
    unknown = b"\xa8\x06\x07" + b"\xb2\x06\x02hi" + b"\xbd\x06\x01\x02\x03\x04"  # 101-103
    body = second.SerializeToString() + unknown + first.SerializeToString()  # merged
    data = (varint(2 << 3) + varint(77) + unknown + bytes_field(b"\x52", body)
            + varint(1 << 3) + varint(9))
    mapped = _pass().logged_command(data)
    assert mapped == _generic(data)
    assert getattr(mapped, "correlation_id", None) == "c"  # merged, not replaced


@pytest.mark.parametrize("data", [
    wal_pb2.SequencedCommand(seq=1, balance=wal_pb2.BalanceCommand(
        adjusted=events_pb2.BalanceAdjusted(adjustment_id="a", delta="1"))).SerializeToString(),
    wal_pb2.SequencedCommand(seq=1, set_symbol_mode=pb.SetSymbolModeRequest(
        symbol="X")).SerializeToString(),
    wal_pb2.SequencedCommand(seq=1).SerializeToString(),
    wal_pb2.SequencedCommand(place_order=pb.PlaceOrderRequest(symbol="A")).SerializeToString()
    + wal_pb2.SequencedCommand(cancel_all=pb.CancelAllRequest(symbol="B")).SerializeToString(),
    bytes_field(b"\x52", b"\x2a\x01x"),  # PlaceOrderRequest.side as a string
    bytes_field(b"\x52", bytes_field(b"\x0a", b"\x08\x01")),  # meta.correlation_id a varint
])
def test_other_kinds_and_unusual_shapes_are_left_to_protobuf(data: bytes) -> None:
    assert _pass().logged_command(data) is None


def _write_wal(wal_dir: Path, count: int, *, seed: int = 11) -> Engine:
    """The real pipeline (sequencer -> journal -> WAL) over small segments: two deposits
    (balance records, protobuf's shape), then orders, cancels, cancel-alls, mode changes."""
    wal_dir.mkdir(parents=True, exist_ok=True)
    engine = Engine(_config())
    writer = WalWriter(wal_dir, shard_id="t", next_seq=1, epoch=2, on_durable=lambda s: None,
                       segment_max_bytes=20_000)
    sequencer = Sequencer(engine, WalJournal(writer, EventMapper(engine, "t")), epoch=2,
                          next_seq=1, checkpoint_every=50,
                          clock_ns=iter(range(10**9, 2 * 10**9, 1000)).__next__)
    writer.start()
    rng = random.Random(seed)
    for n, account in enumerate(("alice", "bob")):
        source = wal_pb2.SequencedCommand()
        source.balance.source_partition, source.balance.source_offset = n, 40 + n
        adjusted = source.balance.adjusted
        adjusted.adjustment_id, adjusted.account_id = f"d-{account}", account
        adjusted.asset, adjusted.delta = ("USDT", "10000000") if n == 0 else ("BTC", "100")
        mapped = command_mapping.balance_adjust(engine, adjusted, "", 10**9)
        assert not isinstance(mapped, command_mapping.Unsequenced)
        sequencer.execute(source, mapped)
    for i in range(count):
        roll = rng.random()
        if roll < 0.02:
            source = wal_pb2.SequencedCommand(set_symbol_mode=pb.SetSymbolModeRequest(
                symbol="BTC-USDT", mode=common_pb2.SYMBOL_MODE_NORMAL))
            mapped = command_mapping.set_symbol_mode(engine, source.set_symbol_mode)
        elif roll < 0.12:
            source = wal_pb2.SequencedCommand(cancel_order=pb.CancelOrderRequest(
                symbol="BTC-USDT", account_id=rng.choice(("alice", "bob")),
                client_order_id=f"c{i - rng.randint(1, 20)}"))
            mapped = command_mapping.cancel_order(engine, source.cancel_order)
        elif roll < 0.14:
            source = wal_pb2.SequencedCommand(cancel_all=pb.CancelAllRequest(
                symbol="BTC-USDT", account_id="alice"))
            mapped = command_mapping.cancel_all(engine, source.cancel_all)
        else:
            buy = rng.random() < 0.5
            source = wal_pb2.SequencedCommand(place_order=pb.PlaceOrderRequest(
                meta=pb.CommandMeta(correlation_id=f"r{i}"), symbol="BTC-USDT",
                account_id="alice" if buy else "bob", client_order_id=f"c{i}",
                side=common_pb2.SIDE_BUY if buy else common_pb2.SIDE_SELL,
                order_type=common_pb2.ORDER_TYPE_LIMIT,
                price=f"{30000 + rng.randint(-5, 5)}.{rng.randint(0, 99):02d}",
                quantity=f"0.{rng.randint(1, 500):04d}"))
            mapped = command_mapping.place_order(engine, source.place_order)
        assert not isinstance(mapped, command_mapping.Unsequenced)
        sequencer.execute(source, mapped)
    writer.close()
    return engine


def _replayed(wal_dir: Path, after_seq: int = 0, engine: Engine | None = None,
              **kwargs: Any) -> tuple[Engine, ReplayPass]:
    engine = engine or Engine(_config())
    run = _pass(engine, after_seq, **kwargs)
    segments = segments_from(wal_dir, after_seq)
    for index, path in enumerate(segments):
        run.segment_file(path, is_last=index == len(segments) - 1)
    return engine, run


@pytest.mark.parametrize("window", [64, 1000, 1 << 20])
def test_any_read_window_replays_the_wal_to_the_live_state_like_the_generic_path(
    tmp_path: Path, window: int
) -> None:
    live = _write_wal(tmp_path / "wal", 400)
    assert len(segments_from(tmp_path / "wal", 0)) > 2  # records cross segments, windows
    engine, run = _replayed(tmp_path / "wal", window_bytes=window)
    generic = Engine(_config())
    positions: dict[int, int] = {}
    epochs = [0]
    outcome = replay(generic, replay_input(tmp_path / "wal", lambda: generic, 0, positions,
                                           epochs), after_seq=0)
    assert engine.state_hash() == generic.state_hash() == live.state_hash()
    assert (run.last_seq, run.commands) == (outcome.last_seq, outcome.commands) == (402, 402)
    assert run.checkpoints_verified == outcome.checkpoints_verified == 402 // 50
    assert run.positions == positions == {0: 41, 1: 42}
    assert run.newest_epoch == epochs[0] == 2


def _generic_upto(wal_dir: Path, upto: int) -> Engine:
    """The engine after the generic path applied the commands up to seq ``upto``."""
    engine = Engine(_config())
    for entry in replay_input(wal_dir, lambda: engine, 0, {}, [0]):
        if isinstance(entry, ReplayCommand) and entry.seq <= upto:
            engine.apply(entry.command)
    return engine


def test_a_replay_after_a_seq_applies_only_the_later_records(tmp_path: Path) -> None:
    _write_wal(tmp_path / "wal", 200)
    prefix = _generic_upto(tmp_path / "wal", 120)
    full, _ = _replayed(tmp_path / "wal")
    tail, run = _replayed(tmp_path / "wal", 120, prefix, window_bytes=200)
    assert (run.last_seq, run.commands) == (202, 82)
    assert tail.state_hash() == full.state_hash()


def test_a_corrupt_frame_before_valid_ones_is_the_same_hard_error_as_before(
    tmp_path: Path,
) -> None:
    _write_wal(tmp_path / "wal", 200)
    sealed = segments_from(tmp_path / "wal", 0)[:-1]  # where the group commits cut the
    assert sealed  # segments depends on timing: any segment but the newest is sealed
    segment = sealed[-1]
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))
    with pytest.raises(WalCorruptionError) as generic:
        replay(Engine(_config()), replay_input(tmp_path / "wal", lambda: ENGINE, 0, {}, [0]),
               after_seq=0)
    for window in (100, 1 << 20):
        with pytest.raises(WalCorruptionError) as fast:
            _replayed(tmp_path / "wal", window_bytes=window)
        assert (fast.value.path, fast.value.offset) == (generic.value.path, generic.value.offset)
        assert fast.value.reason == generic.value.reason


def test_a_torn_tail_of_the_newest_segment_ends_the_replay_without_an_error(
    tmp_path: Path,
) -> None:
    _write_wal(tmp_path / "wal", 100)
    clean, clean_run = _replayed(tmp_path / "wal")
    newest = segments_from(tmp_path / "wal", 0)[-1]
    torn = encode_frame(RecordType.COMMAND, wal_pb2.SequencedCommand(
        seq=clean_run.last_seq + 1).SerializeToString())[:-2]
    with open(newest, "ab") as handle:
        handle.write(torn)
    for window in (50, 1 << 20):
        engine, run = _replayed(tmp_path / "wal", window_bytes=window)
        assert run.last_seq == clean_run.last_seq
        assert engine.state_hash() == clean.state_hash()


def test_a_gap_in_seqs_is_corruption_naming_the_record(tmp_path: Path) -> None:
    _write_wal(tmp_path / "wal", 30)
    newest = segments_from(tmp_path / "wal", 0)[-1]
    size = newest.stat().st_size
    later = wal_pb2.SequencedCommand(seq=500, cancel_all=pb.CancelAllRequest(symbol="BTC-USDT"))
    with open(newest, "ab") as handle:
        handle.write(encode_frame(RecordType.COMMAND, later.SerializeToString()))
    with pytest.raises(WalCorruptionError, match="seq 500 where 33 was expected") as error:
        _replayed(tmp_path / "wal")
    assert (error.value.path, error.value.offset) == (newest, size)


def test_a_logged_request_that_no_longer_maps_is_an_error(tmp_path: Path) -> None:
    _write_wal(tmp_path / "wal", 5)
    newest = segments_from(tmp_path / "wal", 0)[-1]
    bad = wal_pb2.SequencedCommand(seq=8, place_order=pb.PlaceOrderRequest(
        symbol="NOPE", account_id="a", side=common_pb2.SIDE_BUY,
        order_type=common_pb2.ORDER_TYPE_LIMIT, price="1", quantity="1"))
    with open(newest, "ab") as handle:
        handle.write(encode_frame(RecordType.COMMAND, bad.SerializeToString()))
    with pytest.raises(ValueError, match="WAL seq 8: logged request no longer maps"):
        _replayed(tmp_path / "wal")


def _batch_record(first_seq: int, items: list[pb.SubmitStreamRequest], skipped: list[int],
                  *, extra_item: bytes = b"") -> bytes:
    request = batch_pb.SubmitBatchesRequest(commands=items).SerializeToString()
    if extra_item:  # appended as bytes: a shape the message API would not write
        request += bytes_field(b"\x0a", extra_item)
    head = wal_pb2.SequencedBatch(first_seq=first_seq, ts_ns=10**9 + first_seq, epoch=4,
                                  count=len(items) + bool(extra_item) - len(skipped),
                                  skipped=skipped)
    return encode_frame(RecordType.COMMAND_BATCH,
                        head.SerializeToString() + bytes_field(b"\x32", request))


def _place_item(i: int, buy: bool, price: str = "30000.00") -> pb.SubmitStreamRequest:
    return pb.SubmitStreamRequest(request_id=i, place_order=pb.PlaceOrderRequest(
        meta=pb.CommandMeta(correlation_id=f"b{i}"), symbol="BTC-USDT",
        account_id="alice" if buy else "bob", client_order_id=f"k{i}",
        side=common_pb2.SIDE_BUY if buy else common_pb2.SIDE_SELL,
        order_type=common_pb2.ORDER_TYPE_LIMIT, price=price, quantity="0.0100"))


def _events_frames(first_seq: int, count: int) -> bytes:
    """The events records that follow a command record in the WAL (one per command)."""
    return b"".join(encode_frame(RecordType.EVENTS,
                                 wal_pb2.CommandEvents(seq=s).SerializeToString())
                    for s in range(first_seq, first_seq + count))


def _batch_wal(wal_dir: Path) -> int:
    """A segment of batch records: deposits, then batches with skipped items (one with
    no command), a cancel and a cancel-all, packed skips, and one whose request repeats
    an item's oneof (protobuf's shape: the generic path). Returns the last seq."""
    wal_dir.mkdir(parents=True)
    frames = [header_frame("t", 1, 4)]
    seq = 1
    for account, asset, delta in (("alice", "USDT", "1000000"), ("bob", "BTC", "10")):
        deposit = wal_pb2.SequencedCommand(seq=seq, ts_ns=10**9, epoch=4)
        deposit.balance.adjusted.adjustment_id = f"d-{account}"
        deposit.balance.adjusted.account_id, deposit.balance.adjusted.asset = account, asset
        deposit.balance.adjusted.delta = delta
        frames.append(encode_frame(RecordType.COMMAND, deposit.SerializeToString()))
        frames.append(_events_frames(seq, 1))
        seq += 1
    for n in range(6):
        items = [_place_item(10 * n + i, i % 2 == 0, f"{30000 + i - n}.00") for i in range(5)]
        items.insert(2, pb.SubmitStreamRequest(request_id=999))  # no command: skipped
        items.append(pb.SubmitStreamRequest(request_id=7, cancel_order=pb.CancelOrderRequest(
            symbol="BTC-USDT", account_id="alice", client_order_id=f"k{10 * n}")))
        items.append(pb.SubmitStreamRequest(request_id=8, cancel_all=pb.CancelAllRequest(
            symbol="BTC-USDT", account_id="bob")) if n == 3 else _place_item(900 + n, False))
        skipped = [2, 4] if n % 2 else [2]
        frames.append(_batch_record(seq, items, skipped))
        frames.append(_events_frames(seq, len(items) - len(skipped)))
        seq += len(items) - len(skipped)
    twice = pb.SubmitStreamRequest(request_id=5, place_order=pb.PlaceOrderRequest(
        symbol="BTC-USDT")).SerializeToString() + _place_item(6, True).SerializeToString()
    frames.append(_batch_record(seq, [_place_item(4, False)], [], extra_item=twice))
    frames.append(_events_frames(seq, 2))
    seq += 2
    (wal_dir / segment_name(1)).write_bytes(b"".join(frames))
    return seq - 1


@pytest.mark.parametrize("after_seq", [0, 2, 5, 12])
def test_batch_records_replay_like_the_generic_path_from_any_seq(
    tmp_path: Path, after_seq: int
) -> None:
    last = _batch_wal(tmp_path / "wal")
    prefix = _generic_upto(tmp_path / "wal", after_seq)
    generic = _generic_upto(tmp_path / "wal", last)
    engine, run = _replayed(tmp_path / "wal", after_seq, prefix, window_bytes=100)
    assert (run.last_seq, run.commands) == (last, last - after_seq)
    assert engine.state_hash() == generic.state_hash()
    assert run.newest_epoch == 4
