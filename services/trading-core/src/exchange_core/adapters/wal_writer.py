"""The WAL writer: one thread, group commit, segment rotation.

The sequencer calls ``append`` (cheap: it only adds bytes to the pending batch) and moves
on. The writer thread takes everything pending, writes it with one ``write`` and makes
it durable with one ``fdatasync``; meanwhile the next batch accumulates. Only then does
it report the new durable seq (``on_durable``), which is what releases replies and
events: the commit line. A failed write or fsync is fatal (the page cache state after a
failed fsync is unknown), and so is losing the leader lease: the writer refuses to write
for a stale epoch, and checks the lease again once the fsync returns (a lease that ran
out during a stalled write releases nothing).

Preallocation (``preallocate=True``, what ``serve`` runs): a segment is a file of zeros
of the full segment size, written and fsync'd before the first record goes in, and
records overwrite the zeros in place. An ``fdatasync`` then flushes data blocks only: the
file's size and block map do not change, so there is no filesystem journal commit per
group commit (about half the fsync time here, docs/adr). The next segment's file is
prepared by a helper thread while the current one fills (``wal-spare.tmp``; not a segment
name, so no reader sees it) and renamed into place at rotation. A sealed segment is cut
to its last frame before the next one is created, and ``close`` cuts the newest one: only
a crash leaves zeros after the last frame, and only in the newest segment, where
recovery reads them as the end of the log (``wal_segment.scan_segment``).
"""

import contextlib
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
SPARE_NAME = "wal-spare.tmp"  # the next segment's preallocated file (not a segment name)
_SLACK_BYTES = 1024 * 1024
_FILL_BLOCK = 1024 * 1024
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
        preallocate: bool = False,
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
        self._preallocate = preallocate
        self._spare_path = wal_dir / SPARE_NAME
        self._spare_thread: threading.Thread | None = None
        self._segment_end = 0  # file offset after the last frame of the current segment
        if preallocate:
            (wal_dir / (SPARE_NAME + ".partial")).unlink(missing_ok=True)
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
            wake = len(self._pending) == 1
            if wake:
                self._cond.notify_all()
        if wake:
            # Hand the GIL over: the writer thread, just woken, needs it to start the
            # write + fsync, and would otherwise wait for the caller's next blocking call
            # or the switch interval (up to 1 ms) before the disk starts working.
            time.sleep(0)

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
            if self._preallocate and not self._thread.is_alive():
                # Only what was fsync'd stays: the unused zeros (and a batch whose write
                # failed, never acknowledged) are cut, so the segment ends at its last frame.
                with contextlib.suppress(OSError):
                    self._seal(self._fd)
            os.close(self._fd)
            self._fd = -1
        spare = self._spare_thread
        if spare is not None:
            spare.join(timeout_s)

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
            if not self._is_fence_valid():
                # The lease ran out during the write and fsync (a stall, a pause): the
                # records are on disk, but a newer leader may already be serving, so
                # nothing of them is acknowledged or published from here.
                self._stop("leader lease lost during the write: its records are not "
                           "released")
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
        offset = self._segment_end
        while view:
            written = os.pwrite(self._fd, view, offset)
            view = view[written:]
            offset += written
        os.fdatasync(self._fd)
        self._segment_end = offset
        self._segment_bytes += len(data)
        self._observe(time.perf_counter() - started, commands, len(data))

    def _stop(self, reason: str) -> None:
        log.error("WAL writer stopped: %s", reason)
        with self._cond:
            self._stop_reason = reason
            self._cond.notify_all()
        self._on_stop(reason)

    def _rotate(self, next_seq: int) -> None:
        self._seal(self._fd)  # before the next segment exists: only the newest has zeros
        os.close(self._fd)
        self._fd = self._open_segment(next_seq)
        self._segment_bytes = 0

    def _seal(self, fd: int) -> None:
        if self._preallocate:
            os.ftruncate(fd, self._segment_end)
        os.fsync(fd)

    def _open_segment(self, first_seq: int) -> int:
        path = self._dir / segment_name(first_seq)
        if path.exists():
            # Same first seq: the previous run wrote no command into it. Start it afresh.
            scan = scan_segment(path, is_last=True)
            if any(f.record_type in _COMMAND_TYPES for f in scan.frames):
                raise RuntimeError(f"{path} already holds commands; refusing to overwrite")
        if self._preallocate and self._take_spare():
            os.replace(self._spare_path, path)
            fd = os.open(path, os.O_WRONLY)
        else:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            if self._preallocate:
                zero_fill(fd, self._preallocated_bytes())
        header = header_frame(self._shard_id, first_seq, self._epoch)
        os.pwrite(fd, header, 0)
        os.fsync(fd)
        fsync_dir(self._dir)
        self._segment_end = len(header)
        if self._preallocate:
            self._prepare_spare()
        return fd

    def _preallocated_bytes(self) -> int:
        # Room for the batch that crosses the rotation size, usually well under 1 MiB.
        return self._segment_max_bytes + _SLACK_BYTES

    def _take_spare(self) -> bool:
        """Is a complete spare ready? (Never waits: a spare still being written is left
        to finish, and this segment is zero-filled in place instead.)"""
        thread = self._spare_thread
        if thread is not None:
            if thread.is_alive():
                return False
            self._spare_thread = None
        try:
            return os.path.getsize(self._spare_path) == self._preallocated_bytes()
        except OSError:
            return False

    def _prepare_spare(self) -> None:
        if self._spare_thread is not None or self._take_spare():
            return
        thread = threading.Thread(target=self._write_spare, name="wal-spare", daemon=True)
        self._spare_thread = thread
        thread.start()

    def _write_spare(self) -> None:
        """Off the writer thread: zeros, fsync'd, then renamed to the spare's name (a
        spare under that name is always complete)."""
        partial = self._dir / (SPARE_NAME + ".partial")
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                zero_fill(fd, self._preallocated_bytes())
            finally:
                os.close(fd)
            os.replace(partial, self._spare_path)
        except OSError as exc:  # the next segment is zero-filled in place instead
            log.warning("WAL spare segment not prepared: %s", exc)


def zero_fill(fd: int, size: int) -> None:
    """Write ``size`` bytes of zeros from offset 0 and fsync (blocks allocated, size set)."""
    block = bytes(_FILL_BLOCK)
    offset = 0
    while offset < size:
        offset += os.pwrite(fd, block[: min(_FILL_BLOCK, size - offset)], offset)
    os.fsync(fd)


def newest_segment(wal_dir: Path) -> Path | None:
    segments = list_segments(wal_dir)
    return segments[-1] if segments else None
