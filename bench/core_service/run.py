"""Benchmark: acknowledged orders/s through the gRPC service with fsync on.

Starts `trading-core serve` on the local stack (Kafka, Redis; S3 archive off), funds a
fresh market through its balance topic, drives it with N client processes (SubmitStream,
W orders in flight each) for D seconds and prints orders/s, p50/p99 latency, fsyncs/s and
the batching factor (commands per fsync), next to the machine and the settings.

    .venv/bin/python bench/core_service/run.py [--clients 2] [--window 256] [--seconds 10]
"""

import argparse
import contextlib
import importlib.util
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))


def _metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        out = {}
        for line in reply.read().decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out


def _fund(bootstrap: str, topic: str, base: str, accounts: list[str]) -> int:
    from confluent_kafka import Producer

    from exchange.v1 import events_pb2
    from exchange_common.envelope import make_envelope
    from exchange_common.kafka import ensure_topics, producer_config

    ensure_topics(bootstrap, [topic], partitions=1)
    producer = Producer(producer_config(bootstrap))
    n = 0
    for account in accounts:
        for asset, amount in (("USDT", "1000000000"), (base, "10000000")):
            n += 1
            event = events_pb2.BalanceEvent(
                envelope=make_envelope(producer="ledger", symbol="", seq=n, index=0,
                                       occurred_at_ns=time.time_ns(), correlation_id="",
                                       causation_id="", epoch=1),
                adjusted=events_pb2.BalanceAdjusted(adjustment_id=f"{account}-{asset}",
                                                    account_id=account, asset=asset,
                                                    delta=amount))
            producer.produce(topic, event.SerializeToString(), account.encode())
    producer.flush(30)
    return n


def _client(args: tuple[Any, ...]) -> dict[str, Any]:
    from load import run_client  # type: ignore[import-not-found]

    result: dict[str, Any] = run_client(args)
    return result


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """Child processes of ``pid`` (the core's outbox process)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that just ended
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _tree_cpu_s(pid: int) -> tuple[float, float]:
    """CPU seconds of the process itself and of its children (0 for one that is gone)."""
    total = 0.0
    for child in _children(pid):
        with contextlib.suppress(OSError):
            total += _cpu_s(child)
    return _cpu_s(pid), total


def _broker_pid() -> int | None:
    """The local Kafka broker (its CPU is part of what an order costs here), if found."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if b"kafka.Kafka" in (entry / "cmdline").read_bytes():
                    return int(entry.name)
    return None


def _cpu_or_zero(pid: int | None) -> float:
    if pid is None:
        return 0.0
    with contextlib.suppress(OSError):
        return _cpu_s(pid)
    return 0.0


