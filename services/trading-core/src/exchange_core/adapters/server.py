"""The `serve` process: standby until the lease is ours, recover, lead, shut down cleanly.

Threads: the event loop (gRPC + the sequencer), wal-writer (group commit), housekeeper
(snapshots, S3 archive, pruning), lease-keeper (Redis), balance-feed (Kafka consumer),
outbox-relay. The outbox (Kafka publishing from the WAL) is a child process that serve
spawns and supervises (adapters/outbox_process.py). Only the loop touches the engine.
"""

import asyncio
import contextlib
import fcntl
import gc
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from exchange.v1 import trading_core_pb2_grpc
from exchange_common.kafka import producer_config
from exchange_core.adapters.archive import Archive, make_s3_client
from exchange_core.adapters.balance_feed import BalanceFeed
from exchange_core.adapters.batch_service import TradingCoreBatchService, add_batch_service
from exchange_core.adapters.event_mapping import EventMapper
from exchange_core.adapters.grpc_service import TradingCoreService
from exchange_core.adapters.housekeeper import Housekeeper
from exchange_core.adapters.leader_lease import RedisLease
from exchange_core.adapters.market_config import load_markets
from exchange_core.adapters.metrics import CoreMetrics
from exchange_core.adapters.outbox_process import OutboxProcess
from exchange_core.adapters.recovery import Recovered, recover
from exchange_core.adapters.snapshot_store import SnapshotStore
from exchange_core.adapters.wal_journal import WalJournal
from exchange_core.adapters.wal_segment import WalCorruptionError
from exchange_core.adapters.wal_writer import WalWriter
from exchange_core.app.core_node import CoreNode
from exchange_core.app.durability import DurabilityGate
from exchange_core.app.replay import DivergenceError
from exchange_core.app.sequencer import Sequencer, SnapshotPolicy
from exchange_core.config import Settings

log = logging.getLogger("exchange_core.server")
SERVICE_NAME = "exchange.v1.TradingCore"
EXIT_FENCED = 3
EXIT_UNRECOVERABLE = 4


@dataclass
class Running:
    """What a leader runs; stopped in reverse order."""

    node: CoreNode
    writer: WalWriter
    housekeeper: Housekeeper
    outbox: OutboxProcess | None
    feed: BalanceFeed | None
    extras: list[Any] = field(default_factory=list)


def _call_on(loop: asyncio.AbstractEventLoop, fn: Callable[[str], None], arg: str) -> None:
    """Run ``fn(arg)`` on the loop thread (from any thread)."""
    loop.call_soon_threadsafe(fn, arg)


