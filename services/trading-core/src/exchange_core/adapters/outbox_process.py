"""The outbox in its own process: Kafka publishing off the command process's GIL.

``trading-core serve`` spawns and supervises it; nothing else starts it. The child runs the
same ``Outbox`` (WAL tailer + producer rounds + cursor file) as the thread did. What it
needs of the parent crosses through a small shared-memory array of int64 slots, written
by one side each:

- parent -> child: the durable seq (set after each fsync: the child never reads past it,
  so nothing is published before the fsync that holds it), the fence deadline (the
  lease's validity end on the system-wide monotonic clock: past it, the child stops
  publishing, as the thread did when ``is_valid()`` turned false), stop + drain timeout.
- child -> parent: the acknowledged cursor, the persisted cursor (the housekeeper prunes
  only below it), events published, delivery failures (for the metrics).

The cursor file and its semantics are unchanged: persisted after the broker's acks,
duplicates with the same event_id after a restart, never a gap. The child dies with its
parent (PR_SET_PDEATHSIG, plus a parent-pid check), and a child that dies on its own is
started again by the parent (at most once a second) from the persisted cursor.
"""

import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, NamedTuple

from exchange_core.adapters.cursor_file import CursorFile
from exchange_core.adapters.outbox import Outbox, OutboxObserver

log = logging.getLogger(__name__)

# Slots of the shared array.
DURABLE, FENCE_NS, CURSOR, PERSISTED, EVENTS, FAILURES, STOP, DRAIN_MS = range(8)
_SLOTS = 8
_PR_SET_PDEATHSIG = 1
_RELAY_PERIOD_S = 0.02
_RESTART_BACKOFF_S = 1.0

SharedSlots = Any  # a multiprocessing RawArray of int64 (ctypes; untyped in the stubs)


def monotonic_deadline_ns(seconds: float) -> int:
    """A ``time.monotonic()`` instant as int ns (CLOCK_MONOTONIC is system-wide)."""
    return int(seconds * 1e9)


class _SharedCursorFile(CursorFile):
    """The cursor file that also tells the parent what is persisted."""

    def __init__(self, path: Path, slots: SharedSlots) -> None:
        super().__init__(path)
        self._slots = slots

    def store(self, value: int) -> None:
        super().store(value)
        self._slots[PERSISTED] = value


class _SharedObserver:
    def __init__(self, slots: SharedSlots) -> None:
        self._slots = slots

    def published(self, events: int, cursor: int) -> None:
        self._slots[EVENTS] += events
        self._slots[CURSOR] = cursor

    def delivery_failed(self, reason: str) -> None:
        self._slots[FAILURES] += 1

    def lag(self, commands: int) -> None:
        """Computed by the parent (it knows the durable seq first)."""


def _die_with_parent(parent_pid: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)


class OutboxSpec(NamedTuple):
    """What the child is started with (pickled to it)."""

    wal_dir: Path
    cursor_path: Path
    kafka_config: dict[str, Any]
    batch_records: int
    nice: int = 0


def child_main(slots: SharedSlots, parent_pid: int, spec: OutboxSpec) -> None:
    """The outbox process: publish until told to stop, the fence expires or the parent
    is gone."""
    _die_with_parent(parent_pid)
    if spec.nice > 0:
        # Background work: publishing may lag by milliseconds, the command path must not
        # (the child otherwise takes the core the loop thread wakes up on after an fsync).
        os.nice(spec.nice)
    kafka_config = spec.kafka_config
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s[outbox]: %(message)s")
    from confluent_kafka import Producer  # noqa: PLC0415 - only the child needs librdkafka

    outbox = Outbox(
        spec.wal_dir, _SharedCursorFile(spec.cursor_path, slots),
        lambda on_delivery: Producer(kafka_config | {"on_delivery": on_delivery}),
        lambda: int(slots[DURABLE]),
        is_fence_valid=lambda: time.monotonic_ns() < slots[FENCE_NS],
        observer=_SharedObserver(slots), batch_records=spec.batch_records,
        idle_wait_s=0.005)
    outbox.start()
    while not slots[STOP]:
        if os.getppid() != parent_pid:
            os._exit(0)  # orphaned: publish nothing more (the next leader resumes)
        time.sleep(0.02)
    outbox.stop(slots[DRAIN_MS] / 1000)


