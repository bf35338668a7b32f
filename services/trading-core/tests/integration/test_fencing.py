"""Two cores on the same shard (same symbols): only the lease holder makes progress, and a
paused leader that lost its lease never appends or acknowledges again."""

import signal
import time
from typing import Any

import grpc
import pytest
from core_harness import fund  # type: ignore[import-not-found]

from exchange.core.v1 import wal_pb2
from exchange.v1 import common_pb2
from exchange.v1 import trading_core_pb2 as pb
from exchange.v1 import trading_core_pb2_grpc as pb_grpc
from exchange_core.adapters.wal_frame import RecordType, encode_frame
from exchange_core.adapters.wal_reader import read_entries
from exchange_core.adapters.wal_writer import WalWriter
from exchange_testkit.waiting import wait_until

pytestmark = pytest.mark.integration


def _place(core: Any, market: Any, cid: str) -> pb.PlaceOrderResponse:
    with grpc.insecure_channel(f"127.0.0.1:{core.grpc_port}") as channel:
        reply: pb.PlaceOrderResponse = pb_grpc.TradingCoreStub(channel).PlaceOrder(
            pb.PlaceOrderRequest(symbol=market.symbol, account_id=market.accounts[0],
                                 client_order_id=cid, side=common_pb2.SIDE_BUY,
                                 order_type=common_pb2.ORDER_TYPE_LIMIT, price="100",
                                 quantity="0.01"), timeout=5)
        return reply


def _unavailable(core: Any, market: Any, cid: str) -> bool:
    try:
        reply = _place(core, market, cid)
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc
        return True
    raise AssertionError(f"acknowledged: {reply}")



def _logged_commands(core: Any) -> list[wal_pb2.SequencedCommand]:
    return [e for e in read_entries(core.data_dir / "wal")
            if isinstance(e, wal_pb2.SequencedCommand)]


def test_only_the_lease_holder_makes_progress_and_a_stale_leader_is_fenced(
    core_factory: Any, market: Any, kafka_bootstrap: str
) -> None:
    deposits = fund(kafka_bootstrap, market)
    shard = f"fence-{market.run}"
    first = core_factory(market, name="first", shard_id=shard, CORE_S3_ARCHIVE_ENABLED="false")
    second = core_factory(market, name="second", shard_id=shard, CORE_S3_ARCHIVE_ENABLED="false")
    first.start()
    first.wait_serving()
    wait_until(lambda: first.metric("core_durable_seq") >= deposits)
    second.start()
    time.sleep(2.0)  # well past the lease TTL: the second had every chance to take over
    assert not second.is_serving() and not second.is_serving(service="")  # a standby
    assert first.is_serving(service="")
    assert _unavailable(second, market, "to-standby")
    acked = [_place(first, market, f"first-{i}") for i in range(5)]
    assert all(r.accepted for r in acked)
    first_epoch = acked[0].epoch

    # The leader stalls (GC pause, VM freeze): its lease expires and the standby takes over.
    assert first.proc is not None
    first.proc.send_signal(signal.SIGSTOP)
    try:
        second.wait_serving(timeout_s=30)
        wait_until(lambda: second.metric("core_durable_seq") >= deposits)
        taken = _place(second, market, "second-1")
        assert taken.accepted and taken.epoch > first_epoch
        logged_before = len(_logged_commands(first))
    finally:
        first.proc.send_signal(signal.SIGCONT)

    # The old leader wakes up believing nothing happened: it must refuse, not acknowledge.
    assert _unavailable(first, market, "first-after-pause")
    assert first.proc.wait(15) == 3  # it steps down (EXIT_FENCED)
    after = _logged_commands(first)
    assert len(after) == logged_before, "a fenced leader appended to its WAL"
    assert {c.epoch for c in after} == {first_epoch}
    assert _place(second, market, "second-2").accepted
    assert {c.epoch for c in _logged_commands(second)} == {taken.epoch}


def test_a_core_whose_wal_holds_a_newer_epoch_than_its_lease_refuses_to_lead(
    core_factory: Any, market: Any,
) -> None:
    # The WAL was written by a leader of a far newer epoch than the one the lease gives
    # now (a restored or copied data directory): leading from it would reuse epochs.
    core = core_factory(market, CORE_S3_ARCHIVE_ENABLED="false",
                        CORE_OUTBOX_ENABLED="false", CORE_BALANCE_FEED_ENABLED="false")
    newer = 10**12
    (core.data_dir / "wal").mkdir(parents=True)
    writer = WalWriter(core.data_dir / "wal", shard_id=core.env["CORE_SHARD_ID"], next_seq=1,
                       epoch=newer, on_durable=lambda seq: None)
    command = wal_pb2.SequencedCommand(seq=1, ts_ns=1, epoch=newer)
    command.set_symbol_mode.symbol = market.symbol
    command.set_symbol_mode.mode = common_pb2.SYMBOL_MODE_NORMAL
    events = wal_pb2.CommandEvents(seq=1, epoch=newer, ts_ns=1)
    writer.start()
    writer.append(1, encode_frame(RecordType.COMMAND, command.SerializeToString())
                  + encode_frame(RecordType.EVENTS, events.SerializeToString()))
    writer.close()
    assert writer.durable_seq == 1
    core.start()
    assert core.proc is not None
    assert core.proc.wait(60) == 3  # EXIT_FENCED: restart as a standby, never lead
    assert f"the WAL holds epoch {newer}" in core.tail()
    assert not core.is_serving()
