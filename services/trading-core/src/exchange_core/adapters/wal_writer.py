"""The WAL writer: one thread, group commit, segment rotation.

The sequencer calls ``append`` (cheap: it only adds bytes to the pending batch) and moves
on. The writer thread takes everything pending, writes it with one ``write`` and makes
it durable with one ``fdatasync``; meanwhile the next batch accumulates. Only then does
it report the new durable seq (``on_durable``), which is what releases replies and
events: the commit line. A failed write or fsync is fatal (the page cache state after a
failed fsync is unknown), and so is losing the leader lease: the writer refuses to write
for a stale epoch.
"""

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from exchange_core.adapters.wal_frame import RecordType
from exchange_core.adapters.wal_segment import (
    fsync_dir,
    header_frame,
    list_segments,
    scan_segment,
    segment_name,
)

log = logging.getLogger(__name__)
_COMMAND_TYPES = (RecordType.COMMAND, RecordType.COMMAND_BATCH)

FsyncObserver = Callable[[float, int, int], None]
"""(fsync seconds, commands in the batch, bytes in the batch)."""


class WalClosedError(Exception):
    """The writer stopped (fenced, failed or closed): nothing more can be appended."""


class WalWriter:
    def __init__(
        self,
        wal_dir: Path,
        *,
        shard_id: str,
        next_seq: int,
        epoch: int,
        on_durable: Callable[[int], None],
        is_fence_valid: Callable[[], bool] = lambda: True,
        on_stop: Callable[[str], None] = lambda reason: None,
        observe_fsync: FsyncObserver = lambda seconds, commands, size: None,
        segment_max_bytes: int = 64 * 1024 * 1024,
        max_pending_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self._dir = wal_dir
        self._shard_id = shard_id
        self._epoch = epoch
        self._on_durable = on_durable
        self._is_fence_valid = is_fence_valid
        self._on_stop = on_stop
        self._observe = observe_fsync
        self._segment_max_bytes = segment_max_bytes
        self._max_pending_bytes = max_pending_bytes
        self._cond = threading.Condition()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._pending_commands = 0
        self._pending_last_seq = next_seq - 1
        self._durable_seq = next_seq - 1
        self._stop_reason: str | None = None
        self._closing = False
        self._fd = self._open_segment(next_seq)
        self._segment_bytes = 0
        self._thread = threading.Thread(target=self._run, name="wal-writer", daemon=True)

    # -- sequencer side ------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def append(self, seq: int, frames: bytes, *, commands: int = 1) -> None:
        """Queue the frames of command ``seq`` (or a record after it) for the next fsync."""
        with self._cond:
            while self._pending_bytes >= self._max_pending_bytes and self._stop_reason is None:
                self._cond.wait()  # backpressure: the disk is the bottleneck
            if self._stop_reason is not None or self._closing:
                raise WalClosedError(self._stop_reason or "closing")
            self._pending.append(frames)
            self._pending_bytes += len(frames)
            self._pending_commands += commands
            self._pending_last_seq = seq
            if len(self._pending) == 1:
                self._cond.notify_all()

    @property
    def durable_seq(self) -> int:
        return self._durable_seq

    @property
    def stop_reason(self) -> str | None:
        return self._stop_reason

    def close(self, timeout_s: float = 10.0) -> None:
        """Write and fsync what is pending, then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # -- writer thread -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:
                    return
                batch, last_seq = self._pending, self._pending_last_seq
                commands = self._pending_commands
                self._pending, self._pending_bytes, self._pending_commands = [], 0, 0
                self._cond.notify_all()
            if not self._is_fence_valid():
                self._stop("leader lease lost: refusing to append for a stale epoch")
                return
            try:
                self._write_batch(batch, commands)
            except OSError as exc:
                self._stop(f"WAL write failed: {exc}")
                return
            self._durable_seq = last_seq
            self._on_durable(last_seq)
            if self._segment_bytes >= self._segment_max_bytes:
                try:
                    self._rotate(last_seq + 1)
                except OSError as exc:
                    self._stop(f"WAL rotation failed: {exc}")
                    return

    def _write_batch(self, batch: list[bytes], commands: int) -> None:
        data = b"".join(batch)
        started = time.perf_counter()
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fdatasync(self._fd)
        self._segment_bytes += len(data)
        self._observe(time.perf_counter() - started, commands, len(data))

    def _stop(self, reason: str) -> None:
        log.error("WAL writer stopped: %s", reason)
        with self._cond:
            self._stop_reason = reason
            self._cond.notify_all()
        self._on_stop(reason)

    def _rotate(self, next_seq: int) -> None:
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = self._open_segment(next_seq)
        self._segment_bytes = 0

    def _open_segment(self, first_seq: int) -> int:
        path = self._dir / segment_name(first_seq)
        if path.exists():
            # Same first seq: the previous run wrote no command into it. Start it afresh.
            scan = scan_segment(path, is_last=True)
            if any(f.record_type in _COMMAND_TYPES for f in scan.frames):
                raise RuntimeError(f"{path} already holds commands; refusing to overwrite")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        header = header_frame(self._shard_id, first_seq, self._epoch)
        os.write(fd, header)
        os.fsync(fd)
        fsync_dir(self._dir)
        return fd


def newest_segment(wal_dir: Path) -> Path | None:
    segments = list_segments(wal_dir)
    return segments[-1] if segments else None