class OutboxProcess:
    """The parent's handle: ``durable(seq)`` after each fsync, ``cursor`` (persisted),
    ``stop(drain_timeout_s)``; a relay thread renews the fence and feeds the metrics."""

    def __init__(
        self,
        wal_dir: Path,
        cursor_path: Path,
        kafka_config: dict[str, Any],
        *,
        durable_seq: int,
        fence_until: Callable[[], float],
        observer: OutboxObserver | None = None,
        batch_records: int = 2_000,
        nice: int = 0,
    ) -> None:
        self._context = multiprocessing.get_context("spawn")  # the parent runs threads
        self._slots: SharedSlots = self._context.RawArray(ctypes.c_int64, _SLOTS)
        start_cursor = CursorFile(cursor_path).load()
        self._slots[CURSOR] = self._slots[PERSISTED] = start_cursor
        self._slots[DURABLE] = durable_seq
        self._spec = OutboxSpec(wal_dir, cursor_path, kafka_config, batch_records, nice)
        self._fence_until = fence_until
        self._observer = observer
        self._stopping = threading.Event()
        self._relay = threading.Thread(target=self._run_relay, name="outbox-relay",
                                       daemon=True)
        self._child: BaseProcess | None = None
        self._seen_events = self._seen_failures = 0
        self._renew_fence()

    @property
    def cursor(self) -> int:
        """Highest seq whose events are acknowledged and whose cursor is on disk."""
        return int(self._slots[PERSISTED])

    @property
    def acked_cursor(self) -> int:
        return int(self._slots[CURSOR])

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def start(self) -> None:
        self._spawn()
        self._relay.start()

    def durable(self, seq: int) -> None:
        """Records up to ``seq`` are fsync'd (called by the WAL writer; one store)."""
        self._slots[DURABLE] = seq

    def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Let the child drain (bounded) and persist its cursor, then wait for it."""
        self._stopping.set()
        self._slots[DRAIN_MS] = int(drain_timeout_s * 1000)
        self._slots[STOP] = 1
        child = self._child
        if child is not None:
            child.join(drain_timeout_s + 5)
            if child.is_alive():
                log.error("outbox process did not stop in time; killing it")
                child.kill()
                child.join()
        self._relay.join(1.0)
        self._publish_metrics()

    def _spawn(self) -> None:
        child = self._context.Process(
            target=child_main, args=(self._slots, os.getpid(), self._spec),
            name="outbox", daemon=True)
        child.start()
        self._child = child
        log.info("outbox process started (pid %s) from seq %d", child.pid,
                 self._slots[PERSISTED])

    def _renew_fence(self) -> None:
        self._slots[FENCE_NS] = monotonic_deadline_ns(self._fence_until())

    def _run_relay(self) -> None:
        last_restart = time.monotonic()
        while not self._stopping.wait(_RELAY_PERIOD_S):
            self._renew_fence()
            self._publish_metrics()
            child = self._child
            dead = child is not None and not child.is_alive()
            if (child is not None and dead and not self._stopping.is_set()
                    and time.monotonic() - last_restart >= _RESTART_BACKOFF_S):
                log.error("outbox process exited (code %s); starting it again from "
                          "seq %d", child.exitcode, self._slots[PERSISTED])
                child.join()
                self._spawn()
                last_restart = time.monotonic()

    def _publish_metrics(self) -> None:
        observer = self._observer
        if observer is None:
            return
        events, failures = int(self._slots[EVENTS]), int(self._slots[FAILURES])
        cursor = int(self._slots[CURSOR])
        if events != self._seen_events:
            observer.published(events - self._seen_events, cursor)
            self._seen_events = events
        for _ in range(failures - self._seen_failures):
            observer.delivery_failed("see the outbox process log")
        self._seen_failures = failures
        observer.lag(int(self._slots[DURABLE]) - cursor)
