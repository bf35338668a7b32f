"""``scripts/stack.sh up|down|status|env [--only NAME]``: the local stack's one command."""

import argparse
import fcntl
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stack.chdb_store import ChdbStore
from stack.errors import StackError
from stack.kafka_broker import KafkaBroker
from stack.postgres_server import PostgresServer
from stack.redis_server import RedisServer
from stack.s3_store import S3Store
from stack.server import Server, VersionBook
from stack.services import services as platform_services
from stack.settings import Settings, load, shell_exports

NAMES = ("postgres", "redis", "kafka", "s3", "chdb")  # start order; down is the reverse
LOCK_TIMEOUT_S = 300


def servers(settings: Settings) -> list[Server]:
    versions = VersionBook(settings.stack_dir / "versions.json")
    return [
        PostgresServer(settings, versions),
        RedisServer(settings, versions),
        KafkaBroker(settings, versions),
        S3Store(settings, versions),
        ChdbStore(settings, versions),
    ]


@contextmanager
def exclusive(stack_dir: Path) -> Iterator[None]:
    """One ``up``/``down`` at a time per stack directory (a second one waits, bounded)."""
    stack_dir.mkdir(parents=True, exist_ok=True)
    with (stack_dir / ".lock").open("w") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StackError(f"another stack command holds {stack_dir / '.lock'}") from None
                time.sleep(0.2)
        yield


def run(command: str, only: list[str], settings: Settings, *, with_services: bool = False) -> int:
    chosen = [s for s in servers(settings) if not only or s.name in only]
    apps: list[Server] = list(platform_services(settings)) if not only else []
    if command == "env":
        print("\n".join(shell_exports(settings)))
        return 0
    if command == "status":
        for server in [*chosen, *apps]:
            print(server.status().line())
        return 0
    with exclusive(settings.stack_dir):
        if command == "up":
            for server in chosen + (apps if with_services else []):
                started = time.monotonic()
                print(f"{server.up()} [{time.monotonic() - started:.1f}s]", flush=True)
            return 0
        failures = 0
        # Services first (they drain into the servers), then the servers in reverse order.
        for server in [*apps, *reversed(chosen)]:
            try:
                print(server.down(), flush=True)
            except (StackError, OSError) as exc:
                failures += 1
                print(f"{server.name}: {exc}", file=sys.stderr, flush=True)
        return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/stack.sh", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "status", "env"))
    parser.add_argument(
        "--only", action="append", choices=NAMES, default=[],
        help="limit to one server (repeatable)",
    )
    parser.add_argument(
        "--services", action="store_true",
        help="with up: also start the platform's services (trading-core, ledger-service)",
    )
    args = parser.parse_args(argv)
    try:
        return run(args.command, args.only, load(), with_services=args.services)
    except StackError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
