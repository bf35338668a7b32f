"""``ledger-service [serve|migrate|consume]``: the only place objects are wired and run.

serve    migrate, then the HTTP API (and, with LEDGER_KAFKA_ENABLED=true, the settlement
         consumer and the outbox relay) until SIGTERM/SIGINT
migrate  apply pending migrations and exit
consume  migrate, then only the settlement consumer (no HTTP), until SIGTERM/SIGINT
"""

import argparse
import logging
import signal
import sys

from exchange_ledger.adapters.json_logging import configure_logging
from exchange_ledger.adapters.migrations import migrate
from exchange_ledger.config import Settings
from exchange_ledger.service import Runtime, build

log = logging.getLogger("exchange_ledger")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ledger-service")
    parser.add_argument("command", nargs="?", default="serve",
                        choices=["serve", "migrate", "consume"])
    args = parser.parse_args(argv)
    configure_logging()
    settings = Settings.from_env()
    if args.command == "migrate":
        applied = migrate(settings.database_url.reveal(), settings.schema)
        log.info("migrations applied", extra={"versions": applied, "schema": settings.schema})
        return 0
    runtime = build(settings)
    if args.command == "consume":
        if runtime.consumer is None:
            log.error("consume needs LEDGER_KAFKA_ENABLED=true")
            return 2
        stop = runtime.stop
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        runtime.consumer.run(stop, manual_assignment=settings.manual_assignment)
        runtime.pool.close()
        return 0
    return _serve(settings, runtime)


def _serve(settings: Settings, runtime: Runtime) -> int:
    # Imported here so that `consume` (restarted often, e.g. after a crash) starts
    # without loading the web stack (~1 s of imports on this machine).
    import uvicorn  # noqa: PLC0415

    from exchange_ledger.adapters.http_api import create_app  # noqa: PLC0415

    # uvicorn restores the handlers found at start and re-raises the signal it caught
    # after its own shutdown: with these in place that only sets `stop`, so the consumer
    # and the relay are stopped and joined below instead of the process dying mid-batch.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: runtime.stop.set())
    for thread in runtime.threads:
        thread.start()
    app = create_app(runtime.services)
    try:
        uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None)
    finally:
        runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
