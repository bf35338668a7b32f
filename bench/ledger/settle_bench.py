"""Ledger settlement benchmark: trades/s from Kafka into PostgreSQL, batched vs naive.

Workload: two markets (BTC-USDT, ETH-USDT), 20 funded accounts, the scripted market of
exchange_ledger.testing (per trade: maker + taker OrderAccepted, TradeExecuted, two
OrderFilled). Orders are produced and settled first (not timed as trades); then the
trades are produced as a backlog and the consumer is timed draining it ("batched"). The
naive baseline settles the same kind of backlog with one transaction per trade. Then a
steady phase produces trades at a fixed rate while the consumer runs, and reports the
settlement lag (record timestamp -> ledger commit) percentiles. Invariants are checked
after every phase. Finally the invariant check is timed on >= 1M postings.

Run: .venv/bin/python bench/ledger/settle_bench.py [--trades 40000] [--naive-trades 2000]
"""

import argparse
import os
import platform
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from exchange_common.kafka import ensure_topics, producer_config
from exchange_ledger.adapters.adjustment_store import AdjustmentStore
from exchange_ledger.adapters.asset_registry import register_assets
from exchange_ledger.adapters.connections import open_pool
from exchange_ledger.adapters.decoders import decode_record
from exchange_ledger.adapters.invariant_checker import InvariantChecker
from exchange_ledger.adapters.kafka_consumer import SettlementConsumer
from exchange_ledger.adapters.metrics import LedgerMetrics
from exchange_ledger.adapters.migrations import migrate
from exchange_ledger.adapters.settlement_store import PostgresSettlementStore
from exchange_ledger.app.ports import RecordCursor
from exchange_ledger.domain.adjustment import parse_adjustment
from exchange_ledger.domain.inbound import Source
from exchange_ledger.domain.rejection import Rejection
from exchange_ledger.testing import CoreEvents, Record, scripted_market

DSN = os.environ.get("LEDGER_DATABASE_URL", "postgresql://exchange:exchange@127.0.0.1:5432/exchange")
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
SCALES = {"BTC": 8, "ETH": 8, "USDT": 8}


class LagRecorder:
    def __init__(self) -> None:
        self.values: list[float] = []

    def observe(self, value: float) -> None:
        self.values.append(value)


