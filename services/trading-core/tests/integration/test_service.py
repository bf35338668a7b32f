"""The TradingCore gRPC service end to end on the real process and the local stack."""

import time
from typing import Any

import grpc
import pytest
from core_harness import fund  # type: ignore[import-not-found]

from exchange.core.v1 import trading_core_batch_pb2 as batch_pb
from exchange.core.v1 import trading_core_batch_pb2_grpc as batch_grpc
from exchange.core.v1 import wal_pb2
from exchange.v1 import common_pb2
from exchange.v1 import trading_core_pb2 as pb
from exchange.v1 import trading_core_pb2_grpc as pb_grpc
from exchange_core.adapters.snapshot_store import SnapshotStore
from exchange_core.adapters.wal_reader import read_entries

pytestmark = pytest.mark.integration
BUY, SELL = common_pb2.SIDE_BUY, common_pb2.SIDE_SELL


def _ready(core: Any, deposits: int) -> None:
    core.start()
    core.wait_serving()
    deadline = time.monotonic() + 30
    while core.metric("core_durable_seq") < deposits:
        assert time.monotonic() < deadline, "deposits not applied"
        time.sleep(0.05)


def _order(market: Any, account: int, cid: str, side: "common_pb2.Side.ValueType", price: str, *,
           qty: str = "0.5") -> pb.PlaceOrderRequest:
    return pb.PlaceOrderRequest(symbol=market.symbol, account_id=market.accounts[account],
                                client_order_id=cid, side=side,
                                order_type=common_pb2.ORDER_TYPE_LIMIT, price=price,
                                quantity=qty)


