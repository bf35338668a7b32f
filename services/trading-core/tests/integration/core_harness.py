"""Harness for the core's integration tests: the real `trading-core serve` as a subprocess
against the local stack's Kafka, Redis and S3 (no mocks)."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from confluent_kafka import Consumer, Producer, TopicPartition
from grpc_health.v1 import health_pb2, health_pb2_grpc

from exchange.v1 import events_pb2
from exchange_common.envelope import make_envelope
from exchange_common.kafka import ensure_topics, producer_config
from exchange_common.topics import Topic
from exchange_testkit import Endpoints

CORE_TOPICS = (Topic.CORE_ORDER_EVENTS, Topic.CORE_TRADE_EVENTS, Topic.CORE_BOOK_EVENTS)
_next_port = [52000 + (os.getpid() % 500) * 8]


def free_port() -> int:
    import socket

    while True:
        _next_port[0] += 1
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", _next_port[0]))
            except OSError:
                continue
            return _next_port[0]


def markets_file(directory: Path, symbol: str, base: str) -> Path:
    path = directory / "markets.json"
    path.write_text(json.dumps({
        "assets": [{"code": base, "scale": 8}, {"code": "USDT", "scale": 6}],
        "markets": [{"symbol": symbol, "base": base, "quote": "USDT", "tick_size": "0.01",
                     "lot_size": "0.001", "min_quantity": "0.001", "max_quantity": "1000"}],
        "limits": {"max_open_orders": 1_000_000, "closed_orders_retained": 1_000_000},
    }))
    return path


@dataclass
class Market:
    """A market of its own per test run, so shared topics hold nothing else of ours."""

    run: str
    symbol: str
    base: str
    accounts: list[str]
    balance_topic: str

    @classmethod
    def fresh(cls) -> "Market":
        run = uuid.uuid4().hex[:8]
        base = f"T{run[:6].upper()}"
        return cls(run, f"{base}-USDT", base, [f"{name}-{run}" for name in ("a", "b", "c", "d")],
                   f"test.core-balance-{run}")


@dataclass
class CoreProcess:
    """One `trading-core serve` subprocess."""

    data_dir: Path
    env: dict[str, str]
    log_path: Path
    grpc_port: int
    metrics_port: int
    proc: subprocess.Popen[bytes] | None = None
    starts: int = field(default=0)

    def start(self) -> None:
        self.starts += 1
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        log.write(f"\n===== start {self.starts} =====\n".encode())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exchange_core", "serve"], env=self.env,
            stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def wait_serving(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"core exited with {self.proc.returncode}: {self.tail()}")
            # A fresh channel per probe: a channel that met a closed port backs off for
            # seconds before it tries again.
            if self.is_serving():
                return
            time.sleep(0.05)
        raise AssertionError(f"core not serving after {timeout_s}s: {self.tail()}")

    def is_serving(self, service: str = "exchange.v1.TradingCore") -> bool:
        """Health check of ``service`` ("": the server's overall status)."""
        with grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}") as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=1)
            except grpc.RpcError:
                return False
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout_s: float = 30.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"core did not stop on SIGTERM: {self.tail()}") from None

    def metric(self, name: str) -> float:
        for _ in range(50):  # the side port may still be coming up
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2
                ) as reply:
                    text = reply.read().decode()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"metrics port not answering: {self.tail()}")
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"metric {name} not found")

    def recovery(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.data_dir / "recovery.json").read_text())
        return report

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def core_env(endpoints: Endpoints, market: Market, data_dir: Path, markets: Path, *,
             shard_id: str, grpc_port: int, metrics_port: int, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "CORE_DATA_DIR": str(data_dir), "CORE_MARKETS_FILE": str(markets),
        "CORE_SHARD_ID": shard_id, "CORE_GRPC_PORT": str(grpc_port),
        "CORE_METRICS_PORT": str(metrics_port), "CORE_BALANCE_TOPIC": market.balance_topic,
        "KAFKA_BOOTSTRAP_SERVERS": endpoints.kafka_bootstrap, "REDIS_URL": endpoints.redis_url,
        "S3_ENDPOINT_URL": endpoints.s3_endpoint, "AWS_ACCESS_KEY_ID": endpoints.s3_access_key,
        "AWS_SECRET_ACCESS_KEY": endpoints.s3_secret_key, "CORE_LEASE_TTL_MS": "1500",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def fund(bootstrap: str, market: Market, quote: str = "100000000", base: str = "100000") -> int:
    """Publish deposits for the market's accounts on its private balance topic."""
    ensure_topics(bootstrap, [market.balance_topic], partitions=1)
    producer = Producer(producer_config(bootstrap))
    count = 0
    for account in market.accounts:
        for asset, amount in (("USDT", quote), (market.base, base)):
            count += 1
            adjustment = f"dep-{account}-{asset}"
            event = events_pb2.BalanceEvent(
                envelope=make_envelope(producer="ledger", symbol="", seq=count, index=0,
                                       occurred_at_ns=time.time_ns(), correlation_id="",
                                       causation_id="", epoch=1),
                adjusted=events_pb2.BalanceAdjusted(
                    adjustment_id=adjustment, account_id=account, asset=asset, delta=amount,
                    kind=events_pb2.ADJUSTMENT_KIND_DEPOSIT))
            producer.produce(market.balance_topic, event.SerializeToString(), account.encode())
    if producer.flush(30) != 0:
        raise AssertionError("deposits not acknowledged by Kafka")
    return count


def high_watermarks(bootstrap: str, topics: tuple[str, ...]) -> dict[tuple[str, int], int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4()}"})
    try:
        marks = {}
        for topic in topics:
            for partition in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
                _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                         timeout=10)
                marks[(topic, partition)] = high
        return marks
    finally:
        consumer.close()


