"""`trading-core serve | replay [--verify]`: the only place where objects are wired."""

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from exchange_common.config import ConfigError
from exchange_core.adapters.market_config import load_markets
from exchange_core.adapters.recovery import recover
from exchange_core.adapters.server import serve
from exchange_core.adapters.snapshot_store import SnapshotFormatError, SnapshotStore
from exchange_core.adapters.wal_segment import WalCorruptionError
from exchange_core.app.replay import DivergenceError
from exchange_core.config import Settings
from exchange_core.domain import DomainError


def _replay(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    data_dir = Path(args.data_dir) if args.data_dir else settings.data_dir
    markets = Path(args.markets) if args.markets else settings.markets_file
    try:
        recovered = recover(
            data_dir / "wal", SnapshotStore(data_dir / "snapshots"),
            lambda: load_markets(markets), repair=False,
            use_snapshot=not args.from_scratch, verify=args.verify,
            strict_snapshots=args.verify,
        )
    except (DivergenceError, WalCorruptionError, SnapshotFormatError, DomainError,
            ValueError) as exc:
        print(json.dumps({"ok": False, "error": str(exc)}), file=sys.stdout)
        return 1
    print(json.dumps({
        "ok": True, "seq": recovered.last_seq, "state_hash": recovered.state_hash,
        "snapshot_seq": recovered.snapshot_seq, "replayed": recovered.replayed,
        "checkpoints_verified": recovered.checkpoints_verified,
        "seconds": round(recovered.seconds, 3),
    }))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trading-core")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the core (gRPC, WAL, outbox) from the environment")
    replay = commands.add_parser("replay", help="rebuild state from snapshot + WAL, print hash")
    replay.add_argument("--verify", action="store_true",
                        help="check every recorded hash; exit 1 on the first divergence")
    replay.add_argument("--from-scratch", action="store_true",
                        help="ignore snapshots: replay the whole WAL from seq 1")
    replay.add_argument("--data-dir", help="default: CORE_DATA_DIR")
    replay.add_argument("--markets", help="default: CORE_MARKETS_FILE")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "replay":
            return _replay(args)
        return asyncio.run(serve(Settings.from_env()))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