def test_orders_match_query_cancel_and_survive_a_graceful_restart(
    core_factory: Any, market: Any, kafka_bootstrap: str
) -> None:
    core = core_factory(market, CORE_S3_ARCHIVE_ENABLED="false")
    _ready(core, fund(kafka_bootstrap, market))
    with grpc.insecure_channel(f"127.0.0.1:{core.grpc_port}") as channel:
        stub = pb_grpc.TradingCoreStub(channel)
        bad = stub.PlaceOrder(_order(market, 0, "bad", BUY, "100.001"))
        assert (bad.accepted, bad.code, bad.seq) == (
            False, common_pb2.REJECT_CODE_PRICE_OFF_TICK, 0)
        ask = stub.PlaceOrder(_order(market, 1, "ask-1", SELL, "100.50"))
        assert ask.accepted and ask.status == common_pb2.ORDER_STATUS_NEW and ask.seq > 0
        bid = stub.PlaceOrder(_order(market, 0, "bid-1", BUY, "101", qty="0.2"))
        assert bid.status == common_pb2.ORDER_STATUS_FILLED
        assert [(t.price, t.quantity) for t in bid.trades] == [("100.5", "0.2")]
        book = stub.GetOrderBook(pb.GetOrderBookRequest(symbol=market.symbol, depth=5))
        assert [(lvl.price, lvl.quantity) for lvl in book.asks] == [("100.5", "0.3")]
        assert book.seq == bid.seq
        mine = stub.GetOpenOrders(pb.GetOpenOrdersRequest(account_id=market.accounts[1]))
        assert [o.order_id for o in mine.orders] == [ask.order_id]
        other = stub.GetOrder(pb.GetOrderRequest(symbol=market.symbol,
                                                 account_id=market.accounts[0],
                                                 order_id=ask.order_id))
        assert not other.found  # an account sees only its own orders
        for bad, code in (
            (pb.GetOrderRequest(symbol="NOPE-USDT", order_id="NOPE-USDT:1"),
             grpc.StatusCode.NOT_FOUND),
            (pb.GetOrderRequest(symbol=market.symbol, order_id="ETH-USDT:1"),
             grpc.StatusCode.INVALID_ARGUMENT),
            (pb.GetOrderRequest(symbol=market.symbol, client_order_id="ask-1"),
             grpc.StatusCode.INVALID_ARGUMENT),  # a client order id needs its account
            (pb.GetOrderRequest(symbol=market.symbol), grpc.StatusCode.INVALID_ARGUMENT),
        ):
            with pytest.raises(grpc.RpcError) as refused_query:
                stub.GetOrder(bad)
            assert refused_query.value.code() == code, bad
        by_client = stub.GetOrder(pb.GetOrderRequest(
            symbol=market.symbol, account_id=market.accounts[1], client_order_id="ask-1"))
        assert by_client.found and by_client.order.order_id == ask.order_id
        halted = stub.SetSymbolMode(pb.SetSymbolModeRequest(
            symbol=market.symbol, mode=common_pb2.SYMBOL_MODE_CANCEL_ONLY))
        assert halted.accepted
        refused = stub.PlaceOrder(_order(market, 0, "bid-2", BUY, "99"))
        assert refused.code == common_pb2.REJECT_CODE_SYMBOL_CANCEL_ONLY
        canceled = stub.CancelOrder(pb.CancelOrderRequest(
            symbol=market.symbol, account_id=market.accounts[1], order_id=ask.order_id))
        assert canceled.accepted and canceled.status == common_pb2.ORDER_STATUS_CANCELED
        stub.SetSymbolMode(pb.SetSymbolModeRequest(symbol=market.symbol,
                                                   mode=common_pb2.SYMBOL_MODE_NORMAL))
        batch = batch_grpc.TradingCoreBatchStub(channel).SubmitBatches(iter([
            batch_pb.SubmitBatchesRequest(commands=[
                pb.SubmitStreamRequest(request_id=i, place_order=_order(
                    market, 2, f"batch-{i}", BUY, f"{90 + i}")) for i in range(1, 6)]),
        ]))
        replies = [r for message in batch for r in message.replies]
        assert [r.request_id for r in replies] == [1, 2, 3, 4, 5]
        assert all(r.place_order.accepted for r in replies)
        # An item with no command: a structured error, and nothing of that batch runs.
        seq_before = stub.GetOrderBook(pb.GetOrderBookRequest(symbol=market.symbol)).seq
        empty = batch_grpc.TradingCoreBatchStub(channel).SubmitBatches(iter([
            batch_pb.SubmitBatchesRequest(commands=[
                pb.SubmitStreamRequest(request_id=7, place_order=_order(
                    market, 2, "never-1", BUY, "80")),
                pb.SubmitStreamRequest(request_id=8)]),
        ]))
        with pytest.raises(grpc.RpcError) as refused_batch:
            list(empty)
        assert refused_batch.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "request_id 8" in (refused_batch.value.details() or "")
        stream = stub.SubmitStream(iter([
            pb.SubmitStreamRequest(request_id=1, place_order=_order(
                market, 2, "stream-1", BUY, "80")),
            pb.SubmitStreamRequest(request_id=2),
            pb.SubmitStreamRequest(request_id=3, place_order=_order(
                market, 2, "never-2", BUY, "80"))]))
        answered = []
        with pytest.raises(grpc.RpcError) as refused_stream:
            answered.extend(stream)
        assert refused_stream.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [(r.request_id, r.place_order.accepted) for r in answered] == [(1, True)]
        book = stub.GetOrderBook(pb.GetOrderBookRequest(symbol=market.symbol))
        assert book.seq == seq_before + 1  # only stream-1 was sequenced
        mine = stub.GetOpenOrders(pb.GetOpenOrdersRequest(account_id=market.accounts[2]))
        assert sorted(o.client_order_id for o in mine.orders if o.client_order_id[0] != "b") == [
            "stream-1"]
        wiped = stub.CancelAll(pb.CancelAllRequest(symbol=market.symbol,
                                                   account_id=market.accounts[2]))
        assert wiped.accepted and wiped.canceled_count == 6
        last_seq = wiped.seq
    assert core.terminate() == 0  # graceful: drain, final fsync, snapshot
    snapshot = SnapshotStore(core.data_dir / "snapshots").load_newest()
    assert snapshot is not None
    report = core.recovery()
    _ready(core, 0)
    assert core.recovery()["replayed"] == 0  # the shutdown snapshot covered everything
    with grpc.insecure_channel(f"127.0.0.1:{core.grpc_port}") as channel:
        stub = pb_grpc.TradingCoreStub(channel)
        book = stub.GetOrderBook(pb.GetOrderBookRequest(symbol=market.symbol))
        assert book.seq == last_seq and not book.bids and not book.asks
    assert core.terminate() == 0
    assert snapshot.header.seq == core.recovery()["seq"] >= report["seq"]
    # Segments that the snapshot and the outbox cursor cover were pruned (no archive here);
    # whatever WAL is left starts after the snapshot.
    left = [e.seq for e in read_entries(core.data_dir / "wal", snapshot.header.seq)
            if isinstance(e, wal_pb2.SequencedCommand)]
    assert left == []