def _lock_data_dir(settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(settings.data_dir / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RuntimeError(f"{settings.data_dir} is used by another core process") from None
    return fd


def _write_recovery_report(settings: Settings, rec: Recovered, epoch: int) -> None:
    report = {"seq": rec.last_seq, "state_hash": rec.state_hash, "epoch": epoch,
              "snapshot_seq": rec.snapshot_seq, "replayed": rec.replayed,
              "seconds": round(rec.seconds, 4), "pid": os.getpid()}
    temp = settings.data_dir / "recovery.json.tmp"
    temp.write_text(json.dumps(report))
    os.rename(temp, settings.data_dir / "recovery.json")


def _start_leader(
    *, settings: Settings, rec: Recovered, epoch: int, lease: RedisLease, metrics: CoreMetrics,
    loop: asyncio.AbstractEventLoop, fatal: asyncio.Event,
) -> tuple[Running, EventMapper]:
    engine = rec.engine
    gate = DurabilityGate(loop, rec.last_seq)
    outbox_ref: list[OutboxProcess] = []

    def on_durable(seq: int) -> None:
        loop.call_soon_threadsafe(gate.release, seq)
        metrics.durable_seq.set(seq)
        if outbox_ref:
            outbox_ref[0].durable(seq)

    def on_fatal(reason: str) -> None:
        log.error("stepping down: %s", reason)
        fatal.set()

    node_ref: list[CoreNode] = []
    writer = WalWriter(
        settings.wal_dir, shard_id=settings.shard_id, next_seq=rec.last_seq + 1, epoch=epoch,
        on_durable=on_durable, is_fence_valid=lease.is_valid,
        on_stop=lambda reason: _call_on(loop, node_ref[0].fatal, reason),
        observe_fsync=metrics.observe_fsync, segment_max_bytes=settings.wal_segment_bytes,
        preallocate=settings.wal_preallocate,
    )
    mapper = EventMapper(engine, settings.shard_id)
    positions = dict(rec.balance_positions)
    archive = None
    if settings.s3_archive_enabled:
        archive = Archive(
            make_s3_client(settings.s3_endpoint, settings.s3_access_key,
                           settings.s3_secret_key.reveal()),
            shard_id=settings.shard_id, wal_bucket=settings.wal_bucket,
            snapshot_bucket=settings.snapshot_bucket,
            manifest=settings.data_dir / "archived.txt")
    outbox = None
    if settings.outbox_enabled:
        outbox = OutboxProcess(
            settings.wal_dir, settings.outbox_cursor_path,
            # Events are published after their fsync, off the reply path: a longer
            # linger makes bigger Kafka batches (less CPU in librdkafka and the broker).
            producer_config(settings.kafka_bootstrap) | {
                "linger.ms": 20, "queue.buffering.max.messages": 500_000,
                "delivery.report.only.error": True},
            durable_seq=rec.last_seq, fence_until=lease.valid_until, observer=metrics,
            nice=settings.outbox_nice)
        outbox_ref.append(outbox)
    housekeeper = Housekeeper(
        shard_id=settings.shard_id, store=SnapshotStore(settings.snapshot_dir),
        wal_dir=settings.wal_dir, durable_seq=lambda: writer.durable_seq,
        balance_positions=lambda: dict(positions),
        outbox_cursor=(lambda: outbox.cursor) if outbox is not None else lambda: None,
        archive=archive, snapshots_kept=settings.snapshots_kept, prune_wal=settings.wal_prune,
        observe_write=metrics.snapshot_seconds.observe, fork_writer=settings.snapshot_fork)
    sequencer = Sequencer(
        engine, WalJournal(writer, mapper), epoch=epoch, next_seq=rec.last_seq + 1,
        checkpoint_every=settings.checkpoint_every_commands,
        snapshots=SnapshotPolicy(housekeeper, settings.snapshot_every_commands,
                                 settings.snapshot_every_seconds))
    node = CoreNode(engine, sequencer, gate, max_in_flight=settings.max_in_flight_commands,
                    balance_positions=positions, on_fatal=on_fatal)
    node_ref.append(node)
    feed = None
    if settings.balance_feed_enabled:
        feed = BalanceFeed(bootstrap=settings.kafka_bootstrap, topic=settings.balance_topic,
                           shard_id=settings.shard_id, node=node, loop=loop, positions=positions,
                           on_error=lambda reason: _call_on(loop, node.fatal, reason),
                           on_skipped=metrics.balance_event_skipped)
    writer.start()
    housekeeper.start()
    if outbox is not None:
        outbox.start()
    if feed is not None:
        feed.start()
    return Running(node, writer, housekeeper, outbox, feed), mapper


async def _drain(running: Running, timeout_s: float = 10.0) -> None:
    """Graceful stop: no new commands, in-flight ones durable, final snapshot."""
    node = running.node
    node.stop_accepting("shutting down")
    if running.feed is not None:
        await asyncio.to_thread(running.feed.stop)
    deadline = time.monotonic() + timeout_s
    while node.gate.waiting and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    while running.housekeeper.busy() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)  # a periodic snapshot still being written
    if not node.sequencer.snapshot_now():
        log.warning("no final snapshot at seq %d (the previous one is still being "
                    "written); recovery replays the WAL tail", node.sequencer.last_seq)
    await asyncio.to_thread(running.writer.close)
    await asyncio.to_thread(running.housekeeper.stop)
    if running.outbox is not None:
        await asyncio.to_thread(running.outbox.stop)


async def serve(settings: Settings) -> int:
    sys.setswitchinterval(0.001)  # the loop must not wait 5 ms for the GIL behind a thread
    loop = asyncio.get_running_loop()
    metrics = CoreMetrics()
    metrics.serve(settings.metrics_port)
    service = TradingCoreService()
    health = HealthServicer()
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    trading_core_pb2_grpc.add_TradingCoreServicer_to_server(service, server)
    add_batch_service(TradingCoreBatchService(service), server)
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
    await server.start()
    await _set_health(health, health_pb2.HealthCheckResponse.NOT_SERVING)  # standby
    stop, fatal, stop_flag = asyncio.Event(), asyncio.Event(), threading.Event()

    def on_signal() -> None:
        stop.set()
        stop_flag.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    lease = RedisLease(redis.Redis.from_url(settings.redis_url), settings.shard_id,
                       ttl_ms=settings.lease_ttl_ms)
    log.info("standby: waiting for the leader lease of shard %s", settings.shard_id)
    epoch = await asyncio.to_thread(lease.wait_acquire, stop_flag)
    if not epoch:
        await server.stop(1)
        return 0
    # Renewals start now, before recovery: recovery may outlast a short lease.

    def on_lease_lost() -> None:
        loop.call_soon_threadsafe(fatal.set)

    lease.keep(on_lease_lost)
    code = await _lead(settings=settings, lease=lease, epoch=epoch, metrics=metrics,
                       service=service, health=health, stop=stop, fatal=fatal)
    await server.stop(2)
    return code


async def _set_health(health: HealthServicer, status: int) -> None:
    """The service's status and the server's overall one ("", what a load balancer's
    default check asks) move together: a standby or a stopping node is not SERVING."""
    await health.set(SERVICE_NAME, status)
    await health.set("", status)


def _settle_heap() -> None:
    """After recovery: move the recovered state out of the collector's sight.

    The engine holds millions of long-lived objects; a full collection walks all of them
    (a p99 spike on the command path). Frozen objects are never scanned again, and higher
    thresholds make the young collections rarer while the command path allocates.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


async def _lead(*, settings: Settings, lease: RedisLease, epoch: int, metrics: CoreMetrics,
                service: TradingCoreService, health: HealthServicer, stop: asyncio.Event,
                fatal: asyncio.Event) -> int:
    lock_fd = _lock_data_dir(settings)
    metrics.epoch.set(epoch)
    log.info("leader of shard %s with epoch %d; recovering", settings.shard_id, epoch)
    try:
        rec = await asyncio.to_thread(
            recover, settings.wal_dir, SnapshotStore(settings.snapshot_dir),
            lambda: load_markets(settings.markets_file),
            verify_all=settings.recovery_verify_all)
    except (WalCorruptionError, DivergenceError) as exc:
        # Never serve from a state we cannot vouch for: an operator must look (runbook:
        # `trading-core replay --verify` names the offset / seq).
        log.critical("recovery refused: %s", exc)
        return EXIT_UNRECOVERABLE
    if rec.newest_epoch >= epoch:
        log.error("fenced: the WAL holds epoch %d >= ours %d", rec.newest_epoch, epoch)
        return EXIT_FENCED
    if not lease.is_valid():  # recovery outlived the lease: someone else may lead now
        log.error("lease expired during recovery; standing down")
        return EXIT_FENCED
    metrics.recovery_seconds.set(rec.seconds)
    metrics.durable_seq.set(rec.last_seq)
    metrics.recovered_commands.set(rec.replayed)
    _write_recovery_report(settings, rec, epoch)
    _settle_heap()
    running, mapper = _start_leader(settings=settings, rec=rec, epoch=epoch, lease=lease,
                                    metrics=metrics, loop=asyncio.get_running_loop(),
                                    fatal=fatal)
    service.attach(running.node, mapper)
    await _set_health(health, health_pb2.HealthCheckResponse.SERVING)
    log.info("serving on %s:%d", settings.grpc_host, settings.grpc_port)
    stopped = asyncio.ensure_future(stop.wait())
    failed = asyncio.ensure_future(fatal.wait())
    await asyncio.wait([stopped, failed], return_when=asyncio.FIRST_COMPLETED)
    await _set_health(health, health_pb2.HealthCheckResponse.NOT_SERVING)
    if fatal.is_set():
        running.node.fatal("leader lease lost" if not lease.is_valid() else "stepping down")
        if running.outbox is not None:
            await asyncio.to_thread(running.outbox.stop, 0.5)
        return EXIT_FENCED
    await _drain(running)
    lease.release()
    with contextlib.suppress(OSError):
        os.close(lock_fd)
    log.info("stopped cleanly at seq %d", running.node.sequencer.last_seq)
    return 0
