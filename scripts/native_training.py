"""Training run for the profile-guided build (scripts/build_native.py, ADR 0006).

Runs the instrumented build through what the core does on every command: the engine on
the matching bench's realistic mix and its plain GTC stream (other seeds and sizes than
the benchmark's defaults), the event encoding of every result and the place replies. GCC
then lays out the hot paths from these counts; code this run does not reach keeps its
ordinary -O3 build (``-fprofile-partial-training``).

    .venv/bin/python scripts/native_training.py   # build_native runs it; exits 0 or fails
"""

import importlib
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "trading-core" / "src"))
sys.path.insert(0, str(ROOT / "bench" / "matching"))

from exchange_core import compiled  # noqa: E402
from exchange_core.adapters.event_mapping import EventMapper  # noqa: E402
from exchange_core.adapters.reply_mapping import place_reply_bytes  # noqa: E402
from exchange_core.domain import PlaceOrder, Result  # noqa: E402  (activates the build)

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


def main() -> int:
    if not compiled.STATUS.startswith("native"):
        print(f"native_training: not the compiled build ({compiled.STATUS})", file=sys.stderr)
        return 1
    size = train(bench.mix_commands(80_000, 7)) + train(bench.plain_commands(30_000, 11))
    print(f"native_training: {size} bytes of events and replies")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
