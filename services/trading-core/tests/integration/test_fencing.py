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
from exchange_core.adapters.wal_reader import read_entries
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
