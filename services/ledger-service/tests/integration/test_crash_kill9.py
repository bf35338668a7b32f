"""kill -9 of the settlement consumer, many times, while a producer feeds it.

The consumer runs as a real subprocess (``python -m exchange_ledger consume``) against the
real broker and database. It is SIGKILLed at random points (mid-batch, mid-commit, while
joining the group) and restarted; afterwards every trade produced is settled exactly once.
"""

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from itertools import pairwise
from pathlib import Path

import pytest

from exchange.v1 import events_pb2
from exchange_ledger.adapters.invariant_checker import InvariantChecker
from exchange_ledger.testing import Record

from .conftest import Ledger
from .kafka_support import (
    drop_topics,
    end_offsets,
    private_topics,
    produce,
    two_markets,
    wait_for,
)

# A long loop of real restarts: its own bound, above the suite's 300 s per test.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]

KILLS = 20
TRADES_PER_MARKET = 1_500


def _feed(bootstrap: str, names: dict[str, str], markets: list[tuple[list[Record],
          list[Record]]], done: threading.Event) -> None:
    chunk = 300
    longest = max(len(o) for o, _ in markets)
    for start in range(0, longest, chunk):
        for orders, trades in markets:
            produce(bootstrap, trades[start // 4:(start + chunk) // 4], names)
            produce(bootstrap, orders[start:start + chunk], names)
        time.sleep(0.15)
    done.set()


def test_kill_9_never_settles_a_trade_twice_nor_loses_one(
        ledger: Ledger, kafka_bootstrap: str, postgres_dsn: str, tmp_path: Path) -> None:
    ledger.fund()
    for i in range(20):
        ledger.deposit(f"acct-{i}", "ETH", "1000")
    order_topic, trade_topic = private_topics(kafka_bootstrap)
    names = {"core.order-events.v1": order_topic, "core.trade-events.v1": trade_topic}
    markets = two_markets(TRADES_PER_MARKET)
    total_trades = 2 * TRADES_PER_MARKET
    fed = threading.Event()
    feeder = threading.Thread(target=_feed, args=(kafka_bootstrap, names, markets, fed))
    env = {**os.environ, "LEDGER_DATABASE_URL": postgres_dsn, "LEDGER_DB_SCHEMA": ledger.schema,
           "LEDGER_KAFKA_ENABLED": "true", "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
           "LEDGER_ORDER_TOPIC": order_topic, "LEDGER_TRADE_TOPIC": trade_topic,
           "LEDGER_CONSUMER_GROUP": f"crash-{uuid.uuid4().hex[:8]}",
           "LEDGER_KAFKA_MANUAL_ASSIGNMENT": "true", "LEDGER_BATCH_MAX": "150",
           "LEDGER_ASSETS": "BTC:8,USDT:8,ETH:8"}
    log = (tmp_path / "consumer.log").open("ab")

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "exchange_ledger", "consume"], env=env,
                                stdout=log, stderr=log)

    rng = random.Random(20261125)
    progress: list[int] = []
    feeder.start()
    try:
        for _ in range(KILLS):
            proc = start()
            time.sleep(rng.uniform(1.2, 3.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            progress.append(int(str(ledger.scalar("SELECT count(*) FROM trades"))))
        feeder.join()
        proc = start()
        try:
            wait_for(lambda: ledger.scalar("SELECT count(*) FROM trades") == total_trades
                     and ledger.scalar("SELECT count(*) FROM parked_events") == 0,
                     120, f"{total_trades} trades after {KILLS} kills")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    finally:
        feeder.join()
        log.close()
        drop_topics(kafka_bootstrap, [order_topic, trade_topic])

    assert sum(1 for a, b in pairwise(progress) if b > a) >= KILLS // 2, (
        f"the consumer made progress between too few kills: {progress}")
    assert any(0 < p < total_trades for p in progress), progress  # killed mid-stream
    with ledger.app_conn() as conn:
        trade_entries, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT ref) FROM journal_entries WHERE kind = 'trade'"
        ).fetchone() or (0, 0)
        settled = {r[0] for r in conn.execute("SELECT trade_id FROM trades")}
        events = conn.execute("SELECT count(*) FROM processed_events").fetchone()
    produced = {tid for _, trades in markets for tid in _trade_ids(trades)}
    assert trade_entries == distinct == total_trades       # zero double settlements
    assert settled == produced                              # zero losses
    assert events == (sum(len(o) + len(t) for o, t in markets),)  # each event once
    expected = {(t, p): o for t in (order_topic, trade_topic)
                for p, o in end_offsets(kafka_bootstrap, t).items() if o > 0}
    with ledger.app_conn() as conn:
        stored = {(t, p): int(o) for t, p, o in conn.execute(
            "SELECT topic, partition, next_offset FROM consumer_offsets WHERE next_offset > 0")}
    assert stored == expected
    report = InvariantChecker(ledger.pool.connection).check()
    assert report.ok, report.violations


def _trade_ids(trades: list[Record]) -> list[str]:
    out = []
    for r in trades:
        event = events_pb2.TradeEvent()
        event.ParseFromString(r.value)
        out.append(event.trade.trade_id)
    return out
