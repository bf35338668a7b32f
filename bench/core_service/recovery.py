"""Benchmark: recovery time of a WAL of N commands (no snapshot: the whole log replayed;
the newest checkpoint hash verified, or every one with ``--verify all``).

The WAL is produced by the real pipeline in-process (Sequencer -> WalJournal ->
WalWriter with fdatasync), from a deterministic stream of limit orders and cancels.

    .venv/bin/python bench/core_service/recovery.py [--records 1000000]
"""

import argparse
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from exchange.core.v1 import wal_pb2
from exchange.v1 import common_pb2, events_pb2
from exchange.v1 import trading_core_pb2 as pb
from exchange_core import compiled
from exchange_core.adapters import command_mapping
from exchange_core.adapters.event_mapping import EventMapper
from exchange_core.adapters.market_config import parse_markets
from exchange_core.adapters.recovery import recover
from exchange_core.adapters.snapshot_store import SnapshotStore
from exchange_core.adapters.wal_journal import WalJournal
from exchange_core.adapters.wal_writer import WalWriter
from exchange_core.app.sequencer import Sequencer
from exchange_core.domain import Engine, EngineConfig

MARKETS = {
    "assets": [{"code": "BTC", "scale": 8}, {"code": "USDT", "scale": 6}],
    "markets": [{"symbol": "BTC-USDT", "base": "BTC", "quote": "USDT", "tick_size": "0.01",
                 "lot_size": "0.001", "min_quantity": "0.001", "max_quantity": "1000"}],
    "limits": {"max_open_orders": 10_000_000, "closed_orders_retained": 10_000},
}
ACCOUNTS = [f"acct-{i}" for i in range(64)]


def _config() -> EngineConfig:
    return parse_markets(MARKETS)


def generate(wal_dir: Path, records: int, checkpoint_every: int) -> float:
    engine = Engine(_config())
    writer = WalWriter(wal_dir, shard_id="bench", next_seq=1, epoch=1,
                       on_durable=lambda seq: None)
    sequencer = Sequencer(engine, WalJournal(writer, EventMapper(engine, "bench")), epoch=1,
                          next_seq=1, checkpoint_every=checkpoint_every)
    writer.start()
    rng = random.Random(1)
    started = time.perf_counter()
    for i, account in enumerate(ACCOUNTS):
        for asset in ("USDT", "BTC"):
            adjusted = events_pb2.BalanceAdjusted(adjustment_id=f"d{i}{asset}",
                                                  account_id=account, asset=asset,
                                                  delta="1000000000")
            source = wal_pb2.SequencedCommand(balance=wal_pb2.BalanceCommand(adjusted=adjusted))
            mapped = command_mapping.balance_adjust(engine, adjusted)
            sequencer.execute(source, mapped)  # type: ignore[arg-type]
    for i in range(records - 2 * len(ACCOUNTS)):
        account = ACCOUNTS[i % len(ACCOUNTS)]
        if i % 10 == 9:
            req_c = pb.CancelOrderRequest(symbol="BTC-USDT", account_id=account,
                                          order_id=f"BTC-USDT:{rng.randint(1, i + 1)}")
            source = wal_pb2.SequencedCommand(cancel_order=req_c)
            mapped = command_mapping.cancel_order(engine, req_c)
        else:
            req = pb.PlaceOrderRequest(
                symbol="BTC-USDT", account_id=account,
                side=common_pb2.SIDE_BUY if i & 1 else common_pb2.SIDE_SELL,
                order_type=common_pb2.ORDER_TYPE_LIMIT,
                time_in_force=common_pb2.TIME_IN_FORCE_GTC,
                price=f"{rng.randint(9_900, 10_100) / 100:.2f}",
                quantity=f"{rng.randint(1, 20) / 1000:.3f}")
            source = wal_pb2.SequencedCommand(place_order=req)
            mapped = command_mapping.place_order(engine, req)
        sequencer.execute(source, mapped)  # type: ignore[arg-type]
    writer.close()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--checkpoint-every", type=int, default=10_000)
    parser.add_argument("--verify", choices=("all", "newest"), default="newest",
                        help="checkpoints checked: every one, or the newest (serve's default)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="work directory to keep: reuse its WAL if present (re-runs)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="core-recovery-bench-"))
    try:
        wal_dir = work / "wal"
        if wal_dir.is_dir() and any(wal_dir.iterdir()):
            gen_s = 0.0
        else:
            wal_dir.mkdir(parents=True, exist_ok=True)
            gen_s = generate(wal_dir, args.records, args.checkpoint_every)
        size = sum(p.stat().st_size for p in wal_dir.iterdir())
        started, cpu_started = time.perf_counter(), time.process_time()
        rec = recover(wal_dir, SnapshotStore(work / "snapshots"), _config, use_snapshot=False,
                      verify_all=args.verify == "all")
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        print(f"machine: {os.cpu_count()} cores, {platform.python_implementation()} "
              f"{platform.python_version()}; core build: {compiled.STATUS}; load average "
              f"{os.getloadavg()[0]:.2f}")
        print(f"WAL: {rec.replayed:,} commands, {size / 1e6:.0f} MB" + (
            f", generated through the pipeline in {gen_s:.1f}s "
            f"({rec.replayed / gen_s:,.0f} commands/s incl. fsync)" if gen_s else " (reused)"))
        print(f"recovery (full replay, {rec.checkpoints_verified} checkpoints verified, "
              f"{rec.checkpoints_skipped} not checked; --verify {args.verify}): "
              f"{elapsed:.2f}s = {rec.replayed / elapsed:,.0f} commands/s ({cpu:.2f}s CPU); "
              f"hash {rec.state_hash}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
