"""WAL segments and snapshots go to the object store; a segment leaves the local disk only
once a snapshot, the archive and the outbox cursor all cover it."""

import shutil
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from core_harness import fund  # type: ignore[import-not-found]

from exchange.core.v1 import wal_pb2
from exchange.v1 import common_pb2
from exchange.v1 import trading_core_pb2 as pb
from exchange.v1 import trading_core_pb2_grpc as pb_grpc
from exchange_core.adapters.archive import make_s3_client
from exchange_core.adapters.wal_reader import read_entries
from exchange_core.adapters.wal_segment import list_segments
from exchange_testkit import Endpoints

pytestmark = pytest.mark.integration


def test_segments_and_snapshots_are_archived_before_they_are_pruned(  # noqa: PLR0917
    core_factory: Any, market: Any, kafka_bootstrap: str, s3_endpoint: str,
    endpoints: Endpoints, tmp_path: Path,
) -> None:
    deposits = fund(kafka_bootstrap, market)
    core = core_factory(market, CORE_WAL_SEGMENT_BYTES="4096", CORE_SNAPSHOT_EVERY_COMMANDS="50")
    core.start()
    core.wait_serving()
    deadline = time.monotonic() + 30
    while core.metric("core_durable_seq") < deposits:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with grpc.insecure_channel(f"127.0.0.1:{core.grpc_port}") as channel:
        stub = pb_grpc.TradingCoreStub(channel)
        for i in range(150):
            reply = stub.PlaceOrder(pb.PlaceOrderRequest(
                symbol=market.symbol, account_id=market.accounts[i % 4],
                client_order_id=f"o{i}", order_type=common_pb2.ORDER_TYPE_LIMIT,
                side=common_pb2.SIDE_BUY if i % 2 else common_pb2.SIDE_SELL,
                price=f"{100 + (i % 7) / 100:.2f}", quantity="0.01"))
            assert reply.accepted
    time.sleep(3)  # the housekeeper runs every second
    assert core.terminate() == 0
    s3 = make_s3_client(s3_endpoint, endpoints.s3_access_key, endpoints.s3_secret_key)
    shard = core.env["CORE_SHARD_ID"]
    wal_keys = {o["Key"] for o in s3.list_objects_v2(
        Bucket="exchange-wal-archive", Prefix=f"{shard}/wal/").get("Contents", [])}
    snap_keys = {o["Key"] for o in s3.list_objects_v2(
        Bucket="exchange-snapshots", Prefix=f"{shard}/snapshots/").get("Contents", [])}
    assert len(wal_keys) >= 3 and snap_keys
    local = {p.name for p in list_segments(core.data_dir / "wal")}
    archived = {k.rsplit("/", 1)[1] for k in wal_keys}
    first_local = min(local)
    pruned = {name for name in archived if name < first_local}
    assert pruned, "no segment was pruned"
    # Archive + what is left locally is the whole log, seq 1..N without a hole.
    whole = tmp_path / "whole-wal"
    whole.mkdir()
    for name in archived:
        s3.download_file("exchange-wal-archive", f"{shard}/wal/{name}", str(whole / name))
    for path in list_segments(core.data_dir / "wal"):
        shutil.copy(path, whole / path.name)
    seqs = [e.seq for e in read_entries(whole) if isinstance(e, wal_pb2.SequencedCommand)]
    assert seqs == list(range(1, deposits + 150 + 1))