def consume_range(bootstrap: str, start: dict[tuple[str, int], int]) -> list[tuple[str, bytes]]:
    """Every record from ``start`` offsets up to the current high watermarks."""
    end = high_watermarks(bootstrap, tuple({t for t, _ in start}))
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{uuid.uuid4()}",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    wanted = {tp: off for tp, off in start.items() if end[tp] > off}
    consumer.assign([TopicPartition(t, p, off) for (t, p), off in wanted.items()])
    records: list[tuple[str, bytes]] = []
    done = {tp for tp in wanted if wanted[tp] >= end[tp]}
    deadline = time.monotonic() + 120
    while len(done) < len(wanted) and time.monotonic() < deadline:
        batch: list[Any] = consumer.consume(1000, timeout=1.0)
        for msg in batch:
            if msg.error():
                continue
            tp = (str(msg.topic()), int(msg.partition()))
            records.append((str(msg.topic()), bytes(msg.value())))
            if msg.offset() + 1 >= end[tp]:
                done.add(tp)
    consumer.close()
    if len(done) < len(wanted):
        raise AssertionError("could not read the topics to their end")
    return records


def envelope_of(topic: str, payload: bytes) -> Any:
    classes: dict[str, Any] = {str(Topic.CORE_ORDER_EVENTS): events_pb2.OrderEvent,
                               str(Topic.CORE_TRADE_EVENTS): events_pb2.TradeEvent,
                               str(Topic.CORE_BOOK_EVENTS): events_pb2.BookEvent}
    return classes[topic].FromString(payload).envelope


@dataclass(frozen=True)
class Ack:
    """A reply the client received: the core promised this is durable."""

    client_order_id: str
    account_id: str
    accepted: bool
    code: int
    order_id: str
    status: int
    filled_quantity: str
    seq: int
    epoch: int
    trade_ids: tuple[str, ...]


