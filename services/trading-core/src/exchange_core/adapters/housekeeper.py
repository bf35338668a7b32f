"""Off the command path: writes snapshots, archives sealed segments, prunes old files.

The engine's image is serialized off the command path: with ``fork_writer`` (serve), in a
forked copy of the process taken at the snapshot's seq, which writes the file under a temp
name and exits while the parent goes on matching (copy-on-write; the parent pays only
for the fork, ~1 ms per 100 MB of heap); otherwise (tests, tools) in ``offer``. A snapshot
is published (renamed to its name) only once the WAL holds its seq durably (a snapshot
must never contain a command a crash could undo). A segment is pruned only when the oldest
snapshot kept, the archive and the outbox cursor all cover it (so recovery can fall back
to any kept snapshot and still find the WAL after it).
"""

import contextlib
import itertools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from exchange.core.v1 import wal_pb2
from exchange_core.adapters.archive import Archive
from exchange_core.adapters.snapshot_store import SNAPSHOT_FORMAT_VERSION, SnapshotStore
from exchange_core.adapters.wal_segment import list_segments, segment_first_seq

log = logging.getLogger(__name__)


class Housekeeper:
    def __init__(
        self,
        *,
        shard_id: str,
        store: SnapshotStore,
        wal_dir: Path,
        durable_seq: Callable[[], int],
        balance_positions: Callable[[], dict[int, int]],
        outbox_cursor: Callable[[], int | None],
        archive: Archive | None,
        snapshots_kept: int,
        prune_wal: bool,
        observe_write: Callable[[float], None] = lambda seconds: None,
        interval_s: float = 1.0,
        fork_writer: bool = False,
    ) -> None:
        self._shard_id = shard_id
        self._store = store
        self._wal_dir = wal_dir
        self._durable_seq = durable_seq
        self._positions = balance_positions
        self._outbox_cursor = outbox_cursor
        self._archive = archive
        self._kept = snapshots_kept
        self._prune_wal = prune_wal
        self._observe_write = observe_write
        self._interval_s = interval_s
        self._fork = fork_writer
        self._job: _Job | None = None
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="housekeeper", daemon=True)

    def start(self) -> None:
        for stray in self._store.directory.glob("*.tmp"):  # writers of a killed core
            stray.unlink(missing_ok=True)
        self._thread.start()

    def offer(self, seq: int, state_hash: str, image: Callable[[], bytes], epoch: int) -> bool:
        """SnapshotSink: one snapshot at a time (False while the previous is pending).
        Called on the command path, between commands: ``image`` is called now (in
        process) or in a forked copy of the process as it is now."""
        with self._cond:
            if self._job is not None:
                return False
        header = wal_pb2.SnapshotHeader(
            format_version=SNAPSHOT_FORMAT_VERSION, shard_id=self._shard_id, seq=seq,
            state_hash=bytes.fromhex(state_hash), epoch=epoch,
            created_ts_ns=time.time_ns(), balance_offsets=self._positions(),
        )
        job = _Job(header, time.perf_counter())
        if self._fork:
            job.pid = _fork_writer(self._store, header, image)
        else:
            job.image = image()
        with self._cond:
            self._job = job
            self._cond.notify_all()
        return True

    def busy(self) -> bool:
        """Is a snapshot still being serialized or waiting to be published?"""
        with self._cond:
            return self._job is not None

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish a pending snapshot (if its seq is durable), then stop."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._job is None and not self._stopping:
                    self._cond.wait(self._interval_s)
                job, stopping = self._job, self._stopping
            if job is not None and job.pid and not self._reaped(job):
                job = None  # the forked writer failed: no snapshot this time
            if job is not None and self._durable_seq() >= job.header.seq:
                self._write(job)
            if stopping and (job is None or self._durable_seq() < job.header.seq):
                return
            if job is not None and self._durable_seq() < job.header.seq:
                time.sleep(0.001)  # its group commit is under way
                continue
            try:
                self._archive_and_prune()
            except Exception as exc:  # the object store is down: retry next round
                log.warning("archive/prune failed (will retry): %s", exc)

    def _reaped(self, job: "_Job") -> bool:
        """Wait for the forked writer of ``job`` (this thread only); True if it wrote its
        temp file. A failure is logged and the job dropped."""
        if job.temp is not None:
            return True
        _, status = os.waitpid(job.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        temp = self._store.temp_path(job.header.seq, job.pid)
        if code == 0 and temp.exists():
            job.temp = temp
            return True
        log.error("snapshot writer (pid %d) for seq %d failed with %d", job.pid,
                  job.header.seq, code)
        temp.unlink(missing_ok=True)
        with self._cond:
            self._job = None
        return False

    def _write(self, job: "_Job") -> None:
        try:
            if job.temp is not None:
                path = self._store.publish(job.temp)
            else:
                path = self._store.write(job.header, job.image or b"")
            self._observe_write(time.perf_counter() - job.started)
            log.info("snapshot written: %s", path.name)
        except OSError as exc:
            log.error("snapshot write failed: %s", exc)
        with self._cond:
            self._job = None

    def _archive_and_prune(self) -> None:
        segments = list_segments(self._wal_dir)
        sealed = segments[:-1]  # the newest is the one being written
        if self._archive is not None:
            for path in sealed:
                self._archive.upload_segment(path)
            for snap in self._store.paths():
                self._archive.upload_snapshot(snap)
        self._prune(segments)

    def _prune(self, segments: list[Path]) -> None:
        snapshots = self._store.paths()
        if not snapshots or not self._prune_wal:
            return
        # Covered from the oldest snapshot kept, not the newest: recovery falls back to an
        # older snapshot when a newer one is unusable, and then needs the WAL after it.
        covered = int(snapshots[-self._kept:][0].name[5:25])
        cursor = self._outbox_cursor()
        if cursor is not None:
            covered = min(covered, cursor)
        removed: list[str] = []
        for path, following in itertools.pairwise(segments):
            last_seq = (segment_first_seq(following) or 1) - 1
            archived = self._archive is None or self._archive.is_archived(path)
            if last_seq > covered or not archived:
                break  # prune a prefix only: the WAL left on disk has no hole
            path.unlink(missing_ok=True)
            removed.append(path.name)
        kept = self._store.paths()[-self._kept:]
        for snap in self._store.paths():
            if snap not in kept and (self._archive is None or self._archive.is_archived(snap)):
                snap.unlink(missing_ok=True)
                removed.append(snap.name)
        if removed:
            log.info("pruned %s", ", ".join(removed))
            if self._archive is not None:
                self._archive.forget(removed)


class _Job:
    """One snapshot on its way: serialized in process (``image``) or by a forked writer
    (``pid``; ``temp`` once it has written its file)."""

    def __init__(self, header: wal_pb2.SnapshotHeader, started: float) -> None:
        self.header = header
        self.started = started
        self.image: bytes | None = None
        self.pid = 0
        self.temp: Path | None = None


def _fork_writer(store: SnapshotStore, header: wal_pb2.SnapshotHeader,
                 image: Callable[[], bytes]) -> int:
    """Fork; the child serializes the engine as it was at the fork, writes the snapshot
    under its temp name (fsync'd) and exits. The child runs no other thread and touches
    nothing but the engine and its file; it leaves without cleanup (``os._exit``)."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        with contextlib.suppress(ValueError):  # only possible from the main thread
            signal.set_wakeup_fd(-1)  # a signal here must not wake the parent's loop
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
        store.write_temp(header, image())
        code = 0
    finally:
        os._exit(code)
