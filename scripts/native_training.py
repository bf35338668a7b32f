"""Training run for the profile-guided build (scripts/build_native.py, ADR 0006).

Runs the instrumented build through what the core does on every command: the engine on
the matching bench's realistic mix and its plain GTC stream (other seeds and sizes than
the benchmark's defaults), the event encoding of every result and the place replies;
then the service's batch path on a real WAL in a temporary directory (request bytes
decoded, staged through the sequencer and journal, batch replies written), the outbox's
walk over the WAL's event frames, and a recovery of that WAL. GCC then lays out the hot
paths from these counts; code this run does not reach keeps its ordinary -O3 build
(``-fprofile-partial-training``).

    .venv/bin/python scripts/native_training.py   # build_native runs it; exits 0 or fails
"""

import asyncio
import importlib
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "trading-core" / "src"))
sys.path.insert(0, str(ROOT / "bench" / "matching"))

from exchange.core.v1 import trading_core_batch_pb2 as batch_pb  # noqa: E402
from exchange.core.v1 import wal_pb2  # noqa: E402
from exchange.v1 import common_pb2  # noqa: E402
from exchange.v1 import trading_core_pb2 as pb  # noqa: E402
from exchange_core import compiled  # noqa: E402
from exchange_core.adapters import command_mapping  # noqa: E402
from exchange_core.adapters.batch_service import (  # noqa: E402
    batch_reply_bytes,
    decode_batch,
    stage_raw_batch,
)
from exchange_core.adapters.event_frames import scan_events  # noqa: E402
from exchange_core.adapters.event_mapping import EventMapper  # noqa: E402
from exchange_core.adapters.recovery import recover  # noqa: E402
from exchange_core.adapters.reply_mapping import place_reply_bytes  # noqa: E402
from exchange_core.adapters.snapshot_store import SnapshotStore  # noqa: E402
from exchange_core.adapters.wal_frame import MAX_PAYLOAD_BYTES, TYPE_CRC  # noqa: E402
from exchange_core.adapters.wal_journal import WalJournal  # noqa: E402
from exchange_core.adapters.wal_writer import WalWriter  # noqa: E402
from exchange_core.app.core_node import CoreNode  # noqa: E402
from exchange_core.app.durability import DurabilityGate  # noqa: E402
from exchange_core.app.sequencer import Sequencer  # noqa: E402
from exchange_core.domain import Engine, PlaceOrder, Result  # noqa: E402  (activates the build)

bench: Any = importlib.import_module("bench")  # bench/matching/bench.py: its generators

TS_NS = 1_790_000_000_000_000_000
EPOCH = 1


def train(commands: list[object]) -> int:
    engine = bench.funded_engine()
    mapper = EventMapper(engine, "core-train")
    encoded = 0
    for seq, cmd in enumerate(commands, start=1):
        result: Result = engine.apply(cmd)
        encoded += len(mapper.command_events(result, wal_seq=seq, ts_ns=TS_NS, epoch=EPOCH,
                                             correlation_id="train"))
        if type(cmd) is PlaceOrder:
            encoded += len(place_reply_bytes(mapper, EPOCH, result))
        if seq % 20_000 == 0:
            engine.state_hash()
    engine.check_invariants()
    return encoded


def _requests(accounts: list[str], batches: int, seed: int) -> list[bytes]:
    """SubmitBatchesRequests of 100 LIMIT orders (GTC, some IOC) around one price."""
    rng = random.Random(seed)
    out = []
    for b in range(batches):
        message = batch_pb.SubmitBatchesRequest()
        for i in range(100):
            n = b * 100 + i
            message.commands.add(request_id=n + 1, place_order=pb.PlaceOrderRequest(
                symbol=str(bench.SYMBOL), account_id=accounts[n % len(accounts)],
                client_order_id=f"t{n}", side=common_pb2.SIDE_BUY if n & 1
                else common_pb2.SIDE_SELL, order_type=common_pb2.ORDER_TYPE_LIMIT,
                time_in_force=common_pb2.TIME_IN_FORCE_IOC if rng.random() < 0.3
                else common_pb2.TIME_IN_FORCE_GTC,
                price=f"{rng.randint(29_990, 30_010)}.00", quantity="0.01"))
        out.append(message.SerializeToString())
    return out


def train_service(wal_dir: Path) -> int:
    """The batch path on a real WAL (fsync on), then the outbox's scan and a recovery."""
    wal_dir.mkdir(parents=True)
    loop = asyncio.new_event_loop()
    engine = Engine(bench.config())
    writer = WalWriter(wal_dir, shard_id="train", next_seq=1, epoch=EPOCH,
                       on_durable=lambda seq: None)
    mapper = EventMapper(engine, "core-train")
    sequencer = Sequencer(engine, WalJournal(writer, mapper), epoch=EPOCH, next_seq=1,
                          checkpoint_every=10_000,
                          clock_ns=iter(range(TS_NS, TS_NS + 10**12, 1_000)).__next__)
    node = CoreNode(engine, sequencer, DurabilityGate(loop), max_in_flight=10**9,
                    balance_positions={})
    writer.start()
    size = refused = 0
    try:
        accounts = [str(a) for a in bench.ACCOUNTS[:16]]
        for account in accounts:  # funded through the log, so the recovery sees it
            for asset, delta in (("USDT", "10000000000000"), ("BTC", "100000000000")):
                source = wal_pb2.SequencedCommand()
                adjusted = source.balance.adjusted
                adjusted.adjustment_id = f"train-{account}-{asset}"
                adjusted.account_id, adjusted.asset, adjusted.delta = account, asset, delta
                mapped = command_mapping.balance_adjust(engine, adjusted, "", TS_NS)
                if isinstance(mapped, command_mapping.Unsequenced):
                    raise RuntimeError(f"training deposit refused: {mapped}")
                sequencer.execute(source, mapped)
        for data in _requests(accounts, 300, 5):
            staged = stage_raw_batch(node, data, decode_batch(data))
            size += len(batch_reply_bytes(mapper, staged))
            refused += sum(not r.accepted for r in staged.results)
        if refused:
            raise RuntimeError(f"{refused} training orders refused: fund the accounts")
    finally:
        writer.close()
        loop.close()
    for segment in sorted(wal_dir.iterdir()):
        scan = scan_events(segment.read_bytes(), 0, 10**18, max_records=10**9,
                           type_crc=TYPE_CRC, max_payload=MAX_PAYLOAD_BYTES, topics={})
        size += len(scan.messages)
    recovered = recover(wal_dir, SnapshotStore(wal_dir.parent / "snapshots"), bench.config)
    return size + recovered.replayed


def main() -> int:
    if not compiled.STATUS.startswith("native"):
        print(f"native_training: not the compiled build ({compiled.STATUS})", file=sys.stderr)
        return 1
    size = train(bench.mix_commands(80_000, 7)) + train(bench.plain_commands(30_000, 11))
    with tempfile.TemporaryDirectory(prefix="native-training-") as tmp:
        size += train_service(Path(tmp) / "wal")
    print(f"native_training: {size} bytes of events and replies")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