def order_request(market: Market, rng: Any, client_order_id: str) -> Any:
    from exchange.v1 import common_pb2
    from exchange.v1 import trading_core_pb2 as pb

    side = rng.choice((common_pb2.SIDE_BUY, common_pb2.SIDE_SELL))
    return pb.PlaceOrderRequest(
        symbol=market.symbol, account_id=rng.choice(market.accounts),
        client_order_id=client_order_id, side=side, order_type=common_pb2.ORDER_TYPE_LIMIT,
        time_in_force=rng.choice((common_pb2.TIME_IN_FORCE_GTC,) * 3
                                 + (common_pb2.TIME_IN_FORCE_IOC,)),
        price=f"{rng.randint(9_900, 10_100) / 100:.2f}",
        quantity=f"{rng.randint(1, 50) / 1000:.3f}")


def _ack(sent: tuple[str, str], reply: Any) -> Ack:
    """The Ack of a PlaceOrderResponse to the order sent as (client_order_id, account)."""
    cid, account = sent
    return Ack(cid, account, reply.accepted, reply.code, reply.order_id, reply.status,
               reply.filled_quantity, reply.seq, reply.epoch,
               tuple(t.trade_id for t in reply.trades))


def stream_load(port: int, market: Market, prefix: str, *, seed: int, stop: Any,
                window: int = 128, max_orders: int = 100_000) -> list[Ack]:
    """Pipelined orders over SubmitStream until ``stop`` is set or the core dies."""
    import random
    import threading

    from exchange.v1 import trading_core_pb2 as pb
    from exchange.v1 import trading_core_pb2_grpc as pb_grpc

    rng = random.Random(seed)
    slots = threading.Semaphore(window)
    sent: dict[int, tuple[str, str]] = {}
    acks: list[Ack] = []

    def requests() -> Iterator[Any]:
        for i in range(1, max_orders + 1):
            while not slots.acquire(timeout=0.05):
                if stop.is_set():
                    return
            if stop.is_set():
                return
            req = order_request(market, rng, f"{prefix}-{i}")
            sent[i] = (req.client_order_id, req.account_id)
            yield pb.SubmitStreamRequest(request_id=i, place_order=req)

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            for reply in pb_grpc.TradingCoreStub(channel).SubmitStream(requests()):
                slots.release()
                acks.append(_ack(sent[reply.request_id], reply.place_order))
        except grpc.RpcError:
            pass  # the core died mid-stream: whatever was not acknowledged is not promised
    return acks


def batch_load(port: int, market: Market, prefix: str, *, seed: int, stop: Any,
               batch: int = 20, in_flight: int = 1, max_orders: int = 100_000) -> list[Ack]:
    """Orders in batches over TradingCoreBatch/SubmitBatches (the high-rate clients' RPC,
    one WAL record per batch) until ``stop`` is set or the core dies."""
    import random
    import threading

    from exchange.core.v1 import trading_core_batch_pb2 as batch_pb
    from exchange.core.v1 import trading_core_batch_pb2_grpc as batch_grpc

    rng = random.Random(seed)
    slots = threading.Semaphore(in_flight)
    sent: dict[int, tuple[str, str]] = {}
    acks: list[Ack] = []

    def requests() -> Iterator[Any]:
        request_id = 0
        while request_id < max_orders:
            while not slots.acquire(timeout=0.05):
                if stop.is_set():
                    return
            if stop.is_set():
                return
            message = batch_pb.SubmitBatchesRequest()
            for _ in range(batch):
                request_id += 1
                req = order_request(market, rng, f"{prefix}-{request_id}")
                sent[request_id] = (req.client_order_id, req.account_id)
                message.commands.add(request_id=request_id, place_order=req)
            yield message

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            for reply in batch_grpc.TradingCoreBatchStub(channel).SubmitBatches(requests()):
                slots.release()
                acks += [_ack(sent[item.request_id], item.place_order)
                         for item in reply.replies]
        except grpc.RpcError:
            pass  # the core died mid-stream: whatever was not acknowledged is not promised
    return acks
