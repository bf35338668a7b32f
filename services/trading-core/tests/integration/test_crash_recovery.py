"""kill -9 under load, many times (and now and then while starting up): nothing
acknowledged is lost, recovery equals a full replay of the WAL, and Kafka holds exactly
the events of durable commands."""

import os
import random
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest
from core_harness import (  # type: ignore[import-not-found]
    CORE_TOPICS,
    batch_load,
    consume_range,
    envelope_of,
    fund,
    high_watermarks,
    stream_load,
)

from exchange.core.v1 import wal_pb2
from exchange.v1 import trading_core_pb2 as pb
from exchange.v1 import trading_core_pb2_grpc as pb_grpc
from exchange.v1.events_pb2 import TradeEvent
from exchange_core.adapters.market_config import load_markets
from exchange_core.adapters.wal_journal import replay_input
from exchange_core.adapters.wal_reader import read_entries, read_events
from exchange_core.app.replay import replay
from exchange_core.domain import Engine

# A long loop of real restarts: its own bound, above the suite's 300 s per test.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]

CYCLES = int(os.environ.get("CORE_CRASH_CYCLES", "50"))


class UninterruptedReplay:
    """One engine that replays the WAL from seq 1 and never restarts: after each kill it
    continues with the entries the dead core added. Only torn (incomplete) frames are ever
    cut from the WAL, and those are never replayed, so this is the state a core that was
    never interrupted would have."""

    def __init__(self, data_dir: Path, markets: Path) -> None:
        self.wal = data_dir / "wal"
        self.engine = Engine(load_markets(markets))
        self.seq = 0

    def catch_up(self) -> tuple[int, str]:
        engine = self.engine
        if not self.wal.exists():  # before the first start
            return self.seq, engine.state_hash()
        outcome = replay(engine, replay_input(self.wal, lambda: engine, self.seq, {}, [0]),
                         after_seq=self.seq)
        self.seq = outcome.last_seq
        return self.seq, engine.state_hash()


def _check_acked_present(port: int, symbol: str, acks: list[Any]) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.TradingCoreStub(channel)
        for ack in acks:
            if not ack.accepted:
                continue
            found = stub.GetOrder(pb.GetOrderRequest(
                symbol=symbol, account_id=ack.account_id, order_id=ack.order_id))
            assert found.found, f"acknowledged order {ack.client_order_id} lost"
            assert found.order.client_order_id == ack.client_order_id
            assert Decimal(found.order.filled_quantity) >= Decimal(ack.filled_quantity)


def _load_until_killed(core: Any, market: Any, cycle: int, rng: random.Random) -> list[Any]:
    stop = threading.Event()
    results: list[list[Any]] = [[], []]

    def worker(index: int) -> None:  # one client per RPC: the stream and the batches
        load = stream_load if index == 0 else batch_load
        results[index] = load(core.grpc_port, market, f"c{cycle}w{index}",
                              seed=cycle * 10 + index, stop=stop)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    threading.Event().wait(rng.uniform(0.15, 1.0))
    core.kill9()  # the random instant: mid-batch, mid-fsync, mid-snapshot, mid-publish
    stop.set()
    for thread in threads:
        thread.join(30)
    return results[0] + results[1]


def test_kill_9_under_load_loses_nothing_acknowledged(
    core_factory: Any, market: Any, kafka_bootstrap: str
) -> None:
    start_marks = high_watermarks(kafka_bootstrap, tuple(str(t) for t in CORE_TOPICS))
    deposits = fund(kafka_bootstrap, market)
    core = core_factory(market, CORE_SNAPSHOT_EVERY_COMMANDS="500",
                        CORE_CHECKPOINT_EVERY_COMMANDS="100", CORE_WAL_SEGMENT_BYTES="262144",
                        CORE_WAL_PRUNE="false")
    markets = Path(core.env["CORE_MARKETS_FILE"])
    rng = random.Random(int(market.run, 16))
    all_acks: list[Any] = []
    previous: list[Any] = []
    uninterrupted = UninterruptedReplay(core.data_dir, markets)
    for cycle in range(CYCLES):
        expected = uninterrupted.catch_up()
        if cycle % 5 == 4:  # also killed while starting: recovering, repairing, opening
            core.start()
            threading.Event().wait(rng.uniform(0.0, 0.6))
            core.kill9()
        core.start()
        core.wait_serving()
        report = core.recovery()
        assert (report["seq"], report["state_hash"]) == expected, f"cycle {cycle}"
        _check_acked_present(core.grpc_port, market.symbol, previous)
        while core.metric("core_durable_seq") < deposits:
            threading.Event().wait(0.05)
        previous = _load_until_killed(core, market, cycle, rng)
        all_acks += previous
    assert sum(1 for a in all_acks if a.accepted) > CYCLES * 20, "too little load to mean much"

    # Final: recover once more, check everything ever acknowledged, stop cleanly (drain).
    core.start()
    core.wait_serving()
    _check_acked_present(core.grpc_port, market.symbol, all_acks)
    assert core.terminate() == 0
    wal = core.data_dir / "wal"
    logged_ids = {e.place_order.client_order_id for e in read_entries(wal)
                  if isinstance(e, wal_pb2.SequencedCommand)}
    assert {a.client_order_id for a in all_acks if a.seq} <= logged_ids
    # Every logged command has its events record (a kill never leaves one without).
    commands = [e.seq for e in read_entries(wal) if isinstance(e, wal_pb2.SequencedCommand)]
    assert commands == list(range(1, len(commands) + 1))
    assert [rec.seq for rec in read_events(wal)] == commands
    wal_events = {ev.event_id: (ev.topic, ev.payload) for rec in read_events(wal)
                  for ev in rec.events}
    acked_trades = {t for a in all_acks for t in a.trade_ids}
    shard = core.env["CORE_SHARD_ID"]
    on_kafka: dict[str, bytes] = {}
    for topic, payload in consume_range(kafka_bootstrap, start_marks):
        envelope = envelope_of(topic, payload)
        if not envelope.causation_id.startswith(f"{shard}:"):
            continue  # another test's events on the shared topics
        assert envelope.event_id in wal_events, f"{envelope.event_id} is on Kafka, not durable"
        assert wal_events[envelope.event_id] == (topic, payload)
        on_kafka[envelope.event_id] = payload
    assert set(on_kafka) == set(wal_events), "the outbox left a gap"
    traded = {TradeEvent.FromString(payload).trade.trade_id
              for topic, payload in wal_events.values() if topic == "core.trade-events.v1"}
    assert acked_trades and acked_trades <= traded