class Bench:
    def __init__(self, batch_max: int) -> None:
        self.schema = f"ledger_bench_{uuid.uuid4().hex[:8]}"
        migrate(DSN, self.schema)
        self.pool = open_pool(DSN, self.schema, max_size=4)
        self.scales = register_assets(self.pool.connection, SCALES)
        self.backends: set[int] = set()  # PostgreSQL backend pids that did settlement work
        self.store = PostgresSettlementStore(self.connection, self.scales)
        self.batch_max = batch_max
        self.group = f"bench-{uuid.uuid4().hex[:6]}"  # one group: offsets carry over phases
        suffix = uuid.uuid4().hex[:8]
        self.topics = {"core.order-events.v1": f"bench.orders.{suffix}",
                       "core.trade-events.v1": f"bench.trades.{suffix}"}
        ensure_topics(BOOTSTRAP, list(self.topics.values()), partitions=3,
                      config={"retention.ms": "-1"})
        adjustments = AdjustmentStore(self.pool.connection, self.scales)
        for i in range(20):
            for asset, amount in (("BTC", "1000000"), ("ETH", "1000000"), ("USDT", "1000000000")):
                adj = parse_adjustment(adjustment_id=f"fund-{i}-{asset}", owner=f"acct-{i}",
                                       asset=asset, delta=amount, kind="deposit",
                                       reason="bench", scales=self.scales)
                if isinstance(adj, Rejection) or isinstance(adjustments.apply(adj, "bench"),
                                                            Rejection):
                    raise SystemExit("funding failed")

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection whose server process is remembered (its CPU is measured)."""
        with self.pool.connection() as conn:
            self.backends.add(conn.info.backend_pid)
            yield conn

    def produce(self, records: list[Record], rate_per_s: float | None = None) -> None:
        producer = Producer({**producer_config(BOOTSTRAP), "linger.ms": 5})
        started = time.perf_counter()
        for i, r in enumerate(records):
            while True:
                try:
                    producer.produce(self.topics[r.topic], key=r.key, value=r.value)
                    break
                except BufferError:  # local queue full: let deliveries drain
                    producer.poll(0.05)
            if i % 1000 == 0:
                producer.poll(0)
                if rate_per_s:
                    ahead = i / rate_per_s - (time.perf_counter() - started)
                    if ahead > 0:
                        time.sleep(ahead)
        if producer.flush(60) != 0:
            raise SystemExit("produce failed")

    def count(self, query: str) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(query.encode()).fetchone()
        return int(row[0]) if row else 0

    def consume_until(self, applied: int, lag: LagRecorder | None = None) -> float:
        """Run the consumer until it has applied ``applied`` events (read from its metrics,
        so the wait itself puts no load on the database)."""
        metrics = LedgerMetrics()
        if lag is not None:
            metrics.lag = lag  # type: ignore[assignment]
        consumer = SettlementConsumer(
            bootstrap=BOOTSTRAP, group=self.group, store=self.store,
            connect=self.connection, scales=self.scales, metrics=metrics,
            order_topic=self.topics["core.order-events.v1"],
            trade_topic=self.topics["core.trade-events.v1"], batch_max=self.batch_max)
        stop = threading.Event()
        thread = threading.Thread(target=consumer.run, args=(stop,),
                                  kwargs={"manual_assignment": True})
        started = time.perf_counter()
        thread.start()
        consumer.ready.wait(30)
        ready_at = time.perf_counter()
        counter = metrics.events.labels("applied")
        while counter._value.get() < applied:
            time.sleep(0.01)
        elapsed = time.perf_counter() - ready_at
        stop.set()
        thread.join()
        del started
        return elapsed

    def check(self) -> tuple[bool, float, int]:
        report = InvariantChecker(self.pool.connection).check()
        return report.ok, report.elapsed_ms, report.postings

    def close(self) -> None:
        AdminClient({"bootstrap.servers": BOOTSTRAP}).delete_topics(list(self.topics.values()))
        self.pool.close()
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {self.schema} CASCADE".encode())


def markets(n_trades: int, first_seq: int, prefix: str) -> tuple[list[Record], list[Record]]:
    half = n_trades // 2
    orders: list[Record] = []
    trades: list[Record] = []
    for symbol, base in (("BTC-USDT", "BTC"), ("ETH-USDT", "ETH")):
        o, t = scripted_market(half, market=CoreEvents(symbol, base, "USDT"),
                               first_seq=first_seq, prefix=f"{prefix}{base}")
        orders += o
        trades += t
    return orders, trades


def postgres_ticks() -> dict[int, int]:
    """CPU clock ticks used so far by each postgres process on this machine (the stack is
    shared: other engineers' tests use the same server)."""
    ticks: dict[int, int] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as comm:
                if not comm.read().startswith("postgres"):
                    continue
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            ticks[int(pid)] = int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return ticks


def postgres_cpu_us(before: dict[int, int], after: dict[int, int], n: int,
                    pids: set[int] | None = None) -> float:
    """CPU µs per item between two snapshots: of ``pids`` only, or of every process."""
    keys = after.keys() if pids is None else pids & after.keys()
    ticks = sum(after[p] - before.get(p, 0) for p in keys)
    return ticks / os.sysconf("SC_CLK_TCK") / n * 1e6


def machine_idle_fraction(sample: Callable[[], None]) -> float:
    def read() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        return sum(values), values[3] + values[4]

    total0, idle0 = read()
    sample()
    total1, idle1 = read()
    return (idle1 - idle0) / max(1, total1 - total0)


def batched_phase(bench: Bench, n_trades: int) -> dict[str, float]:
    orders, trades = markets(n_trades, 1, "a")
    bench.produce(orders)
    n_orders = len(orders)
    orders_s = bench.consume_until(n_orders)
    bench.produce(trades)
    cpu0, pg0 = time.process_time(), postgres_ticks()
    holder: dict[str, float] = {}
    idle = machine_idle_fraction(lambda: holder.update(s=bench.consume_until(n_trades)))
    cpu1, pg1 = time.process_time(), postgres_ticks()
    ok, _, _ = bench.check()
    return {"trades": n_trades, "trades_per_s": n_trades / holder["s"],
            "order_events_per_s": n_orders / orders_s, "invariants_ok": ok,
            "python_us": (cpu1 - cpu0) / n_trades * 1e6,
            "pg_us": postgres_cpu_us(pg0, pg1, n_trades),
            "pg_own_us": postgres_cpu_us(pg0, pg1, n_trades, bench.backends),
            "idle": idle, "load1": os.getloadavg()[0]}


def naive_phase(bench: Bench, n_trades: int) -> dict[str, float]:
    orders, trades = markets(n_trades, 10_000_000, "n")
    for start in range(0, len(orders), 2000):
        events = [decode_record(r.topic, r.value, Source(r.topic), bench.scales)
                  for r in orders[start:start + 2000]]
        bench.store.settle(events, None)
    started = time.perf_counter()
    with bench.pool.connection() as conn:
        conn.execute("INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)"
                     " VALUES ('naive', 'naive', 0, 0)")
    for i, r in enumerate(trades):  # one transaction per trade, its offset row included
        event = decode_record(r.topic, r.value, Source(r.topic, 0, i), bench.scales)
        bench.store.settle([event], RecordCursor("naive", {("naive", 0): i}, [("naive", 0, i)]))
    elapsed = time.perf_counter() - started
    ok, _, _ = bench.check()
    return {"trades": n_trades, "trades_per_s": n_trades / elapsed, "invariants_ok": ok}


def steady_phase(bench: Bench, n_trades: int, rate: float) -> dict[str, float]:
    orders, trades = markets(n_trades, 20_000_000, "s")
    bench.produce(orders)
    bench.consume_until(len(orders))
    lag = LagRecorder()
    producer = threading.Thread(target=bench.produce, args=(trades, rate))
    holder: dict[str, float] = {}

    def consume() -> None:
        holder["s"] = bench.consume_until(n_trades, lag)

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(2)
    producer.start()
    producer.join()
    consumer.join()
    trade_lags = sorted(lag.values)  # the trade records of the phase (orders settled before)
    ok, _, _ = bench.check()
    return {"rate_per_s": rate, "p50_ms": statistics.median(trade_lags) * 1000,
            "p99_ms": trade_lags[int(len(trade_lags) * 0.99) - 1] * 1000,
            "max_ms": trade_lags[-1] * 1000, "invariants_ok": ok}


def invariant_at_scale(bench: Bench, postings_target: int) -> dict[str, float]:
    """Pad the journal to >= postings_target postings with balanced entries (SQL), then time
    the full invariant check."""
    have = bench.count("SELECT count(*) FROM postings")
    entries = max(0, (postings_target - have) // 2)
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {bench.schema}".encode())
        with conn.transaction():
            conn.execute(
                "INSERT INTO journal_entries (entry_id, kind, ref, posting_count)"
                " SELECT 100000000 + g, 'adjustment', 'pad' || g, 2"
                " FROM generate_series(1, %s) g", (entries,))
            conn.execute(
                "INSERT INTO postings (entry_id, leg, owner, asset, kind, units)"
                " SELECT 100000000 + g, l, CASE l WHEN 0 THEN 'acct-' || (g %% 20)"
                " ELSE '@treasury' END, 'BTC', CASE l WHEN 0 THEN 'available' ELSE"
                " 'external' END, CASE l WHEN 0 THEN 1 ELSE -1 END"
                " FROM generate_series(1, %s) g, generate_series(0, 1) l", (entries,))
        conn.execute("ANALYZE")
    InvariantChecker(bench.pool.connection).rebuild_balances("bench", repair=True)
    ok, elapsed_ms, postings = bench.check()
    return {"postings": postings, "check_ms": elapsed_ms, "invariants_ok": ok}


def print_batched(args: argparse.Namespace, batched: dict[str, float],
                  load_before: tuple[float, float, float]) -> None:
    print(f"machine: {platform.node()} {platform.machine()} cpus={os.cpu_count()} "
          f"python={platform.python_version()} PostgreSQL+Kafka on loopback (shared stack)")
    print(f"settings: batch_max={args.batch_max}, 3 partitions/topic, 2 symbols, 20 accounts,"
          f" manual assignment")
    print(f"load average (1/5/15 min) at start: {' / '.join(f'{v:.2f}' for v in load_before)};"
          f" after the batched phase: {batched['load1']:.2f}")
    print()
    print("| mode | trades | trades/s | invariants |")
    print("|---|---:|---:|---|")
    print(f"| batched (1 tx per batch, COPY) | {batched['trades']} |"
          f" {batched['trades_per_s']:,.0f} | {'ok' if batched['invariants_ok'] else 'FAIL'} |")
    print(f"\nbatched CPU per trade: ledger process {batched['python_us']:.0f} us (incl."
          f" librdkafka threads), postgres {batched['pg_own_us']:.0f} us (the ledger's"
          f" backends; {batched['pg_us']:.0f} us all postgres processes, incl. WAL writer,"
          f" checkpointer and other users'); machine idle during the phase:"
          f" {batched['idle'] * 100:.0f}%")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trades", type=int, default=40_000)
    parser.add_argument("--naive-trades", type=int, default=2_000)
    parser.add_argument("--steady-trades", type=int, default=20_000)
    parser.add_argument("--steady-rate", type=float, default=3_000)
    parser.add_argument("--batch-max", type=int, default=5_000)
    parser.add_argument("--postings", type=int, default=1_000_000)
    parser.add_argument("--batched-only", action="store_true",
                        help="run only the batched phase (quick CPU/throughput check)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    bench = Bench(args.batch_max)
    try:
        batched = batched_phase(bench, args.trades)
        if args.batched_only:
            print_batched(args, batched, load_before)
            return
        naive = naive_phase(bench, args.naive_trades)
        steady = steady_phase(bench, args.steady_trades, args.steady_rate)
        scale = invariant_at_scale(bench, args.postings)
    finally:
        bench.close()
    print_batched(args, batched, load_before)
    print(f"naive (1 tx per trade): {naive['trades']} trades, {naive['trades_per_s']:,.0f}"
          f" trades/s (invariants {'ok' if naive['invariants_ok'] else 'FAIL'})")
    print(f"order events (accept/filled) settled: {batched['order_events_per_s']:,.0f} events/s")
    print(f"steady {steady['rate_per_s']:,.0f} trades/s: lag p50 {steady['p50_ms']:.0f} ms,"
          f" p99 {steady['p99_ms']:.0f} ms, max {steady['max_ms']:.0f} ms"
          f" (invariants {'ok' if steady['invariants_ok'] else 'FAIL'})")
    print(f"invariant check on {scale['postings']:,} postings: {scale['check_ms']:,.0f} ms"
          f" ({'ok' if scale['invariants_ok'] else 'FAIL'})")


if __name__ == "__main__":
    main()
