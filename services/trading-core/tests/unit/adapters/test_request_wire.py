"""The fast WAL decoder reads what protobuf reads, or declines (None); it never guesses."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.core.v1 import trading_core_batch_pb2 as batch_pb
from exchange.core.v1 import wal_pb2
from exchange.v1 import events_pb2
from exchange.v1 import trading_core_pb2 as pb
from exchange_core.adapters import request_wire
from exchange_core.adapters.proto_wire import bytes_field, varint

_PLACE_FIELDS = ("symbol", "account_id", "client_order_id", "side", "order_type",
                 "time_in_force", "price", "quantity", "quote_budget", "protection_price",
                 "post_only", "self_trade_prevention")
_text = st.text(max_size=12)
_enum = st.integers(min_value=-(2**31), max_value=2**31 - 1)
_u64 = st.integers(min_value=0, max_value=2**64 - 1)
_i64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@st.composite
def _place(draw: Any) -> pb.PlaceOrderRequest:
    return pb.PlaceOrderRequest(
        meta=pb.CommandMeta(correlation_id=draw(_text), idempotency_key=draw(_text)),
        symbol=draw(_text), account_id=draw(_text), client_order_id=draw(_text),
        side=draw(_enum), order_type=draw(_enum), time_in_force=draw(_enum),
        price=draw(_text), quantity=draw(_text), quote_budget=draw(_text),
        protection_price=draw(_text), post_only=draw(st.booleans()),
        self_trade_prevention=draw(_enum))


def _same_place(decoded: Any, message: pb.PlaceOrderRequest) -> None:
    for name in _PLACE_FIELDS:
        assert getattr(decoded, name) == getattr(message, name), name
    assert decoded.meta.correlation_id == message.meta.correlation_id
    assert decoded.meta.idempotency_key == message.meta.idempotency_key


@given(_place(), _u64, _i64, _u64)
def test_a_logged_place_order_decodes_to_the_fields_protobuf_reads(
    request: pb.PlaceOrderRequest, seq: int, ts_ns: int, epoch: int
) -> None:
    data = wal_pb2.SequencedCommand(seq=seq, ts_ns=ts_ns, epoch=epoch,
                                    place_order=request).SerializeToString()
    logged = request_wire.sequenced_command(data)
    assert logged is not None and logged.which == "place_order"
    assert (logged.seq, logged.ts_ns, logged.epoch) == (seq, ts_ns, epoch)
    _same_place(logged.request, request)


@given(st.tuples(_text, _text, _text, _text, _text), st.booleans())
def test_cancels_decode_to_the_fields_protobuf_reads(
    texts: tuple[str, str, str, str, str], every: bool
) -> None:
    symbol, account, order_id, client_id, correlation = texts
    meta = pb.CommandMeta(correlation_id=correlation)
    if every:
        message: Any = pb.CancelAllRequest(meta=meta, symbol=symbol, account_id=account)
        command = wal_pb2.SequencedCommand(seq=3, cancel_all=message)
    else:
        message = pb.CancelOrderRequest(meta=meta, symbol=symbol, account_id=account,
                                        order_id=order_id, client_order_id=client_id)
        command = wal_pb2.SequencedCommand(seq=3, cancel_order=message)
    logged = request_wire.sequenced_command(command.SerializeToString())
    assert logged is not None
    assert logged.which == ("cancel_all" if every else "cancel_order")
    decoded = logged.request
    assert (decoded.symbol, decoded.account_id, decoded.meta.correlation_id) == (
        symbol, account, correlation)
    if not every:
        assert (decoded.order_id, decoded.client_order_id) == (order_id, client_id)  # type: ignore[union-attr]


def test_field_order_unknown_fields_repeats_and_meta_merges_follow_protobuf() -> None:
    first = pb.PlaceOrderRequest(symbol="A", price="1", meta=pb.CommandMeta(correlation_id="c"))
    second = pb.PlaceOrderRequest(symbol="B", meta=pb.CommandMeta(idempotency_key="k"))
    unknown = b"\xa8\x06\x07" + b"\xb2\x06\x02hi" + b"\xbd\x06\x01\x02\x03\x04"  # 101, 102, 103
    body = second.SerializeToString() + unknown + first.SerializeToString()  # merged
    data = (varint(2 << 3) + varint(77) + bytes_field(b"\x52", body)  # ts first, then 10
            + varint(1 << 3) + varint(9))
    expected = wal_pb2.SequencedCommand.FromString(data)
    logged = request_wire.sequenced_command(data)
    assert logged is not None and (logged.seq, logged.ts_ns) == (9, 77)
    _same_place(logged.request, expected.place_order)
    assert logged.request.meta.idempotency_key == "k"  # merged, not replaced


@pytest.mark.parametrize("command", [
    wal_pb2.SequencedCommand(seq=1, balance=wal_pb2.BalanceCommand(
        adjusted=events_pb2.BalanceAdjusted(adjustment_id="a", delta="1"))),
    wal_pb2.SequencedCommand(seq=1, set_symbol_mode=pb.SetSymbolModeRequest(symbol="X")),
    wal_pb2.SequencedCommand(seq=1),
])
def test_other_command_kinds_are_left_to_protobuf(command: wal_pb2.SequencedCommand) -> None:
    assert request_wire.sequenced_command(command.SerializeToString()) is None


def test_a_oneof_set_twice_or_a_known_field_with_another_wire_type_is_left_to_protobuf() -> None:
    place = wal_pb2.SequencedCommand(place_order=pb.PlaceOrderRequest(symbol="A"))
    cancel = wal_pb2.SequencedCommand(cancel_all=pb.CancelAllRequest(symbol="B"))
    assert request_wire.sequenced_command(
        place.SerializeToString() + cancel.SerializeToString()) is None
    side_as_string = bytes_field(b"\x52", b"\x2a\x01x")  # PlaceOrderRequest.side, LEN
    assert request_wire.sequenced_command(side_as_string) is None


def test_truncated_bytes_raise_a_wire_error() -> None:
    data = wal_pb2.SequencedCommand(seq=5, place_order=pb.PlaceOrderRequest(
        symbol="BTC-USDT", price="100.00")).SerializeToString()
    with pytest.raises(request_wire.WireError):
        request_wire.sequenced_command(data[:-3])
    with pytest.raises(request_wire.WireError):
        request_wire.varint(b"\xff\xff", 0)


@given(st.lists(st.tuples(_u64, st.sampled_from(["", "place_order", "cancel_order", "cancel_all"]),
                          _place(), _text), max_size=8))
def test_batch_items_decode_to_what_protobuf_reads(
    items: list[tuple[int, str, pb.PlaceOrderRequest, str]],
) -> None:
    batch = batch_pb.SubmitBatchesRequest()
    for request_id, which, place, text in items:
        item = batch.commands.add(request_id=request_id)
        if which == "place_order":
            item.place_order.CopyFrom(place)
        elif which == "cancel_order":
            item.cancel_order.CopyFrom(pb.CancelOrderRequest(symbol=text, order_id=text))
        elif which == "cancel_all":
            item.cancel_all.CopyFrom(pb.CancelAllRequest(account_id=text))
    decoded = request_wire.batch_items(batch.SerializeToString())
    assert decoded is not None and len(decoded) == len(batch.commands)
    for got, item in zip(decoded, batch.commands, strict=True):
        assert got.request_id == item.request_id
        assert got.which == (item.WhichOneof("command") or "")
        if got.which == "place_order":
            _same_place(got.request, item.place_order)
        elif got.which == "cancel_order":
            assert got.request.order_id == item.cancel_order.order_id  # type: ignore[union-attr]
        elif got.which == "cancel_all":
            assert got.request.account_id == item.cancel_all.account_id  # type: ignore[union-attr]


def test_a_nested_length_past_its_message_is_a_wire_error() -> None:
    inner = bytes_field(b"\x12", bytes_field(b"\x12", b"ABC"))  # item.place_order.symbol
    lying = bytearray(bytes_field(b"\n", inner))
    lying[3] = 9  # place_order claims more bytes than its item holds
    with pytest.raises(request_wire.WireError):
        request_wire.batch_items(bytes(lying) + b"\x00" * 10)


@given(st.lists(st.integers(min_value=0, max_value=2**32 - 1), max_size=5), st.booleans(),
       _u64, _i64)
def test_a_logged_batch_decodes_to_what_protobuf_reads(
    skipped: list[int], packed_by_hand: bool, first_seq: int, ts_ns: int
) -> None:
    batch = batch_pb.SubmitBatchesRequest()
    batch.commands.add(request_id=7, place_order=pb.PlaceOrderRequest(symbol="S", price="1"))
    batch.commands.add(request_id=8)
    head = wal_pb2.SequencedBatch(first_seq=first_seq, ts_ns=ts_ns, epoch=4, count=2,
                                  skipped=[] if packed_by_hand else skipped, batch=batch)
    data = head.SerializeToString()
    if packed_by_hand:  # the unpacked encoding of a repeated uint32: protobuf accepts it
        data += b"".join(b"\x28" + varint(value) for value in skipped)
    expected = wal_pb2.SequencedBatch.FromString(data)
    logged = request_wire.sequenced_batch(data)
    assert logged is not None
    assert (logged.first_seq, logged.ts_ns, logged.epoch, logged.count) == (
        expected.first_seq, expected.ts_ns, expected.epoch, expected.count)
    assert logged.skipped == list(expected.skipped)
    assert [(i.request_id, i.which) for i in logged.items] == [(7, "place_order"), (8, "")]


def test_a_logged_batch_whose_request_field_repeats_is_left_to_protobuf() -> None:
    batch = batch_pb.SubmitBatchesRequest()
    batch.commands.add(request_id=1)
    data = wal_pb2.SequencedBatch(first_seq=1, count=1, batch=batch).SerializeToString()
    assert request_wire.sequenced_batch(data + bytes_field(b"\x32", b"")) is None