def _calibration_ns() -> float:
    """bench/matching's yardstick of the machine's speed at this moment."""
    path = HERE.parent / "matching" / "bench.py"
    spec = importlib.util.spec_from_file_location("matching_bench", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return float(module.calibration_ns())


def _percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--outbox", choices=("on", "off"), default="on")
    parser.add_argument("--port", type=int, default=50591)
    parser.add_argument("--batch", type=int, default=1,
                        help="orders per message: 1 = SubmitStream, >1 = TradingCoreBatch")
    parser.add_argument("--rate", type=float, default=0,
                        help="batch mode: offered orders/s, all clients together, paced "
                             "(latency from each batch's due time); 0 = closed loop")
    parser.add_argument("--max-rate", type=int, default=30_000,
                        help="batch mode: orders/s the pre-generated requests can sustain "
                             "(all clients together)")
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    base, symbol = f"B{run[:6].upper()}", f"B{run[:6].upper()}-USDT"
    accounts = [f"bench-{run}-{i}" for i in range(16)]
    work = Path(tempfile.mkdtemp(prefix="core-bench-"))
    (work / "markets.json").write_text(json.dumps({
        "assets": [{"code": base, "scale": 8}, {"code": "USDT", "scale": 6}],
        "markets": [{"symbol": symbol, "base": base, "quote": "USDT", "tick_size": "0.01",
                     "lot_size": "0.001", "min_quantity": "0.001", "max_quantity": "1000"}],
        "limits": {"max_open_orders": 10_000_000}}))
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    topic = f"bench.core-balance-{run}"
    deposits = _fund(bootstrap, topic, base, accounts)
    metrics_port = args.port + 1
    env = dict(os.environ, CORE_DATA_DIR=str(work / "data"),
               CORE_MARKETS_FILE=str(work / "markets.json"), CORE_SHARD_ID=f"bench-{run}",
               CORE_GRPC_PORT=str(args.port), CORE_METRICS_PORT=str(metrics_port),
               CORE_BALANCE_TOPIC=topic, CORE_S3_ARCHIVE_ENABLED="false",
               CORE_OUTBOX_ENABLED="true" if args.outbox == "on" else "false",
               CORE_CHECKPOINT_EVERY_COMMANDS="100000", CORE_MAX_IN_FLIGHT="100000",
               CORE_SNAPSHOT_EVERY_COMMANDS="10000000",
               CORE_SNAPSHOT_EVERY_SECONDS="3600")
    log = open(work / "core.log", "wb")  # noqa: SIM115
    command = os.environ.get("BENCH_CORE_COMMAND", f"{sys.executable} -m exchange_core serve")
    core = subprocess.Popen(command.split(), env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _metrics(metrics_port).get("core_durable_seq", 0) >= deposits:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"core did not come up; see {work / 'core.log'}")
            time.sleep(0.2)
        calibration_before = _calibration_ns()
        per_client = args.max_rate * args.seconds / args.clients if args.batch > 1 else 0
        start_at = time.time() + 2.0 + per_client * 10e-6  # after the pre-generation
        if args.rate > args.max_rate:
            raise SystemExit("--rate above --max-rate: not enough pre-generated requests")
        jobs = [(args.port, symbol, accounts, args.seconds, args.window, i, 1, args.batch,
                 args.max_rate // args.clients, start_at, args.rate / args.clients)
                for i in range(args.clients)]
        with multiprocessing.get_context("spawn").Pool(args.clients) as pool:
            pending = pool.map_async(_client, jobs)
            time.sleep(max(0.0, start_at - time.time()))
            broker = _broker_pid()
            before, cpu_before, load_before = _metrics(metrics_port), _tree_cpu_s(core.pid), \
                os.getloadavg()
            broker_before = _cpu_or_zero(broker)
            results = pending.get()
        after, cpu_after = _metrics(metrics_port), _tree_cpu_s(core.pid)
        calibration_after = _calibration_ns()
        broker_cpu = _cpu_or_zero(broker) - broker_before
        elapsed = max(r["t_end"] for r in results) - min(r["t_start"] for r in results)
    finally:
        core.terminate()
        core.wait(60)
        log.close()
    latencies = [v for r in results for v in r["latencies_us"]]
    acked = sum(r["acked"] for r in results)
    fsyncs = after["core_wal_fsync_seconds_count"] - before["core_wal_fsync_seconds_count"]
    commands = after["core_commands_total"] - before["core_commands_total"]
    fsync_sum = after["core_wal_fsync_seconds_sum"] - before["core_wal_fsync_seconds_sum"]
    codes: dict[int, int] = {}
    for r in results:
        for code, count in r["codes"].items():
            codes[code] = codes.get(code, 0) + count
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line), "?")
    print(f"machine: {os.cpu_count()} cores, {cpu}, {platform.python_implementation()} "
          f"{platform.python_version()}, {platform.system()} {platform.release()}")
    import exchange_core.adapters  # noqa: F401 - activates the build, sets STATUS
    from exchange_core import compiled

    print(f"core build: {compiled.STATUS} (same environment as the core process)")
    offered = (f"open loop, {args.rate:,.0f} orders/s offered (latency from each batch's "
               "due time)" if args.rate else "closed loop")
    print(f"settings: clients={args.clients} window={args.window} seconds={args.seconds} "
          f"batch={args.batch} {offered}; outbox={args.outbox} fsync=on (fdatasync per "
          f"group commit) "
          f"workload=LIMIT GTC/IOC around one price, 16 accounts, 1 market")
    print(f"VM speed: {calibration_before:.0f} ns per tiny Python call before the run, "
          f"{calibration_after:.0f} after (bench/matching's calibration; ~53-60 when this "
          "VM runs at its usual speed, ~100 in its slow phases)")
    print(f"acked orders: {acked} in {elapsed:.1f}s = {acked / elapsed:,.0f} orders/s "
          f"(reply codes {codes})")
    print(f"latency: p50 {_percentile(latencies, 0.50):.2f} ms  p99 "
          f"{_percentile(latencies, 0.99):.2f} ms  max {max(latencies) / 1000:.2f} ms")
    print(f"fsyncs: {fsyncs:.0f} = {fsyncs / elapsed:,.0f}/s, mean {fsync_sum / fsyncs * 1e3:.2f}"
          f" ms; batching factor {commands / fsyncs:.1f} commands per fsync")
    print(f"outbox lag at end: {after.get('core_outbox_lag_commands', 0):.0f} commands")
    client_cpu, server_cpu = sum(r["cpu_s"] for r in results), cpu_after[0] - cpu_before[0]
    side_cpu = cpu_after[1] - cpu_before[1]
    print(f"CPU: server {server_cpu:.2f}s = {server_cpu / acked * 1e6:.0f}"
          f" us/order ({server_cpu / elapsed:.2f} cores); its child processes (outbox) "
          f"{side_cpu:.2f}s = {side_cpu / acked * 1e6:.0f} us/order ({side_cpu / elapsed:.2f}"
          f" cores); clients {client_cpu:.2f}s"
          f" = {client_cpu / acked * 1e6:.0f} us/order; load average {load_before[0]:.2f} "
          f"(start) {os.getloadavg()[0]:.2f} (end)")
    if broker is not None:
        print(f"CPU: Kafka broker (pid {broker}, shared with everyone) {broker_cpu:.2f}s = "
              f"{broker_cpu / acked * 1e6:.0f} us/order during the run")
    if any(r.get("exhausted") for r in results):
        print("WARNING: a client ran out of pre-generated requests: raise --max-rate")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
